"""Two writers never corrupt a library, a half-written article is never shown, and a broken store
is an error rather than an empty library: real `newsbot` processes on one data folder or one
`chroma run` server, a `newsbot run` against the loopback Discord, an in-process bot whose Chroma
server goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from retrieval.answer.citations import NOT_FOUND
from retrieval.models import Article, IngestStatus
from retrieval.store.folder_lock import LOCK_FILE, lock_folder
from retrieval.store.owners import Owner
from tests.bot_fixtures import BOB, CHAN_A, GUILD_A, bot_settings, content_of, ephemeral_text, running_bot
from tests.conftest import OFFLINE_DIR
from tests.processes import NEWSBOT, chroma_run, free_port, newsbot, newsbot_run, stop, wait_connected

LIB_A = f"guild-{GUILD_A}"


def chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False)  # a fresh one each time: HttpClient changes the one it gets


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A `newsbot` process of its own: data and HOME in ``tmp_path``, the offline files of this run."""
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "no-seed").mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_SEED_DIR": str(tmp_path / "no-seed"),
        "NEWSBOT_OFFLINE_DIR": str(OFFLINE_DIR),
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", str(OFFLINE_DIR / "tiktoken-cache")),
        "ANONYMIZED_TELEMETRY": "False",
        **extra,
    }


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``newsbot ARGS`` started in a process of its own (``finish`` waits for it)."""
    return subprocess.Popen([NEWSBOT, *args], env=env, cwd=env["HOME"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cli(args: list[str], env: dict[str, str], timeout: float = 300):
    """``newsbot ARGS`` run to completion in the ``cli_env`` home."""
    return newsbot(args, env, Path(env["HOME"]), timeout=timeout)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_until(condition: Callable[[], object], timeout: float = 90, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def write_articles(folder: Path, name: str, count: int, sentences: int) -> Path:
    """``count`` JSON articles about ``name`` Works, each with one fact of its own and filler."""
    folder.mkdir(parents=True)
    for i in range(count):
        lead = f"{name} Works opened its plant number {i} in Port Elspeth on 3 March 2024 with {40 + i} staff."
        filler = " ".join(
            f"{name} Works line {j} shipped {(i * 31 + j * 7) % 97} crates of valves in week {j % 52}." for j in range(sentences)
        )
        story = {"title": f"{name} Works report {i}", "url": f"https://news.example/{name}/{i}", "source": "Ledger News",
                 "published": "2024-05-01", "body": f"{lead} {filler}"}
        (folder / f"{name}-{i}.json").write_text(json.dumps(story))
    return folder


def added_chunks(out: str) -> int:
    """Chunks the `newsbot add` output reports as added (lines "added  id  title  (N chunks)")."""
    return sum(int(line.rsplit("(", 1)[1].split()[0]) for line in out.splitlines() if line.startswith("added"))


def lock_holder(chroma: Path) -> int | None:
    try:
        return json.loads((chroma / LOCK_FILE).read_text() or "{}").get("pid")
    except (OSError, ValueError):
        return None


def vectors_of(client, library: str = "default") -> tuple[int, int]:
    """(chunks, chunks with a vector) of a library, read in one ``get`` over all its ids."""
    col = client.get_collection("newsbot-" + library, embedding_function=None)
    ids = col.get(include=[])["ids"]
    got = col.get(ids=ids, include=["embeddings"])  # "Error finding id" on a corrupted folder
    return len(ids), sum(1 for v in got["embeddings"] if v is not None and len(v))


def folder_vectors(chroma: Path, library: str = "default") -> tuple[int, int]:
    client = chromadb.PersistentClient(path=str(chroma), settings=chroma_settings())
    try:
        return vectors_of(client, library)
    finally:
        client.close()


# -- one process per embedded folder ------------------------------------------------------------
@pytest.mark.parametrize("same", [False, True], ids=["different-folders", "same-folder"])
def test_two_adds_at_once_on_one_data_folder_both_end_well_and_keep_every_vector(tmp_path, same):
    env = cli_env(tmp_path)
    chroma = tmp_path / "data" / "chroma"
    first = write_articles(tmp_path / "first", "Orrin", 6, 90)
    second = first if same else write_articles(tmp_path / "second", "Tallow", 3, 60)
    a = start(["add", str(first)], env)
    wait_until(lambda: lock_holder(chroma) == a.pid, what="the first add to hold the folder")
    b = start(["add", str(second)], env)
    code_a, out_a, err_a = finish(a)
    code_b, out_b, err_b = finish(b)
    assert code_a == 0 and code_b == 0, err_a + err_b
    assert err_b.count(f"Waiting for `newsbot add` (pid {a.pid}) to finish with {chroma}") == 1
    expected = added_chunks(out_a) + added_chunks(out_b)
    if same:
        assert added_chunks(out_b) == 0 and out_b.count("unchanged") == 6
    assert folder_vectors(chroma) == (expected, expected)
    stats = cli(["stats"], env)
    assert stats.out.startswith(f"library default: {6 if same else 9} articles, {expected} chunks"), stats.err
    asked = cli(["ask", "When did Orrin Works open plant number 4 in Port Elspeth?"], env)
    assert asked.code == 0 and "Orrin Works report 4" in asked.out, asked.err


async def test_an_add_while_the_bot_holds_the_folder_is_refused_at_once_with_one_line(fake, tmp_path):
    env = cli_env(tmp_path)
    chroma = tmp_path / "data" / "chroma"
    bot_env = {**env, "DISCORD_TOKEN": fake.token, "DISCORD_API_BASE": fake.api_base,
               "DISCORD_GATEWAY_URL": fake.gateway_url, "NEWSBOT_LLM_DISABLED": "1"}
    async with newsbot_run(bot_env, tmp_path, tmp_path / "bot.log") as bot:
        await wait_connected(fake, bot, timeout=90)
        assert lock_holder(chroma) == bot.proc.pid  # held from before it connects
        story = write_articles(tmp_path / "story", "Orrin", 1, 3)
        began = time.monotonic()
        added = await asyncio.to_thread(cli, ["add", str(story)], env)
        took = time.monotonic() - began
        code = await stop(bot, signal.SIGTERM, timeout=30)
    assert added.code == 1 and added.out == ""
    assert added.err.strip().splitlines() == [
        f"newsbot: The library folder {chroma} is in use by `newsbot run` (pid {bot.proc.pid}). Add articles through "
        f"Discord (/add), or stop the bot first, or serve the folder with `chroma run --path {chroma}` and set "
        "CHROMA_HOST so several processes can share it."
    ]
    assert took < 30  # refused at once: it does not wait for a bot that runs until stopped
    assert code == 0, bot.text()


def test_a_process_that_finds_another_command_holding_the_folder_waits_and_says_so_once(tmp_path):
    """What the bot does at start while a CLI command holds the folder (it logs the line)."""
    folder = tmp_path / "chroma"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from retrieval.store.folder_lock import lock_folder; "
         "from retrieval.store.owners import Owner; lock_folder(Path(sys.argv[1]), Owner('newsbot add')); "
         "print('held', flush=True); time.sleep(1.5)", str(folder)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    told: list[str] = []
    lock = lock_folder(folder, Owner("newsbot run", lasting=True), told.append, poll=0.05)
    try:
        assert holder.poll() is not None  # it waited for the holder to end
        assert told == [f"Waiting for `newsbot add` (pid {holder.pid}) to finish with {folder}…"]
        assert lock_holder(folder) == os.getpid()
    finally:
        lock.release()
        holder.wait()


# -- one writer per library on a Chroma server ------------------------------------------------
def server_env(tmp_path: Path, host: str, port: int, **extra: str) -> dict[str, str]:
    return cli_env(tmp_path, CHROMA_HOST=host, CHROMA_PORT=str(port), **extra)


def lease_of(client, library: str):
    return next((c for c in client.list_collections() if c.name == f"newsbot-lock--{library}"), None)


def test_two_writers_on_one_chroma_server_take_turns_and_nothing_is_lost_or_doubled(chroma_server, tmp_path):
    host, port = chroma_server
    library = "lease-turns"  # the server is shared with other tests
    env = server_env(tmp_path, host, port)
    client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings())
    big = write_articles(tmp_path / "big", "Orrin", 8, 100)
    both = write_articles(tmp_path / "both", "Tallow", 2, 40)
    for story in big.iterdir():  # the second writer adds the first one's articles too, and two of its own
        (both / story.name).write_text(story.read_text())
    try:
        a = start(["add", "--library", library, str(big)], env)
        wait_until(lambda: lease_of(client, library), what="the first writer's lease")
        b = start(["add", "--library", library, str(both)], env)
        code_a, out_a, err_a = finish(a)
        code_b, out_b, err_b = finish(b)
        assert code_a == 0 and code_b == 0, err_a + err_b
        assert err_b.count(f"Waiting for `newsbot add` (pid {a.pid}) to finish with library '{library}'") == 1
        assert out_b.count("unchanged") == 8 and out_b.count("added") == 2  # it saw the first writer's articles
        expected = added_chunks(out_a) + added_chunks(out_b)
        assert vectors_of(client, library) == (expected, expected)
        assert lease_of(client, library) is None
        stats = cli(["stats", "--library", library], env)
        assert stats.out.startswith(f"library {library}: 10 articles, {expected} chunks"), stats.err
    finally:
        with contextlib.suppress(Exception):
            client.delete_collection(f"newsbot-{library}")
        client.close()


def test_a_lease_left_by_a_killed_writer_is_taken_over_once_it_expires(chroma_server, tmp_path):
    host, port = chroma_server
    library = "lease-takeover"
    lease = 12.0  # renewed every 4 s
    env = server_env(tmp_path, host, port, NEWSBOT_WRITE_LEASE_SECONDS=str(lease))
    client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings())
    try:
        a = start(["add", "--library", library, str(write_articles(tmp_path / "big", "Orrin", 8, 100))], env)
        wait_until(lambda: lease_of(client, library), what="the first writer's lease")
        a.send_signal(signal.SIGKILL)  # no release: its lease stays until it expires
        a.wait()
        killed = time.monotonic()
        assert lease_of(client, library) is not None
        small = write_articles(tmp_path / "small", "Tallow", 1, 5)
        code, out, err = finish(start(["add", "--library", library, str(small)], env))
        waited = time.monotonic() - killed
        assert code == 0 and out.startswith("added"), err
        assert f"Took over the expired write lease of library '{library}' from `newsbot add` (pid {a.pid})" in err
        # not before it expired: at least the lease less one renewal interval after the kill
        assert lease * 2 / 3 <= waited < 90, waited
        assert lease_of(client, library) is None
        assert not [c.name for c in client.list_collections() if c.name.startswith(f"newsbot-lock--{library}")]
    finally:
        with contextlib.suppress(Exception):
            client.delete_collection(f"newsbot-{library}")
        client.close()


# -- a half-written article is never shown -----------------------------------------------------
def stored_in(chroma: Path) -> int:
    """Chunks Chroma has stored so far, read from its SQLite file without opening the folder."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{chroma / 'chroma.sqlite3'}?mode=ro", uri=True, timeout=0.05)) as db:
            return db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.timeout(300)  # six newsbot processes, one of them writing ~130 chunks twice
def test_an_add_killed_mid_write_shows_nothing_of_the_article_until_it_is_run_again(tmp_path):
    env = cli_env(tmp_path)
    chroma = tmp_path / "data" / "chroma"
    story = write_articles(tmp_path / "ledger", "Zephyrine", 1, 900)  # ~130 chunks
    add = start(["add", str(story)], env)
    wait_until(lambda: stored_in(chroma) > 0 or add.poll() is not None, timeout=180, what="the first chunks")
    add.send_signal(signal.SIGKILL)
    add.wait()
    partial = stored_in(chroma)
    question = ["ask", "When did Zephyrine Works open plant number 0 in Port Elspeth?"]

    listed, stats, asked = cli(["list"], env), cli(["stats"], env), cli(question, env)
    assert listed.out.strip() == "Library 'default' is empty.", listed.err
    assert stats.out.startswith("library default: 0 articles, 0 chunks"), stats.err
    assert asked.out.strip() == NOT_FOUND, asked.err

    again = cli(["add", str(story)], env)
    assert again.code == 0 and again.out.startswith("added"), again.err
    total = added_chunks(again.out)
    assert 0 < partial < total  # the kill did cut the write short
    assert folder_vectors(chroma) == (total, total)
    assert cli(["stats"], env).out.startswith(f"library default: 1 articles, {total} chunks")
    asked = cli(question, env)
    assert "Zephyrine Works report 0" in asked.out, asked.err


# -- a broken store is an error ----------------------------------------------------------------
@pytest.mark.parametrize("command", [["stats"], ["list"], ["ask", "Who opened a plant?"]], ids=lambda c: c[0])
def test_an_unreachable_chroma_server_is_one_line_naming_it_not_an_empty_library(tmp_path, command):
    port = free_port()  # nothing listens there
    done = cli(command, server_env(tmp_path, "127.0.0.1", port))
    assert done.code == 1 and done.out == ""
    (line,) = done.err.strip().splitlines()
    assert line.startswith(f"newsbot: Could not reach the Chroma server at 127.0.0.1:{port}") and "CHROMA_HOST" in line


async def test_the_bot_shows_the_store_error_when_its_chroma_server_goes_away(fake, tmp_path, embedder, encoding):
    server = contextlib.ExitStack()
    # started from this thread, not a worker: the server stops when the thread that started it ends
    host, port = server.enter_context(chroma_run(tmp_path / "served"))
    settings = bot_settings(tmp_path, "http://127.0.0.1:9/v1", llm_disabled=True, chroma_host=host, chroma_port=port)
    try:
        async with running_bot(fake, settings, embedder, encoding) as bot:
            await bot.service.add_text(LIB_A, "Orrin Works opened a plant in Port Elspeth in March 2024.", title="Orrin")
            before = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "stats")
            await fake.wait_for(lambda: "Articles: 1" in content_of(fake, before), timeout=15)
            await asyncio.to_thread(server.close)  # the server stops while the bot runs
            stats = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "stats")
            ask = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": "Who opened a plant?"})
            for rec in (stats, ask):
                await fake.wait_for(lambda r=rec: ephemeral_text(r), timeout=30)
    finally:
        server.close()
    for rec in (stats, ask):
        assert ephemeral_text(rec).startswith(f"Could not reach the Chroma server at {host}:{port}")
        assert "Articles: 0" not in content_of(fake, rec) and "couldn't find" not in content_of(fake, rec)


# -- a data folder newsbot cannot write to -------------------------------------------------------
def unwritable_data_dirs(tmp_path: Path) -> list[Path]:
    """A data folder below a regular file (nothing can be created there, even as root) and, when
    permissions apply to this user, a read-only folder holding a library."""
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    found = [blocker / "newsbot"]
    if os.geteuid() != 0:
        found.append(tmp_path / "read-only")
    return found


def test_a_data_folder_that_cannot_be_written_is_one_line_for_add_ask_and_run(tmp_path):
    story = write_articles(tmp_path / "story", "Orrin", 1, 3)
    for data in unwritable_data_dirs(tmp_path):
        env = cli_env(tmp_path, NEWSBOT_DATA_DIR=str(data))
        if data.name == "read-only":  # a library made earlier, then the folder made read-only
            assert cli(["add", str(story)], env).code == 0
            for folder in (data, data / "chroma"):
                folder.chmod(0o555)
        bot_env = {**env, "DISCORD_TOKEN": "not-a-real-token", "DISCORD_API_BASE": f"http://127.0.0.1:{free_port()}/api/v10"}
        runs = [
            (cli(["add", str(story)], env), "newsbot: "),
            (cli(["ask", "Who opened a plant?"], env), "newsbot: "),
            (cli(["run"], bot_env, timeout=120), "newsbot run: "),
        ]
        for done, prefix in runs:
            assert done.code == 1, done.err
            (line,) = done.err.strip().splitlines()
            assert line.startswith(f"{prefix}The data folder {data}") and "is not writable" in line, line
            assert "NEWSBOT_DATA_DIR" in line and "Traceback" not in done.err


# -- in one process ------------------------------------------------------------------------------
def test_two_adds_of_one_article_in_one_process_queue_instead_of_racing(service):
    body = "Orrin Works opened a plant in Port Elspeth. " * 30
    article = Article(title="Orrin opens plant", body=body, url="https://news.example/o")
    together = threading.Barrier(2)

    def add() -> IngestStatus:
        together.wait()
        return service.ingest("default", [article])[0].status

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(lambda _: add(), range(2)))
    assert sorted(statuses) == [IngestStatus.ADDED, IngestStatus.UNCHANGED]
    assert service.store.count("default") == len(service.ingestor.chunk(article))


def test_an_incomplete_version_is_hidden_and_a_library_from_before_counts_as_complete(service, embedder):
    old = Article(title="Tallow Foods report", body="Tallow Foods opened a bakery in Port Elspeth in 2021. " * 3)
    lines = (f"Orrin Works line {i} shipped {i} valves to Port Elspeth." for i in range(120))
    new = Article(title="Orrin Works report", body=" ".join(lines))
    legacy = [c.__class__(c.id, c.source, c.position, c.text, c.content_hash) for c in service.ingestor.chunk(old)]  # no parts
    chunks = service.ingestor.chunk(new)
    assert legacy[0].parts == 0 and len(chunks) > 3 and chunks[0].parts == len(chunks)
    service.store.add("default", legacy, embedder.embed_batch([c.embed_text for c in legacy]))
    service.store.add("default", chunks[:3], embedder.embed_batch([c.embed_text for c in chunks[:3]]))  # cut short

    rows, total = asyncio.run(service.list_articles("default"))
    assert [r.source.title for r in rows] == ["Tallow Foods report"] and total == 1
    stats = asyncio.run(service.stats("default"))
    assert (stats.articles, stats.chunks) == (1, len(legacy))
    found = service.search("default", "Orrin Works line 1 valves Port Elspeth")
    assert {p.source.title for p in found} <= {"Tallow Foods report"}

    assert service.ingest("default", [new])[0].status is IngestStatus.ADDED  # the missing chunks are written
    assert service.store.count("default") == len(legacy) + len(chunks)
    assert service.search("default", "Orrin Works line 1 valves")[0].source.title == "Orrin Works report"
    assert asyncio.run(service.stats("default")).articles == 2
