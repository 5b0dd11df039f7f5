"""The installed ``newsbot`` console script, run as users run it: each command in a process of its
own, with the settings' defaults (no NEWSBOT_/CHROMA_/OPENAI_/DISCORD_ variable but the bot's
token and the loopback Discord's addresses; HOME, and so the default data and cache folders, in a
temp folder; the working directory an unrelated folder without ``.env``)."""

from __future__ import annotations

import signal
import sys

import pytest

from bot.render import SOURCES_HEADER
from tests.bot_fixtures import (
    BOB,
    CAROL,
    CHAN_A,
    GUILD_A,
    add_guilds,
    article,
    content_of,
    ephemeral_text,
    wait_answer,
    wait_response,
)
from tests.fakes.discord_server import FakeDiscord
from tests.processes import discord_env, newsbot_run, stop, thread_nices, wait_connected

BIOSYNGEN = article("01")
Q_VISIT = "Who visited Biosyngen in Guangzhou in May 2022?"


def source_line(data: dict) -> str:
    return f"[1] {data['title']} — {data['source']}, {data['published']} <{data['url']}>"


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        await add_guilds(server)
        yield server


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
        text = {k: BIOSYNGEN[k] for k in ("title", "published", "source")} | {"text": BIOSYNGEN["body"]}
        added = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", text)  # Manage Server
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
    assert list((home / ".cache" / "newsbot").glob("all-MiniLM-L6-v2-int8-*/model.onnx"))  # the question model
    assert "Using the exact embedding model" not in log
    if sys.platform.startswith("linux"):  # article embedding ran in a thread niced by worker + ingest nice
        main_nice = nices[bot.proc.pid][0]
        ingest = [cpu for nice, cpu in nices.values() if nice == min(19, main_nice + 5 + 10)]
        assert ingest and max(ingest) > 0, nices
