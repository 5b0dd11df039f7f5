"""User mistakes and failing services get one clear line (and a sensible exit code), never a
traceback, and lose nothing: the real ``newsbot`` console script in subprocesses where the point is
what the user sees, unit tests where it is a function's behaviour."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import discord
import pytest
from aiohttp import web

from bot.cli.terminal import printable
from bot.cli.unknown_settings import unknown_settings
from bot.history import referenced_message
from retrieval.answer.answerer import AnswerDone, Answerer
from retrieval.answer.llm import RetryPolicy
from retrieval.answer.openai_chat import OpenAIChatModel
from retrieval.answer.prompts import PromptSet
from retrieval.embed.base import Embedder
from retrieval.errors import InputError, StoreError
from retrieval.ingest.decode import decode_text, too_big
from retrieval.ingest.extract import articles_from_json
from retrieval.ingest.gather import read_files
from retrieval.models import Answer, AnswerMode, Article, Passage
from tests.bot_fixtures import BOB, CHAN_A, GUILD_A, add_guilds, article, bot_settings, running_bot, wait_answer
from tests.conftest import OFFLINE_DIR
from tests.fakes import FakeOpenAIServer
from tests.fakes.discord_server import FakeDiscord
from tests.processes import free_port, on_a_terminal

NEWSBOT = Path(sys.executable).with_name("newsbot")


def user_env(home: Path, seeds: Path | None = None) -> dict[str, str]:
    """A user's environment: home and data folders in ``home``, articles seeded from ``seeds`` (none)."""
    if seeds is None:
        seeds = home / "no-seeds"
        seeds.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NEWSBOT_DATA_DIR": str(home / "data"),
        "NEWSBOT_SEED_DIR": str(seeds),
        "NEWSBOT_OFFLINE_DIR": str(OFFLINE_DIR),
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", str(OFFLINE_DIR / "tiktoken-cache")),
        "ANONYMIZED_TELEMETRY": "False",
    }


def newsbot(args: list[str | bytes], home: Path, *, env: dict[str, str] | None = None, stdin: bytes | None = None,
            timeout: float = 120) -> tuple[int, bytes, bytes]:
    """Run ``newsbot`` as a user would (``user_env``, in ``home``); (code, stdout, stderr)."""
    proc = subprocess.run([os.fsencode(NEWSBOT), *(os.fsencode(a) for a in args)], cwd=home,
                          env={**user_env(home), **(env or {})}, input=stdin, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text and text.count("\n") == 1, text
    return text


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


class LoopbackSite:
    """An aiohttp server on a loopback port, in its own thread (the tests' subprocesses call it)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app)
        self.port = 0

    def __enter__(self) -> LoopbackSite:
        async def start() -> None:
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = self._runner.addresses[0][1]

        self._loop.run_until_complete(start())
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def redirects() -> Iterator[LoopbackSite]:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(location=request.query["to"])

    app = web.Application()
    app.router.add_get("/moved", redirect)
    with LoopbackSite(app) as site:
        yield site


# -- 1. a redirect to a link that is not a web page ------------------------------------------------
def test_a_redirect_to_javascript_data_or_mailto_is_one_line(home, redirects):
    env = {"NEWSBOT_ALLOW_PRIVATE_URLS": "true"}
    for target, scheme in [("javascript:alert(1)", "javascript:"), ("data:text/html,<p>hi</p>", "data:"),
                           ("mailto:news@example.org", "mailto:")]:
        url = redirects.url("/moved?" + urlencode({"to": target}))
        code, _, err = newsbot(["add", url], home, env=env)
        line = one_line(err)
        assert code == 1 and f"redirected to a {scheme} link" in line and "http://" in line, line



# -- 2. newsbot run with the Discord API unreachable ------------------------------------------------
def test_run_with_the_discord_api_unreachable_is_one_line_without_the_token(home):
    token = "MTE0.secret-token.XyZ123"
    api = f"http://127.0.0.1:{free_port()}/api/v10"
    env = {"DISCORD_TOKEN": token, "DISCORD_API_BASE": api}
    code, out, err = newsbot(["run"], home, env=env, timeout=90)
    text = (out + err).decode()
    assert code == 1 and "Traceback" not in text and token not in text, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("newsbot run: could not reach the Discord API at " + api), last
    assert "refused" in last and "DISCORD_API_BASE" in last


# -- 3. arguments that are not UTF-8 text ---------------------------------------------------------------
@pytest.mark.parametrize(("args", "named"), [
    ([b"ask", b"Who \xff visited?"], "The question"),
    ([b"add", b"--title", b"Caf\xe9 news", b"story.txt"], "--title"),
    ([b"add", b"--source", b"\xffGazette", b"story.txt"], "--source"),
])
def test_an_argument_that_is_not_utf8_is_named(home, args, named):
    home.mkdir(parents=True)
    (home / "story.txt").write_text("Orrin Mills buys Tallow Bay\n\nThe deal closes in June.")
    code, _, err = newsbot(args, home)
    line = one_line(err)
    assert code == 2 and line.startswith(f"newsbot: {named} is not valid UTF-8 text"), line


def test_a_publication_date_that_is_not_a_date_is_refused(home):
    home.mkdir(parents=True)
    (home / "story.txt").write_text("Orrin Mills buys Tallow Bay\n\nThe deal closes in June.")
    code, _, err = newsbot(["add", "--published", "next Tuesday", "story.txt"], home)
    assert code == 1 and "not a date" in one_line(err)


# -- 4. an OpenAI-compatible server without the configured model -----------------------------------------
VISIT = Article(title="ASEAN consuls general tour Biosyngen", body="", url="https://news.example/visit",
                publisher="GeneOnline", published=date(2022, 5, 27))
VISIT_PASSAGE = Passage(chunk_id=f"{VISIT.id}:0", source=VISIT.source, position=0, score=0.9,
                        text="On 27 May 2022 Loh Tuck Keat, Singapore's Consul General in Guangzhou, led ASEAN "
                             "consuls general on a tour of Biosyngen in Guangzhou.")


def answerer_for(server: FakeOpenAIServer, encoding, *, model: str = "gpt-4o-mini", timeout: float = 5.0,
                 retries: int = 3, deadline: float | None = None) -> Answerer:
    chat = OpenAIChatModel(base_url=server.base_url, api_key="sk-test", model=model, timeout=timeout, max_tokens=200)
    return Answerer(chat=chat, prompts=PromptSet.load(), encoding=encoding, context_tokens=3000,
                    retry=RetryPolicy(max_retries=retries, base_delay=0.05), deadline=deadline)


async def final_answer(answerer: Answerer) -> Answer:
    events = [e async for e in answerer.stream("Who toured Biosyngen?", [VISIT_PASSAGE])]
    assert isinstance(events[-1], AnswerDone)
    return events[-1].answer


async def test_an_unknown_model_is_named_in_the_note_with_its_setting(encoding, caplog):
    async with FakeOpenAIServer() as server:
        server.model_not_found()
        with caplog.at_level(logging.WARNING):
            answer = await final_answer(answerer_for(server, encoding, model="gpt-5-typo"))
    assert answer.mode is AnswerMode.EXTRACTIVE and "Loh Tuck Keat" in answer.text
    assert "“gpt-5-typo”" in answer.note and "NEWSBOT_LLM_MODEL" in answer.note, answer.note
    assert len(server.chat_requests) == 1  # a 4xx is not retried ...
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "after" not in logged and "retries" not in logged and "gpt-5-typo" in logged  # ... nor logged as if it were


# -- 9. one deadline for the model's whole answer -----------------------------------------------------
@pytest.mark.parametrize("script", ["hang", "slow_stream"])
async def test_the_answer_falls_back_at_the_overall_deadline(encoding, script):
    async with FakeOpenAIServer() as server:
        for _ in range(4):  # every attempt is slow: each would take 30 s (a hang) or 18 s (a drip)
            server.hang(30) if script == "hang" else server.slow_stream("Loh Tuck Keat led it [1]. " * 10, every=0.3)
        answerer = answerer_for(server, encoding, timeout=30, retries=3, deadline=1.5)
        start = time.monotonic()
        answer = await final_answer(answerer)
        elapsed = time.monotonic() - start
    assert 1.4 <= elapsed <= 2.5, elapsed
    assert answer.mode is AnswerMode.EXTRACTIVE and "Loh Tuck Keat" in answer.text
    assert answer.note == "The language model took too long (over 1.5 s), so this answer quotes the articles directly."


BIOSYNGEN = article("01")


async def test_discord_shows_the_deadline_note(tmp_path, embedder, encoding):
    async with FakeDiscord() as fake, FakeOpenAIServer() as llm:
        await add_guilds(fake)
        llm.hang(30)
        settings = bot_settings(tmp_path, llm.base_url, llm_timeout=30, llm_deadline=1.5)
        async with running_bot(fake, settings, embedder, encoding) as bot:
            await bot.service.add_text(f"guild-{GUILD_A}", BIOSYNGEN["body"], title=BIOSYNGEN["title"])
            rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": "Who visited Biosyngen?"})
            (final,) = await wait_answer(fake, rec)
    assert "-# The language model took too long (over 1.5 s)" in final.content, final.content
    assert not fake.rejections


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A home whose library holds one article (added once for the tests that only ask)."""
    home = tmp_path_factory.mktemp("user-errors") / "home"
    home.mkdir()
    (home / "visit.json").write_text(json.dumps(BIOSYNGEN))
    code, _, err = newsbot(["add", "visit.json"], home)
    assert code == 0, err
    return home


@pytest.fixture(scope="module")
def hanging_llm() -> Iterator[str]:
    server = FakeOpenAIServer()
    url = server.start_in_thread()
    for _ in range(8):
        server.hang(60)
    yield url
    server.stop()


def test_the_command_line_shows_the_deadline_note(library, hanging_llm):
    env = {"OPENAI_BASE_URL": hanging_llm, "NEWSBOT_LLM_DEADLINE": "1", "NEWSBOT_LLM_TIMEOUT": "30"}
    code, out, err = newsbot(["ask", "Who visited Biosyngen?"], library, env=env)
    assert code == 0, err
    assert "Note: The language model took too long (over 1 s)" in out.decode(), out


# -- 5. input files: UTF-16 without a byte order mark, sizes that print alike, JSON fields of the wrong kind ---
@pytest.mark.parametrize("encoding_name", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_named_as_such(encoding_name):
    data = "Acme news\n\nThe Zephyr probe launched from Kourou on 3 March.\n".encode(encoding_name)
    with pytest.raises(InputError) as refused:
        decode_text(data, what="the file news.txt", max_bytes=10_000)
    assert str(refused.value) == "The file news.txt is UTF-16 text, not UTF-8. Save it with UTF-8 encoding and try again."


def test_binary_data_with_nul_bytes_is_still_binary():
    with pytest.raises(InputError, match="binary"):
        decode_text(bytes(range(256)) * 4, what="the upload", max_bytes=10_000)


def test_sizes_that_round_alike_are_given_in_bytes():
    assert "2,000,500 bytes is over the 2,000,000-byte limit" in str(too_big(2_000_500, 2_000_000, "the file a.txt"))
    assert "50.0 MB is over the 2.0 MB limit" in str(too_big(50_000_000, 2_000_000, "the file a.txt"))


def test_standard_input_over_the_limit_does_not_claim_a_size(home):
    code, _, err = newsbot(["add", "-"], home, stdin=b"x" * 2_000_001)
    line = one_line(err)
    assert code == 1 and "Standard input is too large: it is over the 2.0 MB limit (2,000,000 bytes)." in line, line


@pytest.mark.parametrize(("item", "message"), [
    ({"title": 42, "body": "Acme text."}, "JSON item at index 1: field 'title' must be text, not a number."),
    ({"title": "Acme", "url": 7.5, "body": "Acme text."}, "JSON item at index 1: field 'url' must be text, not a number."),
    ({"title": "Acme", "url": True, "body": "Acme text."}, "field 'url' must be text, not true or false."),
    ({"title": "Acme", "published": "soon", "body": "Acme text."}, "JSON item at index 1: field 'published' is not a date"),
    ({"title": "Acme", "published_at": 20240101, "body": "Acme text."}, "field 'published_at' must be text"),
])
def test_json_fields_of_the_wrong_kind_are_refused_by_index_and_name(item, message):
    good = {"title": "Fine", "body": "Fine text.", "published": "2024-01-02"}
    with pytest.raises(InputError) as refused:
        articles_from_json(json.dumps([good, item]), max_bytes=10_000)
    assert message in str(refused.value)


# -- 6. a folder with some bad files: the good ones are added, every bad one is named ----------------------
def bad_and_good_files(folder: Path) -> dict[str, str]:
    """Write good and bad article files into ``folder``; the bad ones' names -> a word of their reason."""
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text("Orrin Mills buys Tallow Bay\n\nOrrin Mills agreed to buy Tallow Bay Foods.")
    (folder / "sub" / "also-good.md").write_text("# Kestrel opens a depot\n\nKestrel Freight opened a depot in Lyon.")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "sub" / "number.json").write_text('{"title": 42, "body": "Some text about Acme."}')
    return {"empty.txt": "empty", "blob.txt": "binary", "sub/number.json": "'title' must be text"}


def test_read_files_returns_each_failure_as_data(tmp_path):
    bad = bad_and_good_files(tmp_path / "news")
    report = read_files([tmp_path / "news", tmp_path / "missing.txt"], max_bytes=10_000)
    assert sorted(a.title for a in report.articles) == ["Kestrel opens a depot", "Orrin Mills buys Tallow Bay"]
    named = {str(Path(f.source).relative_to(tmp_path)): f for f in report.failures}
    assert set(named) == {f"news/{name}" for name in bad} | {"missing.txt"}
    assert all(isinstance(f.error, InputError) for f in report.failures)
    for name, words in bad.items():
        assert words in named[f"news/{name}"].reason


def test_add_adds_the_good_files_and_names_every_bad_one(home):
    bad = bad_and_good_files(home / "news")
    code, out, err = newsbot(["add", "news", "missing.txt"], home)
    assert code == 1
    added = out.decode().splitlines()
    assert len(added) == 2 and all(line.startswith("added") for line in added), added
    lines = err.decode().splitlines()
    assert "Traceback" not in err.decode() and len(lines) == len(bad) + 1, lines
    for name, words in [*bad.items(), ("missing.txt", "no such file")]:
        path = name if name == "missing.txt" else f"news/{name}"
        assert sum(line.startswith(f"newsbot: {path}: ") and words in line.lower() for line in lines) == 1, (name, lines)
    listed = newsbot(["list"], home)[1].decode()
    assert "Orrin Mills buys Tallow Bay" in listed and "Kestrel opens a depot" in listed


# -- 7. control characters in articles never reach the terminal -------------------------------------------
def test_control_characters_in_an_article_never_reach_the_terminal(home):
    home.mkdir(parents=True)
    evil = {"title": "Acme \x1b[2J\x1b]0;pwned\x07 launches Zephyr [/]", "source": "Rocket\x9b31m Weekly",
            "url": "https://news.example/zephyr", "published": "2024-03-03",
            "body": "Acme Rockets launched the Zephyr probe\x1b[31m from Kourou on 3 March 2024.\r\x08 It reached orbit."}
    (home / "evil.json").write_text(json.dumps(evil))
    outputs = [newsbot(["add", "evil.json"], home), newsbot(["list"], home),
               newsbot(["ask", "When did Acme Rockets launch the Zephyr probe?"], home)]
    for code, out, err in outputs:
        assert code == 0, err
        for control in (b"\x1b", b"\x07", b"\x08", b"\r", "\x9b".encode()):
            assert control not in out + err, (control, out)
    listed = outputs[1][1].decode()
    assert "Acme \ufffd[2J\ufffd]0;pwned\ufffd" in listed  # the stored title still holds them
    assert "[/]" in listed  # shown as it is, not read as rich markup
    assert "Zephyr probe" in outputs[2][1].decode()


def test_printable_keeps_text_newlines_and_tabs():
    assert printable("Caf\u00e9 \u4e2d\u6587\n\tA \u2014 B") == "Caf\u00e9 \u4e2d\u6587\n\tA \u2014 B"
    assert printable("a\x1bb\x07c\x7fd\x85e\udcfff") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf"


# -- 10. the answer on a terminal or a pipe ------------------------------------------------------------------
def words(text: str) -> set[str]:
    return {w.strip(".,;:()“”\"'") for w in text.split()}


@pytest.mark.parametrize("columns", [None, "80"])
def test_the_answer_wraps_at_word_boundaries_and_keeps_urls_whole(library, columns):
    code, out, err = newsbot(["ask", "Who visited Biosyngen?"], library, env={"COLUMNS": columns} if columns else {})
    assert code == 0, err
    text = out.decode()
    answer, _, sources = text.partition("\nSources:\n")
    lines = text.splitlines()
    assert all(len(line) <= 80 or re.fullmatch(r" {4}https://\S+", line) for line in lines), lines
    assert len(answer.splitlines()) > 1  # it needed wrapping
    assert words(answer) - words(BIOSYNGEN["body"]) <= {"[1]", ""}, words(answer) - words(BIOSYNGEN["body"])
    assert f"    {BIOSYNGEN['url']}" in sources.splitlines()


def test_the_seeding_progress_bar_shows_only_while_articles_are_added(tmp_path):
    home = tmp_path / "home"
    seeds = home / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "visit.json").write_text(json.dumps(BIOSYNGEN))
    env = {**user_env(home, seeds), "TERM": "xterm", "COLUMNS": "100"}
    first = on_a_terminal(["ask", "Who visited Biosyngen?"], env, home)
    assert "Adding the bundled articles" in first and "Loh Tuck Keat" in first
    again = on_a_terminal(["ask", "Who visited Biosyngen?"], env, home)
    assert "Loh Tuck Keat" in again
    assert "Adding the bundled articles" not in again


# -- 8. misspelt settings --------------------------------------------------------------------------------
def test_unknown_settings_are_named_with_the_closest_known_one():
    environ = ["NEWSBOT_TOPK", "NEWSBOT_LLM_MODLE", "OPENAI_APIKEY", "NEWSBOT_TOP_K", "newsbot_data_dir", "PATH",
               "CHROMA_SERVER_HOST", "OPENAI_ORG_ID", "DISCORD_TOKEN", "NEWSBOT_ZZZ"]
    assert unknown_settings(environ, ["CHROMA_HOTS"]) == [
        "newsbot: unknown setting NEWSBOT_LLM_MODLE (did you mean NEWSBOT_LLM_MODEL?); it is ignored.",
        "newsbot: unknown setting NEWSBOT_TOPK (did you mean NEWSBOT_TOP_K?); it is ignored.",
        "newsbot: unknown setting NEWSBOT_ZZZ; it is ignored.",
        "newsbot: unknown setting OPENAI_APIKEY (did you mean OPENAI_API_KEY?); it is ignored.",
        "newsbot: unknown setting CHROMA_HOTS in .env (did you mean CHROMA_HOST?); it is ignored.",
    ]


def test_a_misspelt_setting_is_one_warning_line_from_the_environment_or_env_file(home):
    home.mkdir(parents=True)
    (home / ".env").write_text("OPENAI_APIKEY=sk-not-read\n")
    code, out, err = newsbot(["stats"], home, env={"NEWSBOT_TOPK": "3"})
    assert code == 0 and out.decode().startswith("library default:")
    assert err.decode().splitlines() == [
        "newsbot: unknown setting NEWSBOT_TOPK (did you mean NEWSBOT_TOP_K?); it is ignored.",
        "newsbot: unknown setting OPENAI_APIKEY in .env (did you mean OPENAI_API_KEY?); it is ignored.",
    ]


def test_newsbot_run_also_logs_a_misspelt_setting(home):
    env = {"DISCORD_TOKEN": "MTE0.secret-token.XyZ123", "DISCORD_API_BASE": f"http://127.0.0.1:{free_port()}/api",
           "NEWSBOT_LLM_MODLE": "small"}
    code, _, err = newsbot(["run"], home, env=env, timeout=90)
    warning = "unknown setting NEWSBOT_LLM_MODLE (did you mean NEWSBOT_LLM_MODEL?); it is ignored."
    lines = err.decode().splitlines()
    assert code == 1 and lines[0] == f"newsbot: {warning}", lines
    assert any("WARNING" in line and "bot.runner" in line and line.endswith(warning) for line in lines[1:]), lines


# -- 11. errors are not quietly turned into empty results ----------------------------------------------------
class Channel:
    """A channel whose messages cannot be fetched: Discord answers ``status``."""

    def __init__(self, status: int) -> None:
        self.id = 7
        self.status = status

    async def fetch_message(self, message_id: int) -> discord.Message:
        response = SimpleNamespace(status=self.status, reason="refused")
        error = discord.NotFound if self.status == 404 else discord.Forbidden
        raise error(response, {"message": "Missing Access", "code": 50001})


@pytest.mark.parametrize(("status", "logged"), [(403, True), (404, False)])
async def test_a_follow_ups_context_that_cannot_be_read_is_logged_unless_deleted(status, logged, caplog):
    message = SimpleNamespace(reference=discord.MessageReference(message_id=5, channel_id=7), channel=Channel(status))
    with caplog.at_level(logging.WARNING, logger="bot.history"):
        assert await referenced_message(message) is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.history"]
    if logged:
        assert warnings == ["Could not read message 5 in channel 7 for a follow-up's context: HTTP 403 Missing Access"]
    else:
        assert warnings == []


async def test_an_embedder_failing_during_a_quoted_answer_logs_its_cause(encoding, caplog):
    class Broken(Embedder):
        def embed_batch(self, texts):
            raise StoreError("The vector service at http://127.0.0.1:9 refused the connection.")

    answerer = Answerer(chat=None, prompts=PromptSet.load(), encoding=encoding, context_tokens=3000,
                        retry=RetryPolicy(max_retries=0), embedder=Broken())
    with caplog.at_level(logging.WARNING):
        answer = await final_answer(answerer)
    assert answer.mode is AnswerMode.EXTRACTIVE and "Loh Tuck Keat" in answer.text  # the deliberate fallback
    assert "refused the connection" in caplog.text  # and why it was needed
