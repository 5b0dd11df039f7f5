"""The installed ``newsbot`` console script, run as users run it: each command in a process of its
own, with the settings' defaults (no NEWSBOT_/CHROMA_/OPENAI_/DISCORD_ variable but the bot's
token and the loopback Discord's addresses; HOME, and so the default data and cache folders, in a
temp folder; the working directory an unrelated folder without ``.env``)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import pytest

from bot.render import SOURCES_HEADER
from tests.bot_fixtures import (
    BIOSYNGEN,
    BOB,
    CAROL,
    CHAN_A,
    DATA,
    GUILD_A,
    Q_VISIT,
    content_of,
    ephemeral_text,
    wait_answer,
    wait_response,
)
from tests.fakes import FakeOpenAIServer
from tests.processes import (
    Result,
    discord_env,
    newsbot,
    newsbot_run,
    on_a_terminal,
    stop,
    thread_nices,
    user_env,
    wait_connected,
)


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def elsewhere(tmp_path):
    """An unrelated working directory (no .env)."""
    (tmp_path / "cwd").mkdir()
    return tmp_path / "cwd"


async def test_newsbot_run_on_its_defaults_adds_answers_and_stops_on_sigint(fake, home, elsewhere, tmp_path):
    async with newsbot_run(discord_env(fake, home), elsewhere, tmp_path / "run.log") as bot:
        await wait_connected(fake, bot)
        options = {k: BIOSYNGEN[k] for k in ("title", "published", "source")} | {"text": BIOSYNGEN["body"]}
        added = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", options)  # Carol: Manage Server
        await fake.wait_for(lambda: content_of(fake, added).startswith("**") or ephemeral_text(added), timeout=120)
        nices = thread_nices(bot.proc.pid)
        asked = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, asked, timeout=60)
        stats = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "stats")
        await wait_response(fake, stats, "edit_original", timeout=30)
        code = await stop(bot, signal.SIGINT)
    log = bot.text()
    assert content_of(fake, added).startswith("**1 article**"), ephemeral_text(added)
    answer, sources = final.content.split(SOURCES_HEADER)
    text, note = answer.strip().split("\n\n")
    assert text.endswith("[1].") and "Loh Tuck Keat" in text
    assert note == "-# No LLM is configured, so this answer quotes the articles directly."
    # /add text has no URL option: the source line names the title, publisher and date
    assert sources.strip() == f"[1] {BIOSYNGEN['title']} — {BIOSYNGEN['source']}, {BIOSYNGEN['published']}"
    assert "Articles: 1" in fake.find_message(stats.original_message_id).content
    assert code == 0, log
    assert "SIGINT received; shutting down" in log and "Traceback" not in log
    assert fake.token not in log
    assert not fake.gateway.ready_sessions and fake.rejections == []
    # the default folders, under HOME
    data = home / ".local" / "share" / "newsbot"
    assert (data / "chroma" / "chroma.sqlite3").is_file() and (data / "votes.sqlite3").is_file()
    if sys.platform.startswith("linux"):  # the loop's workers run niced (+5), article embedding below them (+10)
        main_nice = nices[bot.proc.pid][0]
        workers = [nice for tid, (nice, _) in nices.items() if tid != bot.proc.pid and nice == min(19, main_nice + 5)]
        ingest = [cpu for nice, cpu in nices.values() if nice == min(19, main_nice + 5 + 10)]
        assert workers and ingest and max(ingest) > 0, nices


async def test_newsbot_run_with_a_refused_token_stops_with_one_line_and_exit_2(fake, home, elsewhere, tmp_path):
    env = discord_env(fake, home) | {"DISCORD_TOKEN": "not-the-bots-token"}
    async with newsbot_run(env, elsewhere, tmp_path / "run.log") as bot:
        code = await asyncio.wait_for(bot.proc.wait(), 120)
    lines = bot.text().strip().splitlines()
    assert code == 2 and lines[-1] == (
        "newsbot run: Discord refused the token (DISCORD_TOKEN); check it in the developer portal."
    ), bot.text()
    assert "Traceback" not in bot.text() and "not-the-bots-token" not in bot.text()


async def test_newsbot_run_without_the_message_content_intent_says_where_to_enable_it(fake, home, elsewhere, tmp_path):
    fake.gateway.enabled_privileged_intents = 0  # the intent is off in the developer portal
    async with newsbot_run(discord_env(fake, home), elsewhere, tmp_path / "run.log") as bot:
        code = await asyncio.wait_for(bot.proc.wait(), 120)
    lines = bot.text().strip().splitlines()
    assert code == 2 and lines[-1] == (
        "newsbot run: enable the Message Content intent for the bot in the Discord developer portal."
    ), bot.text()
    assert "Traceback" not in bot.text() and fake.token not in bot.text()


# -- the library commands: one HOME for the module, a library of its own for each test unless the
# test is about the default one.
@pytest.fixture(scope="module")
def user(tmp_path_factory) -> tuple[Path, Path]:
    """(HOME, working directory) of a user who has just installed newsbot."""
    base = tmp_path_factory.mktemp("user")
    (base / "home").mkdir()
    (base / "cwd").mkdir()
    return base / "home", base / "cwd"


def cli(user: tuple[Path, Path], *args: str, stdin: bytes | None = None) -> Result:
    home, cwd = user
    return newsbot(list(args), user_env(home, COLUMNS="300"), cwd, stdin=stdin)  # wide: list's rows unwrapped


def listed(out: str) -> dict[str, str]:
    """``newsbot list``: article id -> the rest of its row."""
    return dict(re.findall(r"^([a-z][0-9a-f]{16})\s+(.*)$", out, re.M))


def test_the_first_ask_adds_the_bundled_articles_and_answers_with_the_source(user):
    home, _ = user
    asked = cli(user, "ask", "Who visited Biosyngen?")
    assert asked.code == 0, asked.err
    answer, sources = asked.out.split("\nSources:\n")
    assert "Loh Tuck Keat" in answer.split("\n")[0] and "[1]" in answer.split("\n")[0]
    lines = sources.splitlines()
    assert lines[:2] == [f"[1] {BIOSYNGEN['title']} — GeneOnline, 2022-05-28", f"    {BIOSYNGEN['url']}"]
    stats = cli(user, "stats")
    bundled = len(list(DATA.glob("*.json")))
    assert re.fullmatch(rf"library default: {bundled} articles, \d+ chunks, embedder all-MiniLM-L6-v2\n", stats.out)
    assert (home / ".local" / "share" / "newsbot" / "chroma" / "chroma.sqlite3").is_file()


def test_add_reads_a_file_a_folder_and_stdin_into_the_named_library_only(user, tmp_path):
    story = tmp_path / "story.txt"
    story.write_text("Orrin Mills agreed to buy Tallow Bay Foods for 30 million dollars. " * 3)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.md").write_text("# Quokka Rail opens a depot\n\nQuokka Rail opened a depot in Perth on Monday. " * 2)
    (folder / "b.txt").write_text("Zephyrine Corp shipped twelve turbines to Quokkaville this week. " * 3)
    meta = ["--title", "Orrin Mills buys Tallow Bay", "--published", "2024-02-02", "--source", "Mill Gazette"]
    assert cli(user, "add", str(story), *meta, "--library", "desk").code == 0
    assert cli(user, "add", str(folder), "--library", "desk").code == 0
    piped = b"Harbourline Ferries ordered two electric ferries from Kestrel Yards on Friday. " * 3
    meta = ["--title", "Harbourline orders ferries", "--published", "2025-07-04", "--source", "Ferry News"]
    added = cli(user, "add", "-", *meta, "--library", "desk", stdin=piped)
    assert added.code == 0 and added.out.startswith("added"), added.err
    text = cli(user, "list", "--library", "desk").out
    assert len(listed(text)) == 4
    assert re.search(r"2024-02-02\s+Mill Gazette\s+Orrin Mills buys Tallow Bay\s+\d", text)
    assert re.search(r"2025-07-04\s+Ferry News\s+Harbourline orders ferries\s+\d", text)
    assert "Quokka Rail opens a depot" in text
    asked = cli(user, "ask", "--library", "desk", "Who is buying Tallow Bay Foods?")
    assert "Orrin Mills" in asked.out and "[1] Orrin Mills buys Tallow Bay — Mill Gazette, 2024-02-02" in asked.out
    assert not set(listed(cli(user, "list").out)) & set(listed(text))  # the default library has none of them
    assert cli(user, "stats", "--library", "desk").out.startswith("library desk: 4 articles, ")


def test_remove_takes_an_article_out_and_an_unknown_id_is_one_line(user, tmp_path):
    (tmp_path / "one.txt").write_text("Kestrel Yards launched its first hydrogen tug in Hobart. " * 3)
    (tmp_path / "two.txt").write_text("Mulberry Bank opened four branches in Darwin this spring. " * 3)
    for name in ("one.txt", "two.txt"):
        assert cli(user, "add", str(tmp_path / name), "--library", "removals").code == 0
    before = listed(cli(user, "list", "--library", "removals").out)
    gone = next(i for i, row in before.items() if "Kestrel" in row)
    removed = cli(user, "remove", gone, "--library", "removals")
    assert (removed.code, removed.out.strip()) == (0, f"Removed {gone}.")
    assert set(listed(cli(user, "list", "--library", "removals").out)) == set(before) - {gone}
    again = cli(user, "remove", gone, "--library", "removals")
    assert again.code == 1 and again.out == ""
    assert again.err.strip() == f"newsbot: No article {gone} in library 'removals'. `newsbot list` shows the ids."


def test_stats_and_reindex_count_the_same_chunks_and_the_library_still_answers(user, tmp_path):
    (tmp_path / "plant.txt").write_text("Fernhill Glass opened a solar glass plant in Geelong in March. " * 40)
    assert cli(user, "add", str(tmp_path / "plant.txt"), "--library", "rebuilt").code == 0
    stats = cli(user, "stats", "--library", "rebuilt")
    chunks = int(re.fullmatch(r"library rebuilt: 1 articles, (\d+) chunks, embedder all-MiniLM-L6-v2\n", stats.out)[1])
    rebuilt = cli(user, "reindex", "--library", "rebuilt")
    assert rebuilt.code == 0 and rebuilt.out.strip().endswith(
        f"Rebuilt library 'rebuilt' with all-MiniLM-L6-v2: {chunks} chunks."
    )
    assert cli(user, "stats", "--library", "rebuilt").out == stats.out
    asked = cli(user, "ask", "--library", "rebuilt", "Where did Fernhill Glass open a plant?")
    assert asked.code == 0 and "Geelong" in asked.out and "[1]" in asked.out


def test_the_first_ask_in_a_terminal_shows_a_progress_bar(user):
    home, cwd = user
    text = on_a_terminal(["ask", "--library", "fresh", "Who visited Biosyngen?"], user_env(home), cwd)
    bundled = len(list(DATA.glob("*.json")))
    assert re.search(rf"Adding the bundled articles.*━+.*\d+/{bundled}", text), text
    assert "Loh Tuck Keat" in text and "[1]" in text


def test_a_dotenv_file_in_the_working_directory_is_read(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"NEWSBOT_DATA_DIR={tmp_path / 'from-dotenv'}\n")
    added = newsbot(["add", "-"], user_env(tmp_path / "home"), project, stdin=b"Quokka Rail opened a depot in Perth. " * 3)
    assert added.code == 0, added.err
    assert (tmp_path / "from-dotenv" / "chroma" / "chroma.sqlite3").is_file()
    assert not (tmp_path / "home" / ".local").exists()


def test_chroma_path_and_xdg_data_home_choose_the_folders(tmp_path):
    story = b"Quokka Rail opened a depot in Perth. " * 3
    env = user_env(tmp_path / "home", XDG_DATA_HOME=str(tmp_path / "xdg"))
    assert newsbot(["add", "-"], env, tmp_path, stdin=story).code == 0
    assert (tmp_path / "xdg" / "newsbot" / "chroma" / "chroma.sqlite3").is_file()  # $XDG_DATA_HOME/newsbot
    moved = newsbot(["add", "-"], env | {"NEWSBOT_CHROMA_PATH": str(tmp_path / "vectors")}, tmp_path, stdin=story)
    assert moved.code == 0 and moved.out.startswith("added"), moved.err  # a new, empty Chroma folder
    assert (tmp_path / "vectors" / "chroma.sqlite3").is_file()
    assert not (tmp_path / "home" / ".local").exists()


def test_ask_in_a_terminal_streams_the_models_answer_as_it_arrives(user):
    home, cwd = user
    server = FakeOpenAIServer()
    url = server.start_in_thread()
    answer = "Loh Tuck Keat led the consuls general of seven ASEAN countries to Biosyngen on 27 May 2022 [1]."
    try:
        server.slow_stream(answer, every=0.15)
        env = user_env(home, OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-test", COLUMNS="200")
        text = on_a_terminal(["ask", "Who visited Biosyngen?"], env, cwd)
    finally:
        server.stop()
    # the text so far is redrawn while it arrives (a growing prefix), then printed once more in full
    assert answer in text, text
    assert all(answer[:n] in text for n in (20, 40, 60))
    assert text.count("Loh Tuck Keat led") >= 3, text
