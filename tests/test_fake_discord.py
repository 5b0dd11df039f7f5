"""The fake Discord server works with the real discord.py client (a throwaway bot)."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

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
async def fake_with_guild(*, recommended_shards: int = 1) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(recommended_shards=recommended_shards) as fake:
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
