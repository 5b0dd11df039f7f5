"""Helpers for the bot's end-to-end tests: guilds on the fake Discord, a running newsbot with the
real NewsService (real Chroma and MiniLM, the LLM a loopback fake), and assertions on what the
bot sent."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import discord

from bot.app import NewsBot, build_bot
from bot.settings import BotSettings
from bot.votes import VoteStore
from retrieval.answer.openai_chat import OpenAIChatModel
from retrieval.feeds.service import FeedService
from retrieval.settings import PROJECT_ROOT
from tests.conftest import make_service, make_settings
from tests.fakes.discord_records import InteractionRecord, StoredMessage
from tests.fakes.discord_server import (
    FakeChannel,
    FakeDiscord,
    member,
    role,
    text_channel,
)

GUILD_A, GUILD_B = 1001 << 22, 1002 << 22
CHAN_A, CHAN_B, THREAD_A = 2001, 2002, 2003
OWNER, ALICE, BOB, CAROL = 3001, 3002, 3003, 3004
EDITORS, MANAGERS = 4001, 4002
ADMIN_ROLE = "News editors"
API_KEY = "sk-test-0123456789abcdef"
DATA = PROJECT_ROOT / "data"


def article(name: str) -> dict[str, Any]:
    """One of the project's sample articles (data/*.json)."""
    (path,) = DATA.glob(f"{name}*.json")
    return json.loads(path.read_text(encoding="utf-8"))


LIB_A = f"guild-{GUILD_A}"
BIOSYNGEN = article("01")
Q_VISIT = "Who visited Biosyngen in Guangzhou in May 2022?"


def bot_settings(tmp_path: Path, llm_url: str, **overrides: object) -> BotSettings:
    values: dict[str, object] = {
        "llm_base_url": llm_url,
        "llm_api_key": API_KEY,
        "llm_max_retries": 0,
        "stream_edit_interval": 0.0,
        "allow_private_urls": True,
        "discord_admin_role": ADMIN_ROLE,
        "rate_limit_questions": 20,
        "rate_limit_seconds": 60.0,
    }
    values.update(overrides)
    return make_settings(tmp_path, BotSettings, **values)


async def add_guilds(fake: FakeDiscord) -> None:
    """Guild A (alice: editors role by name, carol: Manage Server, bob: nothing) with a channel and a
    thread the bot opened; guild B with one channel."""
    people = [
        member(OWNER, "owner"),
        member(ALICE, "alice", roles=[EDITORS]),
        member(BOB, "bob"),
        member(CAROL, "carol", roles=[MANAGERS]),
    ]
    thread = FakeChannel(THREAD_A, "newsbot answers", 11, parent_id=CHAN_A, owner_id=fake.bot_user.id)
    await fake.add_guild(
        GUILD_A,
        "Alpha",
        owner_id=OWNER,
        channels=[text_channel(CHAN_A, "general"), thread],
        roles=[
            role(EDITORS, ADMIN_ROLE),
            role(MANAGERS, "managers", permissions=discord.Permissions(manage_guild=True)),
        ],
        members=people,
    )
    await fake.add_guild(
        GUILD_B,
        "Beta",
        owner_id=OWNER,
        channels=[text_channel(CHAN_B, "general")],
        members=[member(OWNER, "owner"), member(BOB, "bob")],
    )


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    settings: BotSettings,
    embedder: Any,
    encoding: Any,
    votes_path: Path | None = None,
    factory: Callable[..., Any] = build_bot,
) -> AsyncIterator[NewsBot]:
    """A newsbot wired like ``bot.runner`` does, connected to ``fake`` until the block ends."""
    service = make_service(settings, embedder, encoding, chat=OpenAIChatModel.from_settings(settings))
    votes = VoteStore(votes_path or settings.data_dir / "votes.sqlite3")
    feeds = FeedService(settings, service)
    bot = factory(settings, service, votes, feeds=feeds, guild_ready_timeout=0.05)
    try:
        async with fake.run_bot(bot):
            yield bot  # type: ignore[misc]
    finally:
        votes.close()
        feeds.close()
        service.close()


def content_of(fake: FakeDiscord, rec: InteractionRecord) -> str:
    """Current content of an interaction's original response ("" before there is one)."""
    msg = fake.find_message(rec.original_message_id) if rec.original_message_id else None
    return msg.content if msg is not None else ""


def vote_ids(msg: StoredMessage) -> list[str]:
    return [c["custom_id"] for row in msg.components for c in row.get("components", []) if "custom_id" in c]


def answer_messages(fake: FakeDiscord, rec: InteractionRecord) -> list[StoredMessage]:
    """The messages an interaction's answer occupies (the original, then follow-ups), in order."""
    ids = [rec.original_message_id] + [r.message_id for r in rec.responses if r.kind == "followup"]
    return [m for m in (fake.find_message(i) for i in ids if i) if m is not None and not m.deleted]


async def wait_answer(fake: FakeDiscord, rec: InteractionRecord, timeout: float = 15.0) -> list[StoredMessage]:
    """Wait until the answer's last message carries the vote buttons (the final publish)."""

    def done() -> list[StoredMessage] | None:
        msgs = answer_messages(fake, rec)
        return msgs if msgs and any(i.startswith("newsbot:vote:") for i in vote_ids(msgs[-1])) else None

    return await fake.wait_for(done, timeout=timeout, message=f"no final answer for /{rec.name}")


async def wait_reply_answer(
    fake: FakeDiscord, channel_id: int, question: StoredMessage, timeout: float = 15.0
) -> list[StoredMessage]:
    """The bot's reply to ``question`` and any messages that continue it, once final."""

    def done() -> list[StoredMessage] | None:
        msgs = [m for m in fake.channel_messages(channel_id) if m.author.id == fake.bot_user.id and m.id > question.id]
        first = next(
            (
                i
                for i, m in enumerate(msgs)
                if m.message_reference and m.message_reference["message_id"] == str(question.id)
            ),
            None,
        )
        if first is None:
            return None
        chain = []
        for m in msgs[first:]:
            if m is not msgs[first] and m.message_reference:
                break
            chain.append(m)
        return chain if any(i.startswith("newsbot:vote:") for i in vote_ids(chain[-1])) else None

    return await fake.wait_for(done, timeout=timeout, message="no final reply")


async def wait_response(fake: FakeDiscord, rec: InteractionRecord, kind: str, timeout: float = 15.0) -> Any:
    return await fake.wait_for(lambda: next((r for r in rec.responses if r.kind == kind), None), timeout=timeout)


def ephemeral_text(rec: InteractionRecord) -> str | None:
    """Text of the ephemeral reply to an interaction (initial response or follow-up), if any."""
    for r in rec.responses:
        data = (r.payload or {}).get("data", r.payload or {}) if r.kind == "callback" else (r.payload or {})
        if data and data.get("flags", 0) & 64:
            return data.get("content")
    return None


def assert_never_pings(fake: FakeDiscord) -> None:
    """Every message the bot created or edited carried allowed_mentions that allow nothing."""
    payloads = fake.all_sent_payloads()
    assert payloads, "the bot sent nothing"
    for sent in payloads:
        allowed = sent.payload.get("allowed_mentions")
        assert allowed is not None, f"{sent.kind} via {sent.route} without allowed_mentions: {sent.payload}"
        assert allowed.get("parse") == [] and not allowed.get("users") and not allowed.get("roles")
        assert not allowed.get("replied_user")
