"""The bot on the settings' defaults (BotSettings as a user gets it: no admin role, 5 questions a
minute, three LLM retries, one edit a second), against the loopback Discord and a loopback LLM."""

from __future__ import annotations

import re

from bot.render import SOURCES_HEADER
from bot.settings import BotSettings
from tests.bot_fixtures import (
    ALICE,
    API_KEY,
    BIOSYNGEN,
    BOB,
    CAROL,
    CHAN_A,
    GUILD_A,
    LIB_A,
    Q_VISIT,
    content_of,
    ephemeral_text,
    running_bot,
    wait_answer,
)
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAIServer


def defaults(tmp_path, llm: FakeOpenAIServer) -> BotSettings:
    """Every bot setting at its default; only where the files go and the LLM's address are given."""
    settings = make_settings(tmp_path, BotSettings, llm_base_url=llm.base_url, llm_api_key=API_KEY)
    given = {"data_dir", "seed_dir", "offline_dir", "llm_base_url", "llm_api_key"}
    assert settings.model_fields_set <= given | {"tiktoken_cache_dir"}  # conftest's offline provisioning
    return settings


async def add_biosyngen(bot) -> None:
    await bot.service.add_text(
        LIB_A, BIOSYNGEN["body"], title=BIOSYNGEN["title"], publisher=BIOSYNGEN["source"], url=BIOSYNGEN["url"]
    )


async def test_a_slow_stream_is_shown_with_at_most_one_edit_a_second(fake, llm, tmp_path, embedder, encoding):
    words = "Consuls general from seven ASEAN countries toured Biosyngen's Guangzhou base on 27 May 2022 [1]."
    llm.ok(" ".join([words] * 3), pause=0.1)  # ~4.5 s of streaming
    async with running_bot(fake, defaults(tmp_path, llm), embedder, encoding) as bot:
        await add_biosyngen(bot)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec, timeout=30)
    edits = [r.time for r in rec.responses if r.kind == "edit_original"]
    gaps = [round(b - a, 2) for a, b in zip(edits, edits[1:], strict=False)]
    assert len(edits) >= 4, gaps  # it did stream: several updates before the final one
    assert min(gaps) >= 0.95, f"edits {gaps} s apart"
    assert final.content.startswith(words) and fake.rejections == []


async def test_the_sixth_question_within_a_minute_gets_the_rate_limit_reply(fake, llm, tmp_path, embedder, encoding):
    async with running_bot(fake, defaults(tmp_path, llm), embedder, encoding) as bot:
        await add_biosyngen(bot)
        recs = [await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT}) for _ in range(6)]
        for rec in recs[:5]:
            await wait_answer(fake, rec, timeout=30)
        await fake.wait_for(lambda: ephemeral_text(recs[5]))
        other = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "ask", {"question": Q_VISIT})
        await wait_answer(fake, other, timeout=30)  # the limit is per person
    assert re.fullmatch(r"You're asking questions too quickly; try again in (59|60) s\.", ephemeral_text(recs[5]))
    assert len(llm.chat_requests) == 6


async def test_the_llm_is_retried_three_times_before_the_answer_falls_back(fake, llm, tmp_path, embedder, encoding):
    for _ in range(3):
        llm.server_error(503)
    llm.ok("Consuls general from ASEAN countries toured the site [1].")
    async with running_bot(fake, defaults(tmp_path, llm), embedder, encoding) as bot:
        await add_biosyngen(bot)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec, timeout=30)
    assert len(llm.chat_requests) == 4
    body, sources = final.content.split(SOURCES_HEADER)
    assert body.strip() == "Consuls general from ASEAN countries toured the site [1]."
    assert sources.strip().startswith(f"[1] {BIOSYNGEN['title']} — {BIOSYNGEN['source']}")


async def test_without_an_admin_role_only_manage_server_may_add(fake, llm, tmp_path, embedder, encoding):
    text = {"text": BIOSYNGEN["body"], "title": BIOSYNGEN["title"]}
    async with running_bot(fake, defaults(tmp_path, llm), embedder, encoding):
        # Bob has no role; Alice has the role the other tests name NEWSBOT_ADMIN_ROLE; Carol has Manage Server.
        refused = [await fake.send_slash_command(GUILD_A, CHAN_A, who, "add", text) for who in (BOB, ALICE)]
        await fake.wait_for(lambda: all(ephemeral_text(r) for r in refused))
        allowed = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", text)
        await fake.wait_for(lambda: content_of(fake, allowed).startswith("**1 article**"), timeout=30)
    for rec in refused:
        assert ephemeral_text(rec) == "You need the Manage Server permission to change this server's library."
