"""Gateway (websocket) half of the fake Discord server; see ``discord_server``.

Speaks the v10 JSON gateway: HELLO -> IDENTIFY -> READY (guilds listed as
unavailable) -> one GUILD_CREATE per guild of the shard; HEARTBEAT is acked;
REQUEST_GUILD_MEMBERS gets one GUILD_MEMBERS_CHUNK; RESUME gets INVALID_SESSION
(false) so discord.py identifies afresh. Frames are always sent as uncompressed
text: discord.py asks for ``compress=zlib-stream``/``zstd-stream`` in the URL but
only decompresses *binary* frames, so text frames need no compression.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

_log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_RESUME = 0, 1, 2, 3, 6
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11
BAD_TOKEN_CLOSE_CODE = 4004
DISALLOWED_INTENTS_CLOSE_CODE = 4014
PRIVILEGED_INTENTS = 1 << 1 | 1 << 8 | 1 << 15  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT


@dataclass
class GatewaySession:
    """One websocket connection (one shard)."""

    ws: web.WebSocketResponse
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    shard_id: int = 0
    shard_count: int = 1
    intents: int = 0
    seq: int = 0
    identified: bool = False
    ready: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)

    def handles_guild(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id


Transform = Callable[[GatewaySession, dict[str, Any]], "dict[str, Any] | None"]


class Gateway:
    """Accepts gateway connections and sends dispatches to the right shard(s)."""

    def __init__(self, fake: FakeDiscord, *, heartbeat_interval_ms: int = 41250) -> None:
        self._fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: list[GatewaySession] = []
        self.identify_payloads: list[dict[str, Any]] = []
        # The privileged intents the application has enabled in the developer portal; identifying
        # with another one closes the connection with 4014, as Discord does.
        self.enabled_privileged_intents = PRIVILEGED_INTENTS
        self._lock = asyncio.Lock()

    @property
    def ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.ready and not s.ws.closed]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        try:
            await self._send(session, {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                                       "s": None, "t": None})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_message(session, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            session.ready = False
        return ws

    async def _on_message(self, session: GatewaySession, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d")
        session.received.append(msg)
        if op == OP_HEARTBEAT:
            await self._send(session, {"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(session, data or {})
        elif op == OP_RESUME:
            await self._send(session, {"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
        elif op == OP_REQUEST_MEMBERS:
            await self._send_member_chunk(session, data or {})
        elif op != OP_PRESENCE:
            _log.warning("fake gateway: unhandled op %s", op)

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        fake = self._fake
        self.identify_payloads.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != fake.token:
            await session.ws.close(code=BAD_TOKEN_CLOSE_CODE, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.enabled_privileged_intents:  # not enabled in the developer portal
            await session.ws.close(code=DISALLOWED_INTENTS_CLOSE_CODE, message=b"Disallowed intent(s).")
            return
        session.shard_id, session.shard_count = data.get("shard") or [0, 1]
        session.intents = intents
        session.identified = True
        guilds = [g for g in fake.guilds.values() if session.handles_guild(g.id)]
        ready: dict[str, Any] = {
            "v": 10, "user": fake.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id, "session_type": "normal",
            "resume_gateway_url": fake.gateway_url, "private_channels": [], "relationships": [],
            "application": {"id": str(fake.application_id), "flags": 0},
            "shard": [session.shard_id, session.shard_count],
        }
        async with self._lock:
            await self._dispatch_to(session, "READY", ready)
            for guild in guilds:
                await self._dispatch_to(session, "GUILD_CREATE", fake.guild_create_payload(guild))
            session.ready = True

    async def _send_member_chunk(self, session: GatewaySession, data: dict[str, Any]) -> None:
        guild = self._fake.guilds.get(int(data.get("guild_id", 0)))
        members = [m.payload() for m in guild.members.values()] if guild else []
        chunk: dict[str, Any] = {"guild_id": str(data.get("guild_id")), "members": members,
                                 "chunk_index": 0, "chunk_count": 1, "not_found": []}
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None, *,
                       transform: Transform | None = None) -> int:
        """Send a DISPATCH to every ready session handling ``guild_id``; returns how many got it.

        ``transform(session, data)`` may return a per-session variant, or None to skip the session.
        """
        sent = 0
        async with self._lock:
            for session in self.ready_sessions:
                if session.handles_guild(guild_id):
                    payload = transform(session, data) if transform else data
                    if payload is not None:
                        await self._dispatch_to(session, event, payload)
                        sent += 1
        return sent

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        await self._send(session, {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})
        self._fake.dispatched.append((time.monotonic(), session.shard_id, event, data))

    @staticmethod
    async def _send(session: GatewaySession, msg: dict[str, Any]) -> None:
        if not session.ws.closed:
            await session.ws.send_str(json.dumps(msg))

    async def close_all(self, code: int = 1001) -> None:
        for session in self.sessions:
            if not session.ws.closed:
                await session.ws.close(code=code)
