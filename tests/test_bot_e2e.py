"""newsbot end to end: the real discord.py client against the loopback fake Discord, the real
NewsService (Chroma in a temp dir, MiniLM) and a loopback OpenAI-compatible LLM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
import time

from aiohttp import web

from bot.app import ShardedNewsBot, build_bot
from bot.errors import RedactSecrets
from bot.render import MAX_CONTENT, SOURCES_HEADER
from bot.runner import run
from bot.settings import BotSettings
from tests.bot_fixtures import (
    ALICE,
    API_KEY,
    BIOSYNGEN,
    BOB,
    CAROL,
    CHAN_A,
    CHAN_B,
    GUILD_A,
    GUILD_B,
    LIB_A,
    OWNER,
    Q_VISIT,
    THREAD_A,
    add_guilds,
    article,
    assert_never_pings,
    bot_settings,
    content_of,
    ephemeral_text,
    running_bot,
    vote_ids,
    wait_answer,
    wait_reply_answer,
    wait_response,
)
from tests.conftest import OFFLINE_DIR, make_settings
from tests.fakes.discord_server import FakeDiscord


async def add_article(bot, library: str, data: dict) -> None:
    await bot.service.add_text(
        library,
        data["body"],
        title=data["title"],
        publisher=data["source"],
        published=data["published"],
        url=data["url"],
    )


def source_line_of(data: dict) -> str:
    return f"[1] {data['title']} — {data['source']}, {data['published']} <{data['url']}>"


async def test_ask_is_acknowledged_within_discords_deadline_then_streams_then_ends_with_sources(
    fake, llm, tmp_path, embedder, encoding
):
    settings = bot_settings(tmp_path, llm.base_url)
    llm.ok(
        "Consuls general from ASEAN countries, led by Singapore's Loh Tuck Keat, toured the site on 27 May 2022 [1]."
    )
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec)
    first = rec.responses[0]
    assert (first.kind, first.callback_type) == ("callback", 5)  # deferred before any work
    edits = [r.payload["content"] for r in rec.responses if r.kind == "edit_original"]
    assert edits[0] == "-# Searching the articles…"
    assert any(e.endswith("-# Writing the answer…") and "Consuls general" in e for e in edits)
    streamed = [e for e in edits if e.endswith("-# Writing the answer…") and e != "-# Writing the answer…"]
    assert len(streamed) >= 5  # word by word with the interval at 0
    body, sources = final.content.split(SOURCES_HEADER)
    assert body.strip().startswith("Consuls general from ASEAN countries") and body.strip().endswith("[1].")
    assert sources.strip() == source_line_of(BIOSYNGEN)
    ids = vote_ids(final)
    assert [i.rsplit(":", 1)[1] for i in ids] == ["up", "down"] and ids[0].startswith("newsbot:vote:")
    defer_ms = (first.time - rec.time) * 1000
    final_ms = (rec.responses[-1].time - rec.time) * 1000
    print(f"\n/ask timing against the fake: deferral {defer_ms:.1f} ms, final edit {final_ms:.0f} ms")
    # The fake refuses an acknowledgement later than Discord's 3 s; bench/responsiveness.py holds the
    # bot to 100 ms under load.
    assert rec.rejections == [] and fake.rejections == []
    assert len(fake.command_syncs) == 1 and list(fake.commands) == [None]  # no dev guild: synced globally, once
    assert_never_pings(fake)
    assert fake.unknown_requests == []


async def test_votes_are_one_per_user_survive_a_restart_and_show_in_stats(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec)
        up, down = vote_ids(final)
        clicks = [await fake.send_component_click(final, up, BOB), await fake.send_component_click(final, down, BOB)]
        for click in clicks:
            await fake.wait_for(lambda c=click: c.responses)
    async with running_bot(fake, settings, embedder, encoding):  # a new process: same files, new memory
        click = await fake.send_component_click(final, up, ALICE)
        await fake.wait_for(lambda: click.responses)
        stats = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "stats")
        await wait_response(fake, stats, "edit_original")
    assert [ephemeral_text(c) for c in clicks] == ["Thanks! Your 👍 was recorded.", "Thanks! Your 👎 was recorded."]
    assert ephemeral_text(click) == "Thanks! Your 👍 was recorded."
    text = fake.find_message(stats.original_message_id).content
    assert "Articles: 1" in text and "Questions answered: 1" in text and "👍 1 · 👎 1" in text
    assert_never_pings(fake)


async def test_mention_reply_and_follow_ups_carry_history(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    answers = [
        "The consuls general of seven ASEAN countries visited [1].",
        "Loh Tuck Keat led the group [1].",
        "The visit took place on 27 May 2022 [1].",
        "It makes immune cell therapies [1].",
    ]
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        llm.ok(answers[0])
        q1 = await fake.send_message(GUILD_A, CHAN_A, ALICE, Q_VISIT, mentions_bot=True)
        (a1,) = await wait_reply_answer(fake, CHAN_A, q1)
        llm.ok(answers[1])
        q2 = await fake.send_message(GUILD_A, CHAN_A, BOB, "Who led the group?", reply_to=a1.id, mentions_bot=True)
        (a2,) = await wait_reply_answer(fake, CHAN_A, q2)
        llm.ok(answers[2])
        q3 = await fake.send_message(GUILD_A, CHAN_A, ALICE, "And on which day?", reply_to=a2.id)
        (a3,) = await wait_reply_answer(fake, CHAN_A, q3)
    async with running_bot(fake, settings, embedder, encoding, votes_path=tmp_path / "fresh.sqlite3"):
        llm.ok(answers[3])  # after a restart with no records: turns are read back from the messages
        q4 = await fake.send_message(GUILD_A, CHAN_A, BOB, "What does the company make?", reply_to=a3.id)
        await wait_reply_answer(fake, CHAN_A, q4)
    prompts = [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in llm.chat_requests]
    questions = [Q_VISIT, "Who led the group?", "And on which day?", "What does the company make?"]
    said = [a.replace(" [1]", "") for a in answers]  # the model's answers only reach a prompt as history
    for n, prompt in enumerate(prompts):
        assert not any(a in prompt for a in said[n:]), f"prompt {n} has a later answer"
        earlier = [text for turn in zip(questions[:n], said[:n], strict=True) for text in turn] + [questions[n]]
        positions = [prompt.find(text) for text in earlier]
        assert -1 not in positions and positions == sorted(positions), f"prompt {n}: turns missing or out of order"
    assert a1.message_reference["message_id"] == str(q1.id) and a1.mentions == []
    assert_never_pings(fake)


async def test_thread_opened_by_the_bot_needs_no_mention(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        llm.ok("Consuls general visited Biosyngen [1].")
        q1 = await fake.send_message(GUILD_A, THREAD_A, BOB, Q_VISIT)
        await wait_reply_answer(fake, THREAD_A, q1)
        llm.ok("On 27 May 2022 [1].")
        q2 = await fake.send_message(GUILD_A, THREAD_A, BOB, "When was that?")
        await wait_reply_answer(fake, THREAD_A, q2)
        chatter = await fake.send_message(GUILD_A, CHAN_A, BOB, "chatter that is not for the bot")
        llm.ok("Biosyngen makes immune cell therapies [1].")
        # Messages reach the bot in order: once it has answered the next one, it has read the chatter.
        q3 = await fake.send_message(GUILD_A, CHAN_A, BOB, "What does Biosyngen make?", mentions_bot=True)
        (a3,) = await wait_reply_answer(fake, CHAN_A, q3)
    assert [m.id for m in fake.channel_messages(CHAN_A) if m.author.id == fake.bot_user.id] == [a3.id]
    assert chatter.id < q3.id and len(llm.chat_requests) == 3
    assert "chatter" not in json.dumps(llm.chat_requests)
    prompt = llm.chat_requests[1]["messages"][-1]["content"]
    positions = [prompt.find(t) for t in (Q_VISIT, "Consuls general visited Biosyngen.", "When was that?")]
    assert -1 not in positions and positions == sorted(positions)  # the thread's earlier turn came along


async def serve_page(html: str) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/news/tessarine.html", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/news/tessarine.html"


async def test_add_url_text_and_file_then_list_and_remove(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    page = article("03")
    paragraphs = "".join(f"<p>{p}</p>" for p in page["body"].split("\n\n"))
    head = f"<head><title>{page['title']}</title></head>"
    html = f"<html>{head}<body><article><h1>{page['title']}</h1>{paragraphs}</article></body></html>"
    runner, url = await serve_page(html)
    note = article("05")
    try:
        async with running_bot(fake, settings, embedder, encoding):
            by_url = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", {"url": url, "source": "Test Wire"})
            await fake.wait_for(lambda: "**1 article**" in content_of(fake, by_url), timeout=20)
            text_opts = {
                "text": note["body"],
                "title": note["title"],
                "published": note["published"],
                "source": note["source"],
            }
            by_text = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "add", text_opts)
            await fake.wait_for(lambda: "**1 article**" in content_of(fake, by_text), timeout=20)
            again = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "add", text_opts)
            await fake.wait_for(lambda: "already there" in content_of(fake, again), timeout=20)
            md = f"# {article('06')['title']}\n\n{article('06')['body']}".encode()
            by_file = await fake.send_slash_command(
                GUILD_A,
                CHAN_A,
                ALICE,
                "add",
                {"published": "2024-03-01"},
                attachments={"file": ("breach.md", md, "text/markdown")},
            )
            await fake.wait_for(lambda: "**1 article**" in content_of(fake, by_file), timeout=20)
            listing = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "articles")
            await wait_response(fake, listing, "edit_original")
            listed = fake.find_message(listing.original_message_id)
            ids = re.findall(r"^`(\w+)`", listed.content, re.M)
            removal = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "remove", {"id": ids[0]})
            await wait_response(fake, removal, "edit_original")
            missing = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "remove", {"id": "u0000000000000000"})
            await wait_response(fake, missing, "edit_original")
            after = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "articles")
            await wait_response(fake, after, "edit_original")
    finally:
        await runner.cleanup()
    url_text = fake.find_message(by_url.original_message_id).content
    assert page["title"] in url_text and "1 new" in url_text
    assert any(r.kind == "edit_original" and r.payload["content"].startswith("Fetching <") for r in by_url.responses)
    assert f"{note['title']} — " in fake.find_message(by_text.original_message_id).content
    assert "1 already there" in fake.find_message(again.original_message_id).content
    assert article("06")["title"] in fake.find_message(by_file.original_message_id).content
    assert listed.ephemeral and "(3 in all)" in listed.content and len(ids) == 3
    assert "2024-03-01" in listed.content and "Test Wire" in listed.content
    assert fake.find_message(removal.original_message_id).content == f"Removed article `{ids[0]}`."
    assert "There is no article" in fake.find_message(missing.original_message_id).content
    assert "(2 in all)" in fake.find_message(after.original_message_id).content
    assert_never_pings(fake)


async def test_refusals_are_ephemeral_and_change_nothing(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        not_admin = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "add", {"text": "Some article text."})
        both = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "add", {"text": "x", "url": "https://e.com/a"})
        bad_date = await fake.send_slash_command(
            GUILD_A, CHAN_A, ALICE, "add", {"text": "Body.", "published": "last week"}
        )
        bad_file = await fake.send_slash_command(
            GUILD_A, CHAN_A, ALICE, "add", attachments={"file": ("photo.png", b"\x89PNG", "image/png")}
        )
        remove = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "remove", {"id": "u1"})
        dm = await fake.send_slash_command(None, 0, BOB, "ask", {"question": "Anything new?"})
        dm_message = await fake.send_message(None, None, BOB, "hello?")
        recs = [not_admin, both, bad_date, bad_file, remove, dm]
        await fake.wait_for(lambda: all(ephemeral_text(r) for r in recs))
        (dm_reply,) = await fake.wait_for(
            lambda: [
                m
                for m in fake.channel_messages(dm_message.channel_id)
                if m.author.id == fake.bot_user.id and not m.ephemeral
            ]
        )
        stats = await bot.service.stats(LIB_A)
    texts = [ephemeral_text(r) for r in recs]
    assert (
        texts[0]
        == texts[4]
        == "You need the Manage Server permission or the “News editors” role to change this server's library."
    )
    assert texts[1] == "Give exactly one of url, text or file."
    assert texts[2].startswith("“last week” is not a date.")
    assert "I can't read .png files." in texts[3]
    assert texts[5].startswith("Sorry, I only answer in servers.")
    assert dm_reply.content.startswith("Sorry, I only answer in servers.")
    assert dm_reply.message_reference["message_id"] == str(dm_message.id)
    assert all([(x.kind, x.callback_type) for x in r.responses] == [("callback", 4)] for r in recs)
    assert stats.articles == 0 and llm.chat_requests == []
    assert_never_pings(fake)


async def test_dms_get_a_private_library_when_allowed(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, discord_allow_dms=True)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, f"dm-{BOB}", BIOSYNGEN)
        llm.ok("Consuls general visited [1].")
        question = await fake.send_message(None, None, BOB, Q_VISIT)
        (reply,) = await wait_reply_answer(fake, question.channel_id, question)
        alice_library = await bot.service.stats(f"dm-{ALICE}")
    assert SOURCES_HEADER in reply.content and alice_library.articles == 0


async def test_rate_limit_per_user(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, rate_limit_questions=2, rate_limit_seconds=30)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        asked = [await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT}) for _ in range(3)]
        other = await fake.send_slash_command(GUILD_A, CHAN_A, ALICE, "ask", {"question": Q_VISIT})
        for rec in (asked[0], asked[1], other):
            await wait_answer(fake, rec)
        await fake.wait_for(lambda: ephemeral_text(asked[2]))
        mention = await fake.send_message(GUILD_A, CHAN_A, BOB, Q_VISIT, mentions_bot=True)
        reply = await fake.wait_for(
            lambda: [
                m
                for m in fake.channel_messages(CHAN_A)
                if m.message_reference and m.message_reference["message_id"] == str(mention.id)
            ]
        )
    assert re.fullmatch(r"You're asking questions too quickly; try again in (29|30) s\.", ephemeral_text(asked[2]))
    assert reply[0].content.startswith("You're asking questions too quickly")
    assert len(llm.chat_requests) == 3
    assert_never_pings(fake)


async def test_two_servers_have_separate_libraries(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        in_b = await fake.send_slash_command(GUILD_B, CHAN_B, BOB, "ask", {"question": Q_VISIT})
        (answer_b,) = await wait_answer(fake, in_b)
        listing = await fake.send_slash_command(GUILD_B, CHAN_B, BOB, "articles")
        await wait_response(fake, listing, "edit_original")
    assert "I couldn't find" in answer_b.content and SOURCES_HEADER not in answer_b.content
    assert "no articles" in fake.find_message(listing.original_message_id).content
    assert llm.chat_requests == []  # nothing was retrieved, so the model was not asked


async def test_mentions_in_articles_and_model_output_never_ping(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    loud = dict(BIOSYNGEN, title="@everyone Biosyngen news <@3002>")
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, loud)
        llm.ok(f"@everyone @here <@{ALICE}> <@&4001> consuls visited Biosyngen [1].")
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec)
    for sent in fake.all_sent_payloads():
        content = sent.payload.get("content") or ""
        assert not re.search(r"@(everyone|here)|<@[!&]?\d", content), content
    assert final.mentions == []
    assert "@\u200beveryone Biosyngen news <@\u200b3002>" in final.content
    assert_never_pings(fake)


async def test_long_answer_is_split_cleanly_across_messages(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    sentences = [
        f"Sentence {i} about the consuls general visiting Biosyngen in Guangzhou on 27 May 2022 is here [1]."
        for i in range(60)
    ]
    llm.ok(" ".join(sentences))
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        msgs = await wait_answer(fake, rec)
    assert len(msgs) >= 3
    assert all(len(m.content) <= MAX_CONTENT for m in msgs)
    assert all(len(s.payload.get("content") or "") <= MAX_CONTENT for s in fake.all_sent_payloads())
    assert all(m.content.rstrip().endswith(("[1].", source_line_of(BIOSYNGEN))) for m in msgs)
    joined = " ".join(m.content for m in msgs)
    assert all(s in joined for s in sentences)
    assert msgs[-1].content.endswith(source_line_of(BIOSYNGEN)) and vote_ids(msgs[-1])
    assert all(not vote_ids(m) for m in msgs[:-1])
    assert_never_pings(fake)


async def test_llm_failure_gives_an_extractive_answer_with_a_note(fake, llm, tmp_path, embedder, encoding, caplog):
    settings = bot_settings(tmp_path, llm.base_url)
    llm.auth_error()  # the fake echoes the API key in its error, like the real API
    caplog.set_level(logging.DEBUG)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec)
    assert "-# The language model refused the API key (HTTP 401). Check OPENAI_API_KEY." in final.content
    assert final.content.rstrip().endswith(source_line_of(BIOSYNGEN))
    everything = json.dumps([s.payload for s in fake.all_sent_payloads()]) + caplog.text
    assert API_KEY not in everything and fake.token not in everything


async def test_failures_reach_the_user_briefly_and_the_bot_survives(fake, llm, tmp_path, embedder, encoding, caplog):
    settings = bot_settings(tmp_path, llm.base_url)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        await fake.fail_next("PATCH", r"/messages/@original$", 400, code=50035, message="Invalid Form Body")
        broken = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        await fake.wait_for(lambda: ephemeral_text(broken))
        fetch_fail = await fake.send_slash_command(
            GUILD_A, CHAN_A, ALICE, "add", {"url": "http://127.0.0.1:9/none.html"}
        )
        await fake.wait_for(lambda: ephemeral_text(fetch_fail), timeout=20)
        fine = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        await wait_answer(fake, fine)
    assert ephemeral_text(broken) == "Something went wrong; the error was logged."
    assert [r.kind for r in broken.responses].count("followup") == 1  # reported once, not per handler
    assert fake.find_message(broken.original_message_id).deleted  # the public "thinking" message is gone
    assert "Invalid Form Body" in caplog.text and "/ask failed" in caplog.text
    assert ephemeral_text(fetch_fail) == (  # the fetch's own reason, not the generic line
        "Could not reach http://127.0.0.1:9/none.html: the connection was refused. Check the link or try later."
    )
    assert fake.find_message(fetch_fail.original_message_id).deleted
    assert fake.token not in caplog.text and API_KEY not in caplog.text
    assert_never_pings(fake)


async def test_discord_429_is_retried(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    await fake.rate_limit_next("PATCH", r"/messages/@original$", retry_after=0.1, times=2)
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        (final,) = await wait_answer(fake, rec)
    statuses = [r.status for r in fake.requests_matching("PATCH", r"/messages/@original$")]
    assert statuses[:3] == [429, 429, 200] and set(statuses[3:]) == {200}
    assert SOURCES_HEADER in final.content


async def test_large_ingest_shows_progress_and_does_not_block_questions(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url)
    bundle = [article(f"{n:02d}") for n in range(2, 12)]
    data = json.dumps([{k: a[k] for k in ("title", "url", "published", "source", "body")} for a in bundle]).encode()
    async with running_bot(fake, settings, embedder, encoding) as bot:
        await add_article(bot, LIB_A, BIOSYNGEN)
        adding = await fake.send_slash_command(
            GUILD_A, CHAN_A, ALICE, "add", attachments={"file": ("bundle.json", data, "application/json")}
        )
        await wait_response(fake, adding, "callback")
        question = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": Q_VISIT})
        await wait_answer(fake, question)
        answered = time.monotonic()
        await fake.wait_for(lambda: "**10 articles**" in content_of(fake, adding), timeout=60)
        listing = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "articles")
        await wait_response(fake, listing, "edit_original")
        page_one = fake.find_message(listing.original_message_id)
        first_page = page_one.content
        previous, following = [c["custom_id"] for c in page_one.components[0]["components"]]
        click = await fake.send_component_click(page_one, following, BOB)
        await wait_response(fake, click, "callback")
        stranger = await fake.send_component_click(page_one, previous, ALICE)
        await wait_response(fake, stranger, "callback")
    added = next(r for r in adding.responses if r.kind == "edit_original" and "**10 articles**" in r.payload["content"])
    assert answered < added.time
    progress = [r.payload["content"] for r in adding.responses if r.kind == "edit_original"][:-1]
    assert progress and all(re.fullmatch(r"Adding bundle\.json: \d+/10 articles done…", p) for p in progress)
    assert "page 1/2 (11 in all)" in first_page and first_page.count("\n`") == 10
    assert (click.responses[0].callback_type, "page 2/2 (11 in all)" in page_one.content) == (7, True)
    assert page_one.content.count("\n`") == 1
    assert ephemeral_text(stranger) == "Use /articles to page through the list yourself."


async def test_commands_sync_to_the_dev_guild_once(fake, llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, discord_dev_guild=GUILD_A)
    async with running_bot(fake, settings, embedder, encoding):
        pass
    (sync,) = fake.command_syncs
    assert sync[1] == GUILD_A
    commands = {c["name"]: c for c in sync[2]}
    assert set(commands) == {"ask", "add", "articles", "latest", "remove", "stats", "feed"}
    assert int(commands["add"]["default_member_permissions"]) == 1 << 5  # Manage Server
    assert int(commands["feed"]["default_member_permissions"]) == 1 << 5
    assert {o["name"] for o in commands["feed"]["options"]} == {"add", "list", "remove"}
    question = commands["ask"]["options"][0]
    assert (question["name"], question["required"], question["max_length"]) == ("question", True, 2000)
    assert None not in fake.commands


async def test_two_bots_share_one_chroma_server(fake, llm, tmp_path, embedder, encoding, chroma_server):
    host, port = chroma_server
    first = bot_settings(tmp_path / "one", llm.base_url, chroma_host=host, chroma_port=port)
    second = bot_settings(tmp_path / "two", llm.base_url, chroma_host=host, chroma_port=port)
    text = {"text": article("04")["body"], "title": article("04")["title"], "source": article("04")["source"]}
    async with running_bot(fake, first, embedder, encoding):
        added = await fake.send_slash_command(GUILD_B, CHAN_B, OWNER, "add", text)
        await fake.wait_for(lambda: "**1 article**" in content_of(fake, added), timeout=20)
    llm.ok("Voltaris Cellworks is building a gigafactory in Hungary [1].")
    async with running_bot(fake, second, embedder, encoding):
        rec = await fake.send_slash_command(
            GUILD_B, CHAN_B, BOB, "ask", {"question": "Where is Voltaris building its gigafactory?"}
        )
        (final,) = await wait_answer(fake, rec)
    assert article("04")["title"] in final.content


class QuickShardedBot(ShardedNewsBot):
    """Identifies every shard at once (Discord allows one per 5 s; the fake has no such limit)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


async def test_sharded_bot_answers_in_every_shard(llm, tmp_path, embedder, encoding):
    settings = bot_settings(tmp_path, llm.base_url, discord_sharded=True)
    assert isinstance(build_bot(settings, None, None), ShardedNewsBot)  # type: ignore[arg-type]
    async with FakeDiscord(recommended_shards=2) as fake:
        await add_guilds(fake)
        quick = lambda s, service, votes, **kw: QuickShardedBot(service, votes, s, **kw)  # noqa: E731
        async with running_bot(fake, settings, embedder, encoding, factory=quick) as bot:
            assert bot.shard_count == 2
            for library in (LIB_A, f"guild-{GUILD_B}"):
                await add_article(bot, library, BIOSYNGEN)
            recs = [
                await fake.send_slash_command(g, c, BOB, "ask", {"question": Q_VISIT})
                for g, c in ((GUILD_A, CHAN_A), (GUILD_B, CHAN_B))
            ]
            finals = [(await wait_answer(fake, rec))[-1] for rec in recs]
    assert {s.shard_id for s in fake.gateway.sessions} == {0, 1}
    assert all(source_line_of(BIOSYNGEN) in f.content for f in finals)


# `newsbot run` as a process: settings from the environment, exit code from the entry point.
RUN_CODE = "import sys; from bot.cli import main; sys.exit(main(['run']))"


def run_env(fake: FakeDiscord, tmp_path, **extra: str) -> dict[str, str]:
    """The environment of a `newsbot run` process pointed at the fake Discord, no LLM."""
    return {
        **os.environ,
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_LLM_DISABLED": "1",
        **extra,
    }


async def test_newsbot_run_connects_and_stops_on_sigterm(fake, tmp_path):
    env = run_env(fake, tmp_path, NEWSBOT_DEV_GUILD=str(GUILD_A), NEWSBOT_OFFLINE_DIR=str(OFFLINE_DIR))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_CODE,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_for(lambda: fake.command_syncs and fake.gateway.ready_sessions, timeout=60)
        rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "stats")
        await wait_response(fake, rec, "edit_original")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "Articles: 0" in fake.find_message(rec.original_message_id).content
    assert b"SIGTERM received; shutting down" in err and fake.token.encode() not in err
    assert not fake.gateway.ready_sessions  # the gateway connection was closed
    assert (tmp_path / "data" / "chroma" / "chroma.sqlite3").exists()  # Chroma's folder, opened in the bot's process


async def test_newsbot_run_with_a_broken_model_folder_stops_at_start_with_a_clear_message(fake, tmp_path):
    (tmp_path / "model").mkdir()  # the question model loads in setup_hook: a bad folder is reported at once
    env = run_env(fake, tmp_path, NEWSBOT_EMBEDDING_MODEL_DIR=str(tmp_path / "model"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RUN_CODE, env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2, err.decode()  # a configuration error: no point restarting the service
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("newsbot run: ") and str(tmp_path / "model") in last and "model.onnx" in last
    assert fake.token.encode() not in err and b"Traceback" not in err
    assert not fake.gateway.ready_sessions


async def test_runner_without_token_exits_2_with_one_line(tmp_path, capsys):
    assert run(make_settings(tmp_path, BotSettings)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DISCORD_TOKEN" in err[0]


def test_log_redaction_hides_secrets() -> None:
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    handler.addFilter(RedactSecrets(["tok.en-123456", API_KEY]))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        log.error("token %s and key %s", "tok.en-123456", API_KEY)
        try:
            raise RuntimeError(f"failed with {API_KEY}")
        except RuntimeError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)
    text = "\n".join(records)
    assert "tok.en-123456" not in text and API_KEY not in text
    assert text.count("[redacted]") == 3 and "RuntimeError: failed with [redacted]" in text
