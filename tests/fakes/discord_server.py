"""A small fake Discord (REST + gateway) on 127.0.0.1 for end-to-end tests of a
real, unmodified discord.py 2.7 client.

Usage::

    from tests.fakes.discord_server import FakeDiscord, member, role, text_channel

    async def test_something():
        async with FakeDiscord() as fake:          # serves, and points discord.py at it
            await fake.add_guild(GUILD, "News", owner_id=OWNER,
                                 roles=[role(ADMINS, "admins", permissions=discord.Permissions(administrator=True))],
                                 channels=[text_channel(CHAN, "general")],
                                 members=[member(OWNER, "owner"), member(USER, "alice", roles=[ADMINS])])
            bot = MyBot(intents=discord.Intents.default(), guild_ready_timeout=0.05)
            async with fake.run_bot(bot):          # bot.start(fake.token) ... on_ready ... bot.close()
                rec = await fake.send_slash_command(GUILD, CHAN, USER, "ask", {"question": "hi?"})
                await fake.wait_for(lambda: any(r.kind == "edit_original" for r in rec.responses))
                msg = await fake.send_message(GUILD, CHAN, USER, "what's new?", mentions_bot=True)
                await fake.wait_for(lambda: fake.channel_messages(CHAN)[-1].author.id == fake.bot_user.id)
            assert not fake.unknown_requests

As a pytest fixture: ``@pytest.fixture async def fake(): async with FakeDiscord() as f: yield f``.

``async with FakeDiscord()`` sets the process-wide ``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` to the fake and restores them on exit
(``discord_endpoints(api_base, gateway_url)`` does only that). ``fake.token`` is the only
token accepted (REST 401 / gateway close 4004 otherwise). Pass ``guild_ready_timeout=0.05``
to the Bot so on_ready does not wait 2 s. AutoShardedBot works too (``GET /gateway/bot``
answers ``shards=recommended_shards``; guilds are spread over shards like Discord does).

Controls (all async): ``add_guild``, ``dispatch(event, data)``, ``send_slash_command``
(options typed from the command the bot registered; ``attachments={option: (filename,
bytes, content_type)}``, served at ``/attachments/...`` so ``Attachment.read()`` works),
``send_component_click``, ``send_message`` (guild or DM, mentions, replies),
``wait_for(predicate)`` (its TimeoutError names the rejections made while waiting),
``rate_limit_next`` (429 with ``Via`` + ``retry_after``, then success), ``fail_next`` (any
status/code).

Records: ``requests`` (every REST call, ``RecordedRequest``; ``status`` = what the fake
answered; paths here and in ``rate_limit_next``/``fail_next``/``requests_matching`` regexes
have no ``/api/v10`` prefix), ``unknown_requests`` (routes the fake lacks, answered 404),
``rejections`` (``Rejection``: request, status, code, message, errors, interaction_id; every
error a route answered because the bot broke a Discord rule, see below; not injected faults;
an interaction's own are also in ``InteractionRecord.rejections``), ``messages`` per
channel (``StoredMessage`` with ``edits``, ``allowed_mentions`` as sent, ``deleted``),
``interactions`` (``InteractionRecord.responses``: callback type 4/5/6/7/9, @original
get/edit/delete, follow-ups; each with ``time.monotonic()``), ``commands`` (synced,
``None`` key = global), ``command_syncs``, ``sent_payloads`` / ``all_sent_payloads()``
(every message create/edit payload from any route), ``typing`` ((time, channel_id)),
``dispatched`` ((time, shard_id, event, data) for every gateway DISPATCH sent).

Discord behaviour modelled: the bot's non-ephemeral messages are echoed as MESSAGE_CREATE/
UPDATE/DELETE; message events honour the GUILD_MESSAGES/DIRECT_MESSAGES intents and, without
MESSAGE_CONTENT, arrive with empty content unless the bot is mentioned, it is a DM, or the
bot wrote it; a thinking defer (callback 5) is a loading message that the first follow-up
or @original edit fills; posting to a guild channel needs VIEW_CHANNEL + SEND_MESSAGES from
the bot's roles (else 403/50013).

Discord's rules enforced (a refused request changes nothing and is kept in ``rejections``):

* The initial response (``POST /interactions/{id}/{token}/callback``, any type) must come
  within ``ack_deadline`` (default 3.0 s, ``None`` = no deadline) of the INTERACTION_CREATE
  dispatch, else 404 code 10062 "Unknown interaction" (discord.py: ``NotFound``); a second
  one gets 400 code 40060 "Interaction has already been acknowledged.".
* Webhook routes of an interaction (follow-ups, @original and follow-up get/edit/delete)
  need an acknowledged interaction (else 404 code 10015 "Unknown Webhook", as for a token
  invalidated at the deadline) whose token is younger than ``token_lifetime`` (default
  15 min, ``None`` = never expires), else 401 code 50027 "Invalid Webhook Token".
* Message payloads (channel send/edit, callback 4/7 ``data``, follow-ups, webhook edits) must
  fit ``discord_limits``: content at most 2,000 code points, embed limits; else 400 code
  50035 "Invalid Form Body" with ``errors`` by field (``BASE_TYPE_MAX_LENGTH``; a callback's
  under ``data``), which discord.py raises as ``HTTPException`` (``.code == 50035``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import discord
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket
from discord.http import Route

from .discord_channels import add_channel_routes
from .discord_control import ControlsMixin
from .discord_gateway import Gateway
from .discord_interactions import add_interaction_routes
from .discord_models import (
    DEFAULT_EVERYONE_PERMISSIONS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    member,
    new_snowflake,
    role,
    text_channel,
)
from .discord_records import InteractionRecord, InteractionResponseRecord, RecordedRequest, Rejection, SentPayload, StoredMessage
from .discord_rest import API_PREFIX, Router, add_core_routes, json_response

__all__ = ["FakeDiscord", "discord_endpoints", "member", "role", "text_channel", "FakeGuild",
           "FakeChannel", "FakeMember", "FakeRole", "FakeUser", "StoredMessage", "InteractionRecord",
           "InteractionResponseRecord", "RecordedRequest", "Rejection", "SentPayload"]


@contextlib.contextmanager
def discord_endpoints(api_base: str, gateway_url: str) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the given URLs, then restore them."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = api_base, yarl.URL(gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


class FakeDiscord(ControlsMixin):
    """See the module docstring. Construct, then ``async with`` (or ``start()``/``stop()``)."""

    def __init__(self, *, token: str = "fake-bot-token", bot_id: int = 900000000000000001,
                 bot_name: str = "newsbot", owner_id: int = 900000000000000002,
                 recommended_shards: int = 1, echo_bot_messages: bool = True,
                 ack_deadline: float | None = 3.0, token_lifetime: float | None = 15 * 60.0) -> None:
        self.token = token
        self.ack_deadline = ack_deadline  # seconds; None: no deadline
        self.token_lifetime = token_lifetime  # seconds; None: tokens never expire
        self.bot_user = FakeUser(bot_id, bot_name, bot=True)
        self.owner_user = FakeUser(owner_id, "app-owner")
        self.application_id = bot_id
        self.recommended_shards = recommended_shards
        self.echo_bot_messages = echo_bot_messages
        self.users: dict[int, FakeUser] = {u.id: u for u in (self.bot_user, self.owner_user)}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, list[StoredMessage]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[float, int | None, list[dict[str, Any]]]] = []
        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.rejections: list[Rejection] = []
        self.sent_payloads: list[SentPayload] = []
        self.typing: list[tuple[float, int]] = []
        self.dispatched: list[tuple[float, int, str, dict[str, Any]]] = []  # (time, shard, event, data)
        self.attachment_files: dict[int, tuple[str, bytes, str]] = {}
        self._dm_by_user: dict[int, FakeChannel] = {}
        self.gateway = Gateway(self)
        self.router = Router(self)
        add_core_routes(self.router, self)
        add_channel_routes(self.router, self)
        add_interaction_routes(self.router, self)
        self._runner: web.AppRunner | None = None
        self._patch: contextlib.ExitStack | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{att_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self.router.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        self._patch = contextlib.ExitStack()
        self._patch.enter_context(discord_endpoints(self.api_base, self.gateway_url))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._patch is not None:
            self._patch.close()
        await self.stop()

    @contextlib.asynccontextmanager
    async def run_bot(self, bot: discord.Client, *, ready_timeout: float = 5.0) -> AsyncIterator[discord.Client]:
        """Run ``bot.start(self.token)`` until the block ends; wait for on_ready first; close the bot after."""
        task = asyncio.create_task(bot.start(self.token), name="fake-discord-bot")
        try:
            deadline = time.monotonic() + ready_timeout
            while not bot.is_ready():
                if task.done():
                    task.result()  # re-raise why the bot stopped
                    raise RuntimeError("bot.start() returned before the bot was ready")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"bot not ready after {ready_timeout}s")
                await asyncio.sleep(0.005)
            yield bot
        finally:
            await bot.close()
            done, _ = await asyncio.wait({task}, timeout=5)
            if not done:
                task.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    # ---- state helpers used by the routes ------------------------------------------------
    def user(self, user_id: int) -> FakeUser:
        """The known user, or a new plain user ``user<id>``."""
        return self.users.setdefault(user_id, FakeUser(user_id, f"user{user_id}"))

    def dm_channel(self, user_id: int, channel_id: int | None = None) -> FakeChannel:
        if user_id not in self._dm_by_user:
            channel = FakeChannel(channel_id or new_snowflake(), "", 1, recipient=self.user(user_id))
            self._dm_by_user[user_id] = self.channels[channel.id] = channel
        return self._dm_by_user[user_id]

    def find_message(self, message_id: int) -> StoredMessage | None:
        for msgs in self.messages.values():
            for msg in reversed(msgs):  # newest first: lookups are nearly always of recent messages
                if msg.id == message_id:
                    return msg
        return None

    def forget(self, rec: InteractionRecord, *, keep_log: int = 100) -> None:
        """Drop a finished interaction, the messages it made, and all but the last ``keep_log``
        entries of each log. For long benchmarks: the fake's records would otherwise grow with
        every ask, in the bot's own process, and be part of what its garbage collections walk."""
        self.interactions.pop(rec.id, None)
        self.interactions_by_token.pop(rec.token, None)
        made = {m for m in (rec.original_message_id, *(r.message_id for r in rec.responses)) if m is not None}
        msgs = self.messages.get(rec.channel_id)
        if msgs:
            msgs[:] = [m for m in msgs if m.id not in made and m.interaction_id != rec.id]
        for log in (self.requests, self.sent_payloads, self.typing, self.dispatched):
            del log[:-keep_log]

    def store_attachment(self, filename: str, data: bytes, content_type: str, *,
                         ephemeral: bool = False) -> dict[str, Any]:
        att_id = new_snowflake()
        self.attachment_files[att_id] = (filename, data, content_type)
        url = f"{self.base_url}/attachments/{att_id}/{filename}"
        payload = {"id": str(att_id), "filename": filename, "size": len(data), "url": url,
                   "proxy_url": url, "content_type": content_type}
        return payload | ({"ephemeral": True} if ephemeral else {})

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        entry = self.attachment_files.get(int(request.match_info["att_id"]))
        if entry is None or entry[0] != request.match_info["filename"]:
            return json_response({"message": "404: Not Found", "code": 0}, status=404)
        return web.Response(body=entry[1], content_type=entry[2] or "application/octet-stream")

    def guild_create_payload(self, guild: FakeGuild) -> dict[str, Any]:
        return guild.payload()

    # ---- accessors -------------------------------------------------------------------
    def interaction_responses(self, interaction_id: int) -> list[InteractionResponseRecord]:
        return list(self.interactions[interaction_id].responses)

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        return [m for m in self.messages.get(channel_id, []) if include_deleted or not m.deleted]

    def all_sent_payloads(self) -> list[SentPayload]:
        return list(self.sent_payloads)

    def requests_matching(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.search(r.path)]

    def _everyone(self, guild_id: int) -> FakeRole:
        return role(guild_id, "@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS, position=0)

    def _add_members(self, guild: FakeGuild, members: Iterable[FakeMember]) -> None:
        for m in members:
            guild.members[m.id] = m
            self.users[m.id] = m.user
