"""Test controls of the fake Discord server: things "users" and "Discord" do to
the bot (guilds appearing, slash commands, button clicks, messages). Mixed into
``FakeDiscord``; see ``discord_server`` for the API.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .discord_gateway import GatewaySession
from .discord_interactions import build_options, component_type_of, find_command, interaction_base, new_record
from .discord_models import FakeChannel, FakeGuild, FakeMember, FakeRole, new_snowflake
from .discord_records import InteractionRecord, StoredMessage
from .discord_rest import Fault

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

AttachmentSpec = tuple[str, bytes, str]  # (filename, data, content_type)
GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 12, 1 << 15


class ControlsMixin:
    async def add_guild(self: FakeDiscord, guild_id: int, name: str, *, owner_id: int,
                        channels: Iterable[FakeChannel] = (), roles: Iterable[FakeRole] = (),
                        members: Iterable[FakeMember] = (), bot_roles: Iterable[int] = ()) -> FakeGuild:
        """Add a guild; the owner and the bot (with ``bot_roles``) are always members.

        ``@everyone`` (role id = guild id) gets default send/read permissions unless ``roles``
        has one. Before the bot connects the guild comes in READY; afterwards it is sent as
        GUILD_CREATE (the bot joined)."""
        guild = FakeGuild(guild_id, name, owner_id)
        for r in [self._everyone(guild_id), *roles]:
            guild.roles[r.id] = r
        for c in channels:
            c.guild_id = guild_id
            guild.channels[c.id] = self.channels[c.id] = c
        self._add_members(guild, members)
        if owner_id not in guild.members:
            self._add_members(guild, [FakeMember(self.user(owner_id))])
        if self.bot_user.id not in guild.members:
            self._add_members(guild, [FakeMember(self.bot_user, list(bot_roles))])
        self.guilds[guild_id] = guild
        await self.gateway.dispatch("GUILD_CREATE", guild.payload(), guild_id)
        return guild

    async def dispatch(self: FakeDiscord, event: str, data: dict[str, Any]) -> int:
        """Send any gateway event (to the shard of ``data["guild_id"]``); returns sessions reached."""
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        return await self.gateway.dispatch(event, data, guild_id)

    async def send_slash_command(self: FakeDiscord, guild_id: int | None, channel_id: int, user_id: int,
                                 name: str, options: dict[str, Any] | None = None, *,
                                 attachments: dict[str, AttachmentSpec] | None = None,
                                 locale: str = "en-US") -> InteractionRecord:
        """INTERACTION_CREATE type 2 for the registered command ``name`` ("group sub" for
        subcommands). Option values are typed by the registered option types; user/role/channel
        options take ids (resolved data is filled in); attachment options come from
        ``attachments``. ``guild_id=None`` means a DM with ``user_id``."""
        cmd, path = find_command(self, guild_id, name)
        data = interaction_base(self, 2, guild_id, channel_id, user_id, locale)
        resolved: dict[str, dict[str, Any]] = {}
        spec, holder = cmd.get("options", []), {"id": cmd["id"], "name": cmd["name"], "type": 1}
        node = holder
        for sub in path:
            found = next((o for o in spec if o["name"] == sub and o["type"] in (1, 2)), None)
            if found is None:
                raise LookupError(f"{cmd['name']!r} has no subcommand {sub!r}")
            child = {"name": sub, "type": found["type"]}
            node["options"], node, spec = [child], child, found.get("options", [])
        values = dict(options or {}) | dict(attachments or {})
        node["options"] = build_options(self, guild_id, spec, values, resolved)
        if resolved:
            holder["resolved"] = resolved
        if cmd.get("guild_id"):
            holder["guild_id"] = cmd["guild_id"]
        data["data"] = holder
        return await self._deliver(new_record(data, user_id, name=name))

    async def send_component_click(self: FakeDiscord, message: StoredMessage | int, custom_id: str,
                                   user_id: int, *, values: list[str] | None = None,
                                   component_type: int | None = None) -> InteractionRecord:
        """INTERACTION_CREATE type 3: ``user_id`` used component ``custom_id`` on ``message``
        (a select menu when ``values`` is given)."""
        msg = message if isinstance(message, StoredMessage) else self.find_message(message)
        if msg is None:
            raise LookupError(f"unknown message {message!r}")
        ctype = component_type or component_type_of(msg.components, custom_id)
        if ctype is None:
            raise LookupError(f"message {msg.id} has no component {custom_id!r}")
        data = interaction_base(self, 3, msg.guild_id, msg.channel_id, user_id, "en-US")
        data["data"] = {"custom_id": custom_id, "component_type": ctype} | (
            {"values": list(values)} if values is not None else {})
        data["message"] = msg.payload()
        rec = new_record(data, user_id, custom_id=custom_id)
        rec.original_message_id = msg.id
        return await self._deliver(rec)

    async def _deliver(self: FakeDiscord, rec: InteractionRecord) -> InteractionRecord:
        self.interactions[rec.id] = rec
        self.interactions_by_token[rec.token] = rec
        rec.time = time.monotonic()  # the acknowledgement deadline runs from the dispatch
        if not await self.gateway.dispatch("INTERACTION_CREATE", rec.payload, rec.guild_id):
            del self.interactions[rec.id], self.interactions_by_token[rec.token]
            raise RuntimeError("no connected bot received the interaction")
        return rec

    async def send_message(self: FakeDiscord, guild_id: int | None, channel_id: int | None, author_id: int,
                           content: str, *, mentions_bot: bool = False, reply_to: int | None = None,
                           mention_in_content: bool | None = None,
                           attachments: Iterable[AttachmentSpec] = ()) -> StoredMessage:
        """A user's MESSAGE_CREATE (``guild_id=None``: a DM; ``channel_id=None`` then picks the DM).

        ``mentions_bot`` puts the bot in ``mentions``; unless it is a reply (a reply ping), the
        content also gets a leading ``<@bot_id> `` (``mention_in_content`` overrides that).
        ``reply_to`` (a message id in the channel) adds message_reference + referenced_message."""
        if guild_id is None:
            channel = self.channels.get(channel_id or 0) or self.dm_channel(author_id, channel_id)
        else:
            channel = self.guilds[guild_id].channels[int(channel_id or 0)]
        guild = self.guilds.get(guild_id or 0)
        bot_id = self.bot_user.id
        if mention_in_content is None:
            mention_in_content = mentions_bot and reply_to is None
        if mention_in_content and f"<@{bot_id}>" not in content and f"<@!{bot_id}>" not in content:
            content = f"<@{bot_id}> {content}"
        msg = StoredMessage(new_snowflake(), channel.id, guild_id, self.user(author_id), content)
        if guild and author_id in guild.members:
            msg.member = guild.members[author_id].payload(with_user=False)
        if mentions_bot:
            mention = self.bot_user.payload()
            if guild:
                mention["member"] = guild.members[bot_id].payload(with_user=False)
            msg.mentions = [mention]
        msg.attachments = [self.store_attachment(*spec) for spec in attachments]
        if reply_to is not None:
            target = self.find_message(reply_to)
            if target is None or target.channel_id != channel.id:
                raise LookupError(f"no message {reply_to} in channel {channel.id}")
            msg.message_reference = {"type": 0, "message_id": str(reply_to), "channel_id": str(channel.id)}
            if guild_id:
                msg.message_reference["guild_id"] = str(guild_id)
            msg.referenced = target.payload()
        self.messages.setdefault(channel.id, []).append(msg)
        if not await self.dispatch_message_event("MESSAGE_CREATE", msg, force=True):
            self.messages[channel.id].remove(msg)
            raise RuntimeError("no connected bot received the message (check the messages intents)")
        return msg

    async def dispatch_message_event(self: FakeDiscord, event: str, msg: StoredMessage, *,
                                     force: bool = False) -> int:
        """MESSAGE_CREATE/UPDATE for ``msg``, filtered by each session's intents like Discord."""
        if not force and not self.echo_bot_messages:
            return 0
        data = msg.payload()
        bot_id = self.bot_user.id

        def for_session(session: GatewaySession, payload: dict[str, Any]) -> dict[str, Any] | None:
            if not session.intents & (GUILD_MESSAGES if msg.guild_id else DIRECT_MESSAGES):
                return None
            visible = (session.intents & MESSAGE_CONTENT or msg.guild_id is None or msg.author.id == bot_id
                       or any(int(m["id"]) == bot_id for m in msg.mentions))
            if visible:
                return payload
            return payload | {"content": "", "embeds": [], "attachments": [], "components": []}

        return await self.gateway.dispatch(event, data, msg.guild_id, transform=for_session)

    # ---- fault injection -----------------------------------------------------------------
    async def rate_limit_next(self: FakeDiscord, method: str, path_regex: str, retry_after: float = 0.05,
                              times: int = 1, *, is_global: bool = False) -> None:
        """The next ``times`` requests matching get 429 (``Via`` header, JSON ``retry_after``)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
                   "X-RateLimit-Scope": "global" if is_global else "user"}
        self.router.faults.append(Fault(method, re.compile(path_regex), 429, body, headers, times))

    async def fail_next(self: FakeDiscord, method: str, path_regex: str, status: int, *, code: int = 0,
                        message: str = "", times: int = 1) -> None:
        """The next ``times`` matching requests get ``status`` with ``{"message", "code"}``.
        (discord.py retries 500/502/504 itself after 1 s, 3 s, ...; prefer 4xx in fast tests.)"""
        body = {"message": message or f"{status}: injected failure", "code": code}
        self.router.faults.append(Fault(method, re.compile(path_regex), status, body, {}, times))

    # ---- waiting ---------------------------------------------------------------------
    async def wait_for(self: FakeDiscord, predicate: Callable[[], Any], timeout: float = 5.0, *,
                       interval: float = 0.005, message: str | None = None) -> Any:
        """Poll ``predicate()`` (may be async) until truthy; return its value or raise TimeoutError.

        The TimeoutError lists the requests the fake rejected while waiting (a late or second
        acknowledgement, a message over the limits, ...): they are the usual reason why what
        the test waits for never came."""
        deadline = time.monotonic() + timeout
        seen = len(self.rejections)
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                text = message or f"wait_for: condition still false after {timeout}s"
                rejected = self.rejections[seen:]
                if rejected:
                    text += "; rejected meanwhile: " + "; ".join(str(r) for r in rejected)
                raise TimeoutError(text)
            await asyncio.sleep(interval)
