"""The fake Discord server works with the real discord.py client (a throwaway bot)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_limits import message_errors
from tests.fakes.discord_server import FakeDiscord, member, role, text_channel

GUILD, CHANNEL, OWNER, ALICE, ADMINS = 1000 << 22, 2001, 3001, 3002, 4001
ATTACH = {"file": ("notes.txt", b"bytes \x00\x01 of the file", "text/plain")}


class PingBot(commands.Bot):
    """Defers /ping, edits the original twice, then follows up; replies to mentions."""

    def __init__(self) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                         guild_ready_timeout=0.05)
        self.ready_count = 0
        self.read_bytes: bytes | None = None
        self.seen: list[discord.Message] = []
        self.clicks: list[str] = []
        self.perms: list[discord.Permissions] = []

    async def setup_hook(self) -> None:
        @app_commands.command(name="ping", description="Ping the bot")
        async def ping(interaction: discord.Interaction, word: str, times: int = 1,
                       file: discord.Attachment | None = None) -> None:
            await interaction.response.defer(thinking=True)
            if file is not None:
                self.read_bytes = await file.read()
            await interaction.edit_original_response(content=f"{word} x{times} (1/2)")
            await interaction.edit_original_response(content=f"{word} x{times} (2/2)")
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="More", custom_id="more"))
            await interaction.followup.send("done", view=view, allowed_mentions=discord.AllowedMentions.none())

        @app_commands.command(name="whois", description="Private answer about a member")
        async def whois(interaction: discord.Interaction, who: discord.Member) -> None:
            self.perms.append(interaction.permissions)
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send(f"{who.display_name} has {len(who.roles)} roles", ephemeral=True)

        self.tree.add_command(ping, guild=discord.Object(GUILD))
        self.tree.add_command(whois, guild=discord.Object(GUILD))
        await self.tree.sync(guild=discord.Object(GUILD))

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        if message.author == self.user:
            return
        if message.guild is None:
            await message.channel.send("dm reply", file=discord.File(io.BytesIO(b"PDF-ish"), "a.bin"))
        elif self.user in message.mentions:
            await message.reply("pong", allowed_mentions=discord.AllowedMentions.none())

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.component:
            self.clicks.append(interaction.data["custom_id"])  # type: ignore[index]
            await interaction.response.edit_message(content="more!", view=None)


@contextlib.asynccontextmanager
async def fake_with_guild(**options: Any) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(**options) as fake:
        await fake.add_guild(GUILD, "News", owner_id=OWNER, channels=[text_channel(CHANNEL, "general")],
                             roles=[role(ADMINS, "admins", permissions=discord.Permissions(administrator=True))],
                             members=[member(OWNER, "owner"), member(ALICE, "alice", roles=[ADMINS])])
        yield fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_with_guild() as fake:
        yield fake


async def test_bot_connects_and_syncs_commands(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        assert bot.ready_count == 1
        assert bot.get_guild(GUILD).name == "News"
        assert bot.get_channel(CHANNEL).name == "general"
        assert bot.application_id == fake.application_id
        await fake.dispatch("GUILD_UPDATE", fake.guilds[GUILD].payload() | {"name": "Renamed"})
        await fake.wait_for(lambda: bot.get_guild(GUILD).name == "Renamed")
    puts = fake.requests_matching("PUT", rf"/applications/{fake.application_id}/guilds/{GUILD}/commands$")
    assert len(puts) == 1 and puts[0].status == 200
    assert sorted(c["name"] for c in puts[0].json) == ["ping", "whois"]
    ping = next(c for c in puts[0].json if c["name"] == "ping")
    assert [(o["name"], o["type"], o.get("required", False)) for o in ping["options"]] == [
        ("word", 3, True), ("times", 4, False), ("file", 11, False)]
    assert {c["name"] for c in fake.commands[GUILD]} == {"ping", "whois"}
    assert fake.gateway.identify_payloads[0]["intents"] == discord.Intents.default().value
    assert fake.unknown_requests == []


async def test_slash_command_defer_edits_and_followup_in_order(fake: FakeDiscord) -> None:
    async with fake.run_bot(PingBot()):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "hey", "times": "3"})
        await fake.wait_for(lambda: any(r.kind == "followup" for r in rec.responses))
    kinds = [(r.kind, r.callback_type) for r in fake.interaction_responses(rec.id)]
    assert kinds == [("callback", 5), ("edit_original", None), ("edit_original", None), ("followup", None)]
    times = [r.time for r in rec.responses]
    assert times == sorted(times)
    assert rec.payload["data"]["options"][1] == {"name": "times", "type": 4, "value": 3}
    original, follow = fake.channel_messages(CHANNEL)
    assert original.id == rec.original_message_id
    assert original.content == "hey x3 (2/2)"
    assert [e.payload["content"] for e in original.edits] == ["hey x3 (1/2)", "hey x3 (2/2)"]
    assert follow.content == "done" and follow.allowed_mentions == {"parse": []}
    assert follow.components[0]["components"][0]["custom_id"] == "more"
    callback = fake.requests_matching("POST", rf"/interactions/{rec.id}/")[0]
    assert callback.status == 200 and callback.query == {"with_response": "1"}
    async with aiohttp.ClientSession() as session:
        url = f"{fake.api_base}/interactions/{rec.id}/{rec.token}/callback"
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
            assert (resp.status, (await resp.json())["code"]) == (400, 40060)
    assert fake.unknown_requests == []


async def test_forgetting_a_finished_interaction_drops_its_messages_and_trims_the_logs(fake: FakeDiscord) -> None:
    async with fake.run_bot(PingBot()):
        first = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "one"})
        await fake.wait_for(lambda: any(r.kind == "followup" for r in first.responses))
        second = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "two"})
        await fake.wait_for(lambda: any(r.kind == "followup" for r in second.responses))
        fake.forget(first, keep_log=2)
    assert [m.content for m in fake.channel_messages(CHANNEL, include_deleted=True)] == ["two x1 (2/2)", "done"]
    assert first.id not in fake.interactions and first.token not in fake.interactions_by_token
    assert fake.interactions[second.id] is second and fake.find_message(first.original_message_id) is None
    assert len(fake.requests) == 2 and len(fake.sent_payloads) == 2 and len(fake.dispatched) <= 2


async def test_mention_reply_sends_allowed_mentions_none(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        asked = await fake.send_message(GUILD, CHANNEL, ALICE, "are you there?", mentions_bot=True)
        reply = await fake.wait_for(lambda: [m for m in fake.channel_messages(CHANNEL)
                                             if m.author.id == fake.bot_user.id])
    (reply,) = reply
    assert reply.content == "pong"
    assert reply.allowed_mentions == {"parse": []}
    assert reply.message_reference["message_id"] == str(asked.id)
    assert bot.seen[0].content == f"<@{fake.bot_user.id}> are you there?"
    # a reply-ping to the bot's message: no <@bot> in the content, the reference is resolved
    async with fake.run_bot(bot := PingBot()):
        again = await fake.send_message(GUILD, CHANNEL, ALICE, "again?", mentions_bot=True, reply_to=reply.id)
        await fake.wait_for(lambda: len(fake.all_sent_payloads()) == 2)
    assert bot.seen[0].content == "again?"
    assert bot.seen[0].reference.resolved.content == "pong"
    assert fake.channel_messages(CHANNEL)[-1].message_reference["message_id"] == str(again.id)
    assert [s.payload["allowed_mentions"] for s in fake.all_sent_payloads()] == [{"parse": []}] * 2
    posted = fake.requests_matching("POST", rf"/channels/{CHANNEL}/messages$")[0]
    assert posted.json["allowed_mentions"] == {"parse": []}


async def test_attachment_option_is_readable_by_the_bot(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "f"}, attachments=ATTACH)
        await fake.wait_for(lambda: any(r.kind == "followup" for r in rec.responses))
    assert bot.read_bytes == ATTACH["file"][1]
    option = rec.payload["data"]["options"][-1]
    assert option["type"] == 11
    assert rec.payload["data"]["resolved"]["attachments"][option["value"]]["filename"] == "notes.txt"


async def test_rate_limited_edit_is_retried_and_lands(fake: FakeDiscord) -> None:
    await fake.rate_limit_next("PATCH", r"/messages/@original$", retry_after=0.05)
    async with fake.run_bot(PingBot()):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "rl"})
        await fake.wait_for(lambda: any(r.kind == "followup" for r in rec.responses))
    patches = fake.requests_matching("PATCH", r"/messages/@original$")
    assert [p.status for p in patches] == [429, 200, 200]
    assert patches[1].time - patches[0].time >= 0.05
    assert patches[0].json == patches[1].json
    assert fake.find_message(rec.original_message_id).content == "rl x1 (2/2)"


async def test_component_click_updates_the_message(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "ping", {"word": "c"})
        await fake.wait_for(lambda: any(r.kind == "followup" for r in rec.responses))
        follow = fake.find_message(rec.responses[-1].message_id)
        click = await fake.send_component_click(follow, "more", ALICE)
        await fake.wait_for(lambda: click.responses)
    assert bot.clicks == ["more"]
    assert (click.responses[0].kind, click.responses[0].callback_type) == ("callback", 7)
    assert follow.content == "more!" and follow.components == []


async def test_thread_creation_dispatches_thread_create(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        channel = bot.get_channel(CHANNEL)
        async with channel.typing():
            thread = await channel.create_thread(name="answers", type=discord.ChannelType.public_thread)
        fetched = await bot.fetch_channel(thread.id)
        await fake.wait_for(lambda: bot.get_channel(thread.id))
        sent = await thread.send("in thread")
    assert thread.type is discord.ChannelType.public_thread and thread.parent_id == CHANNEL
    assert fake.channels[thread.id].type == 11 and fetched.name == "answers"
    assert [channel_id for _, channel_id in fake.typing] == [CHANNEL]
    assert fake.channel_messages(thread.id)[0].id == sent.id


async def test_messages_without_content_intent_arrive_empty_unless_mentioned(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        await fake.send_message(GUILD, CHANNEL, ALICE, "plain chatter")
        await fake.send_message(GUILD, CHANNEL, ALICE, "hello bot", mentions_bot=True)
        await fake.wait_for(lambda: len(bot.seen) >= 3)  # two user messages + the bot's echoed reply
    assert [m.content for m in bot.seen[:2]] == ["", f"<@{fake.bot_user.id}> hello bot"]
    assert bot.seen[2].author == bot.user


async def test_dm_reply_uploads_a_file_served_back(fake: FakeDiscord) -> None:
    async with fake.run_bot(PingBot()):
        asked = await fake.send_message(None, None, ALICE, "hi in private")
        await fake.wait_for(lambda: len(fake.channel_messages(asked.channel_id)) == 2)
    assert fake.channels[asked.channel_id].type == 1
    reply = fake.channel_messages(asked.channel_id)[1]
    assert reply.content == "dm reply" and reply.guild_id is None
    (posted,) = fake.requests_matching("POST", rf"/channels/{asked.channel_id}/messages$")
    assert [(f.filename, f.data) for f in posted.files] == [("a.bin", b"PDF-ish")]
    async with aiohttp.ClientSession() as session, session.get(reply.attachments[0]["url"]) as resp:
        assert await resp.read() == b"PDF-ish"


async def test_ephemeral_thinking_defer_is_filled_by_first_followup(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "whois", {"who": OWNER})
        await fake.wait_for(lambda: len(rec.responses) == 2)
        later = await fake.send_slash_command(GUILD, CHANNEL, OWNER, "whois", {"who": ALICE})
        await fake.wait_for(lambda: len(later.responses) == 2)
    assert [(r.kind, r.callback_type) for r in rec.responses] == [("callback", 5), ("followup", None)]
    (msg, _) = fake.channel_messages(CHANNEL)
    assert msg.id == rec.original_message_id == rec.responses[1].message_id
    assert msg.ephemeral and msg.content == "owner has 1 roles"  # just @everyone
    assert fake.find_message(later.original_message_id).content == "alice has 2 roles"
    assert [p.administrator for p in bot.perms] == [True, True]  # ALICE via role, OWNER as owner
    assert bot.seen == []  # ephemeral messages are not echoed on the gateway
    assert rec.payload["data"]["resolved"]["members"][str(OWNER)]["roles"] == []


async def test_injected_failures_and_missing_permissions_reach_the_bot() -> None:
    async with fake_with_guild() as fake:
        muted = GUILD + 1
        await fake.add_guild(muted, "Muted", owner_id=OWNER, channels=[text_channel(2003, "ro")],
                             roles=[role(muted, "@everyone", permissions=discord.Permissions(view_channel=True))])
        bot = PingBot()
        async with fake.run_bot(bot):
            await fake.fail_next("POST", rf"/channels/{CHANNEL}/messages$", 403, code=50001, message="Missing Access")
            with pytest.raises(discord.Forbidden) as failed:
                await bot.get_channel(CHANNEL).send("x")
            with pytest.raises(discord.Forbidden) as denied:
                await bot.get_channel(2003).send("y")
            await bot.get_channel(CHANNEL).send("z")
        assert (failed.value.code, denied.value.code) == (50001, 50013)
        assert [m.content for m in fake.channel_messages(CHANNEL)] == ["z"]


async def test_unknown_route_is_404_and_recorded(fake: FakeDiscord) -> None:
    bot = PingBot()
    async with fake.run_bot(bot):
        with pytest.raises(discord.NotFound):
            await bot.http.request(Route("GET", "/guilds/{guild_id}/bans", guild_id=GUILD))
    assert [(r.method, r.path) for r in fake.unknown_requests] == [("GET", f"/guilds/{GUILD}/bans")]


async def test_wrong_token_fails_login(fake: FakeDiscord) -> None:
    bot = PingBot()
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()


class ShardedBot(commands.AutoShardedBot):
    """Registers a global /hello that answers with the shard it ran on."""

    async def setup_hook(self) -> None:
        @app_commands.command(name="hello", description="Say hello")
        async def hello(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"hello from shard {interaction.guild.shard_id}")

        self.tree.add_command(hello)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # skip discord.py's 5 s pause between shard IDENTIFYs


async def test_autosharded_bot_connects_via_gateway_bot() -> None:
    other_guild = (1 << 22) | 7  # shard 1 of 2
    async with fake_with_guild(recommended_shards=2) as fake:
        await fake.add_guild(other_guild, "Other", owner_id=OWNER, channels=[text_channel(2002, "x")])
        bot = ShardedBot(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                         guild_ready_timeout=0.05)
        async with fake.run_bot(bot):
            assert bot.shard_count == 2
            assert {g.id: g.shard_id for g in bot.guilds} == {GUILD: 0, other_guild: 1}
            rec = await fake.send_slash_command(other_guild, 2002, OWNER, "hello")
            await fake.wait_for(lambda: rec.responses)
        assert "guild_id" not in rec.payload["data"]  # a global command
        assert fake.find_message(rec.original_message_id).content == "hello from shard 1"
        assert [shard for _, shard, event, _ in fake.dispatched if event == "INTERACTION_CREATE"] == [1]
        assert len(fake.requests_matching("GET", r"^/gateway/bot$")) == 1
        assert sorted(p["shard"] for p in fake.gateway.identify_payloads) == [[0, 2], [1, 2]]


async def test_endpoints_are_patched_inside_and_restored_after() -> None:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        assert Route.BASE == fake.api_base
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before
    assert before[0].startswith("https://discord.com/api/")


async def test_each_fake_run_is_fast(fake: FakeDiscord) -> None:
    started = time.monotonic()
    async with fake.run_bot(PingBot()):
        pass
    assert time.monotonic() - started < 1.0


class RulesBot(commands.Bot):
    """Breaks Discord's rules when told to: answers late or twice, sends over-long messages.
    Each step's outcome ("ok" or the HTTPException discord.py raised) goes to ``outcomes``."""

    def __init__(self) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                         guild_ready_timeout=0.05)
        self.outcomes: list[str | discord.HTTPException] = []

    async def step(self, coro: Any) -> Any:
        try:
            result = await coro
        except discord.HTTPException as exc:
            self.outcomes.append(exc)
            return None
        self.outcomes.append("ok")
        return result

    async def setup_hook(self) -> None:
        @app_commands.command(name="late", description="Defer, then answer, each after a pause")
        async def late(interaction: discord.Interaction, defer_after: float = 0.0, answer_after: float = 0.0) -> None:
            await asyncio.sleep(defer_after)
            await self.step(interaction.response.defer())
            await asyncio.sleep(answer_after)
            await self.step(interaction.followup.send("the answer"))

        @app_commands.command(name="twice", description="Acknowledge twice")
        async def twice(interaction: discord.Interaction) -> None:
            await self.step(interaction.response.send_message("first"))
            # a second InteractionResponse has no memory of the first, as in a second handler
            await self.step(discord.InteractionResponse(interaction).defer())

        @app_commands.command(name="say", description="Send `size` times `char` by `route`")
        async def say(interaction: discord.Interaction, route: str, size: int, char: str = "x") -> None:
            text = char * size
            if route == "callback":
                await self.step(interaction.response.send_message(text))
                return
            await interaction.response.defer()
            if route == "followup":
                await self.step(interaction.followup.send(text))
            elif route == "edit_original":
                await self.step(interaction.edit_original_response(content=text))
            elif route == "edit_followup":
                sent = await interaction.followup.send("short", wait=True)
                await self.step(sent.edit(content=text))
            elif route == "channel":
                await self.step(interaction.channel.send(text))
            elif route == "channel_edit":
                sent = await interaction.channel.send("short")
                await self.step(sent.edit(content=text))
            elif route == "embed":
                await self.step(interaction.followup.send(embed=discord.Embed(description=text)))

        for command in (late, twice, say):
            self.tree.add_command(command, guild=discord.Object(GUILD))
        await self.tree.sync(guild=discord.Object(GUILD))


async def test_deadlines_default_to_discords() -> None:
    fake = FakeDiscord()
    assert (fake.ack_deadline, fake.token_lifetime) == (3.0, 900.0)


async def test_a_late_acknowledgement_is_an_unknown_interaction_and_kills_the_token() -> None:
    async with fake_with_guild(ack_deadline=0.5) as fake:
        bot = RulesBot()
        async with fake.run_bot(bot):
            rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "late", {"defer_after": 0.7})
            with pytest.raises(TimeoutError, match=r"callback -> 404 \(code 10062: Unknown interaction\)"):
                await fake.wait_for(lambda: rec.responses, timeout=1.5)
            await fake.wait_for(lambda: len(bot.outcomes) == 2)
    late_defer, followup = bot.outcomes
    assert isinstance(late_defer, discord.NotFound) and (late_defer.status, late_defer.code) == (404, 10062)
    assert isinstance(followup, discord.NotFound) and followup.code == 10015  # the token was invalidated
    assert [(r.status, r.code, r.interaction_id) for r in rec.rejections] == [(404, 10062, rec.id),
                                                                              (404, 10015, rec.id)]
    assert fake.rejections == rec.rejections
    assert rec.rejections[0].time - rec.time > 0.5 and rec.rejections[0].request.path.endswith("/callback")
    assert rec.responses == [] and not rec.acknowledged and rec.original_message_id is None
    assert fake.channel_messages(CHANNEL) == []


async def test_an_acknowledgement_in_time_works_and_the_token_lives_on() -> None:
    async with fake_with_guild(ack_deadline=0.5) as fake:
        bot = RulesBot()
        async with fake.run_bot(bot):
            rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "late", {"answer_after": 0.7})
            await fake.wait_for(lambda: len(bot.outcomes) == 2)
    assert bot.outcomes == ["ok", "ok"]
    assert [(r.kind, r.callback_type) for r in rec.responses] == [("callback", 5), ("followup", None)]
    assert rec.responses[1].time - rec.time > 0.5  # follow-ups are not bound by the deadline
    assert fake.find_message(rec.original_message_id).content == "the answer"
    assert fake.rejections == [] and rec.acknowledged


async def test_an_expired_token_is_refused_for_follow_ups() -> None:
    async with fake_with_guild(token_lifetime=0.5) as fake:
        bot = RulesBot()
        async with fake.run_bot(bot):
            rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "late", {"answer_after": 0.7})
            await fake.wait_for(lambda: len(bot.outcomes) == 2)
    deferred, expired = bot.outcomes
    assert deferred == "ok"
    assert isinstance(expired, discord.HTTPException) and (expired.status, expired.code) == (401, 50027)
    assert [(r.status, r.code) for r in rec.rejections] == [(401, 50027)]
    assert [r.kind for r in rec.responses] == ["callback"]


async def test_a_second_acknowledgement_is_refused(fake: FakeDiscord) -> None:
    bot = RulesBot()
    async with fake.run_bot(bot):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "twice")
        await fake.wait_for(lambda: len(bot.outcomes) == 2)
    first, second = bot.outcomes
    assert first == "ok"
    assert isinstance(second, discord.HTTPException) and (second.status, second.code) == (400, 40060)
    assert [(r.kind, r.callback_type) for r in rec.responses] == [("callback", 4)]
    assert [(r.status, r.code) for r in rec.rejections] == [(400, 40060)]
    assert [m.content for m in fake.channel_messages(CHANNEL)] == ["first"]


ROUTES = ["callback", "followup", "edit_original", "edit_followup", "channel", "channel_edit"]


@pytest.mark.parametrize("route", ROUTES)
async def test_content_over_2000_characters_is_an_invalid_form_body(fake: FakeDiscord, route: str) -> None:
    bot = RulesBot()
    async with fake.run_bot(bot):
        too_long = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "say", {"route": route, "size": 2001})
        await fake.wait_for(lambda: len(bot.outcomes) == 1)
        at_limit = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "say", {"route": route, "size": 2000})
        await fake.wait_for(lambda: len(bot.outcomes) == 2)
    refused, sent = bot.outcomes
    field = "data.content" if route == "callback" else "content"
    assert isinstance(refused, discord.HTTPException) and (refused.status, refused.code) == (400, 50035)
    assert f"In {field}: Must be 2000 or fewer in length." in refused.text
    (rejection,) = fake.rejections
    assert rejection.message == "Invalid Form Body"
    assert rejection.interaction_id == (None if route.startswith("channel") else too_long.id)
    assert sent == "ok"
    assert [len(m.content) for m in fake.channel_messages(CHANNEL) if len(m.content) > 5] == [2000]
    assert all(len(p.payload.get("content") or "") <= 2000 for p in fake.all_sent_payloads())
    if route == "callback":  # a refused initial response does not acknowledge the interaction
        assert not too_long.acknowledged and too_long.responses == [] and at_limit.acknowledged


async def test_content_length_counts_code_points_like_discord(fake: FakeDiscord) -> None:
    bot = RulesBot()
    async with fake.run_bot(bot):
        rec = await fake.send_slash_command(GUILD, CHANNEL, ALICE, "say",
                                            {"route": "followup", "size": 2000, "char": "\N{GRINNING FACE}"})
        await fake.wait_for(lambda: bot.outcomes)
        await fake.send_slash_command(GUILD, CHANNEL, ALICE, "say",
                                      {"route": "followup", "size": 2001, "char": "\N{GRINNING FACE}"})
        await fake.wait_for(lambda: len(bot.outcomes) == 2)
    assert bot.outcomes[0] == "ok" and bot.outcomes[1].code == 50035
    assert fake.find_message(rec.original_message_id).content == "\N{GRINNING FACE}" * 2000  # 4,000 UTF-16 units


async def test_embed_limits_are_invalid_form_bodies(fake: FakeDiscord) -> None:
    bot = RulesBot()
    async with fake.run_bot(bot):
        await fake.send_slash_command(GUILD, CHANNEL, ALICE, "say", {"route": "embed", "size": 4097})
        await fake.wait_for(lambda: bot.outcomes)
    (refused,) = bot.outcomes
    assert refused.code == 50035 and "In embeds.0.description: Must be 4096 or fewer in length." in refused.text
    assert message_errors({"embeds": [{"description": "x" * 4096}]}) is None
    assert message_errors({"embeds": [{"description": "x" * 3000}, {"title": "t", "description": "x" * 3000}]}) == {
        "embeds": {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}]}}
    assert message_errors({"embeds": [{}] * 11})["embeds"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert message_errors({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}) == {
        "embeds": {"0": {"fields": {"0": {"value": {"_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 1024 or fewer in length."}]}}}}}}
    assert message_errors({"content": None, "embeds": None}) is None
