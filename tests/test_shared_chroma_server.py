"""Several ``newsbot run`` processes share one Chroma server (CHROMA_HOST) at the same time: what
one adds to a server's library, the other answers from."""

from __future__ import annotations

import asyncio
import signal

from bot.render import SOURCES_HEADER
from tests.bot_fixtures import BOB, CAROL, CHAN_A, GUILD_A, add_guilds, article, content_of, ephemeral_text, wait_answer
from tests.fakes.discord_server import FakeDiscord
from tests.processes import chroma_run, discord_env, newsbot_run, stop, wait_connected

BIOSYNGEN, VOLTARIS = article("01"), article("04")


async def add(fake: FakeDiscord, data: dict) -> None:
    options = {"text": data["body"], "title": data["title"], "source": data["source"]}
    rec = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", options)
    await fake.wait_for(lambda: content_of(fake, rec).startswith("**") or ephemeral_text(rec), timeout=120)
    assert content_of(fake, rec).startswith("**1 article**"), ephemeral_text(rec)


async def ask(fake: FakeDiscord, question: str) -> str:
    rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": question})
    (final,) = await wait_answer(fake, rec, timeout=60)
    return final.content.split(SOURCES_HEADER)[1].strip()


async def test_two_bot_processes_add_to_and_answer_from_one_server_at_once(tmp_path):
    # Two deployments (two Discord applications, two hosts' data folders) serving the same server.
    with chroma_run(tmp_path / "chroma") as (host, port):
        async with FakeDiscord() as one, FakeDiscord() as two:
            for fake in (one, two):
                await add_guilds(fake)  # the same guild: the same library on the Chroma server
            server = {"CHROMA_HOST": host, "CHROMA_PORT": str(port)}
            first = discord_env(one, tmp_path / "one", **server)
            second = discord_env(two, tmp_path / "two", **server)
            async with (
                newsbot_run(first, tmp_path, tmp_path / "one.log") as bot_one,
                newsbot_run(second, tmp_path, tmp_path / "two.log") as bot_two,
            ):
                await asyncio.gather(wait_connected(one, bot_one), wait_connected(two, bot_two))
                await asyncio.gather(add(one, BIOSYNGEN), add(two, VOLTARIS))
                sources = await asyncio.gather(
                    ask(one, "Where is Voltaris Cellworks building its gigafactory?"),
                    ask(two, "Who visited Biosyngen in Guangzhou in May 2022?"),
                )
                codes = await asyncio.gather(stop(bot_one, signal.SIGTERM), stop(bot_two, signal.SIGTERM))
    assert sources[0].startswith(f"[1] {VOLTARIS['title']} — ")  # added through the other bot
    assert sources[1].startswith(f"[1] {BIOSYNGEN['title']} — ")
    assert codes == [0, 0], bot_one.text() + bot_two.text()
    assert not (tmp_path / "one" / ".local" / "share" / "newsbot" / "chroma").exists()  # nothing embedded
