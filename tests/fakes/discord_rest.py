"""REST half of the fake Discord server: request recording, fault injection,
routing, and the user/application/gateway/command routes. Channel routes are in
``discord_channels``, interaction and webhook routes in ``discord_interactions``.
See ``discord_server`` for the public API.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord_models import new_snowflake
from .discord_records import RecordedFile, RecordedRequest, Rejection

if TYPE_CHECKING:
    from .discord_records import InteractionRecord
    from .discord_server import FakeDiscord

API_PREFIX = "/api/v10"
Handler = Callable[["Call"], Awaitable[web.Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Content-Type exactly ``application/json`` (discord.py compares it verbatim)."""
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json",
                        headers=headers)


def error(status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return json_response(body, status=status)


def invalid_form_body(errors: dict[str, Any]) -> web.Response:
    """Discord's answer to a payload that fails validation (e.g. content over 2,000 characters)."""
    return error(400, "Invalid Form Body", 50035, errors)


def no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class Call:
    """What a route handler gets: the recorded request plus the path's captured groups."""

    request: RecordedRequest
    params: dict[str, str]
    headers: Any
    #: set by interaction/webhook handlers so that a refusal is also kept on the interaction
    interaction: InteractionRecord | None = None

    @property
    def json(self) -> Any:
        return self.request.json

    @property
    def files(self) -> list[RecordedFile]:
        return self.request.files


@dataclass
class Fault:
    """An injected failure for the next ``times`` matching requests."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and bool(self.pattern.search(path))


class Router:
    """Routes ``/api/v10/...`` requests; records every one; 404s unknown ones."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[Fault] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        """``template`` like ``/channels/{channel_id}/messages``; ``{x}`` matches one path segment."""
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path[len(API_PREFIX):] if request.path.startswith(API_PREFIX) else request.path
        recorded = await _record(request, path)
        self._fake.requests.append(recorded)
        response = await self._respond(request, recorded)
        recorded.status = response.status
        return response

    async def _respond(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        auth = request.headers.get("Authorization")
        if auth is not None and auth != f"Bot {self._fake.token}":
            return error(401, "401: Unauthorized")
        for fault in self.faults:
            if fault.matches(rec.method, rec.path):
                fault.times -= 1
                return json_response(fault.body, status=fault.status, headers=fault.headers)
        for method, pattern, handler in self._routes:
            match = pattern.match(rec.path)
            if match and method == rec.method:
                call = Call(rec, match.groupdict(), request.headers)
                response = await handler(call)
                if response.status >= 400:
                    self._reject(call, response)
                return response
        self._fake.unknown_requests.append(rec)
        return error(404, "404: Not Found")

    def _reject(self, call: Call, response: web.Response) -> None:
        """Keep a route's error answer in ``fake.rejections`` (and on its interaction)."""
        body = json.loads(response.body) if isinstance(response.body, bytes) else {}
        rec = call.interaction
        rejection = Rejection(call.request, response.status, int(body.get("code", 0)), body.get("message", ""),
                              body.get("errors"), rec.id if rec else None)
        self._fake.rejections.append(rejection)
        if rec is not None:
            rec.rejections.append(rejection)


async def _record(request: web.Request, path: str) -> RecordedRequest:
    body: Any = None
    files: list[RecordedFile] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                body = json.loads(data)
            else:
                files.append(RecordedFile(part.name or "", part.filename or "",  # type: ignore[union-attr]
                                          part.headers.get("Content-Type", ""), bytes(data)))
    elif request.can_read_body:
        raw = await request.read()
        if raw:
            body = json.loads(raw) if request.content_type == "application/json" else raw.decode()
    return RecordedRequest(request.method, path, dict(request.query), body, files, time.monotonic())


def add_core_routes(router: Router, fake: FakeDiscord) -> None:
    """Login, application info, gateway discovery and application-command sync."""

    async def me(call: Call) -> web.Response:
        return json_response(fake.bot_user.payload() | {"verified": True, "mfa_enabled": False, "flags": 0})

    async def application(call: Call) -> web.Response:
        return json_response({
            "id": str(fake.application_id), "name": fake.bot_user.name, "description": "", "icon": None,
            "bot_public": False, "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0,
            "owner": {"id": str(fake.owner_user.id), "username": fake.owner_user.name,
                      "discriminator": "0", "avatar": None},
            "summary": "", "bot": fake.bot_user.payload(),
        })

    async def gateway(call: Call) -> web.Response:
        return json_response({"url": fake.gateway_url})

    async def gateway_bot(call: Call) -> web.Response:
        return json_response({"url": fake.gateway_url, "shards": fake.recommended_shards,
                              "session_start_limit": {"total": 1000, "remaining": 999,
                                                      "reset_after": 0, "max_concurrency": 1}})

    def _check_app(call: Call) -> web.Response | None:
        if int(call.params["app_id"]) != fake.application_id:
            return error(404, "Unknown Application", 10002)
        return None

    async def put_commands(call: Call) -> web.Response:
        if (bad := _check_app(call)) is not None:
            return bad
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        stored = []
        for cmd in call.json or []:
            stored.append(cmd | {"id": str(new_snowflake()), "application_id": str(fake.application_id),
                                 "version": str(new_snowflake()), "type": cmd.get("type", 1),
                                 "description": cmd.get("description", "")}
                          | ({"guild_id": str(guild_id)} if guild_id else {}))
        fake.commands[guild_id] = stored
        fake.command_syncs.append((time.monotonic(), guild_id, stored))
        return json_response(stored)

    async def get_commands(call: Call) -> web.Response:
        if (bad := _check_app(call)) is not None:
            return bad
        guild_id = int(call.params["guild_id"]) if "guild_id" in call.params else None
        return json_response(fake.commands.get(guild_id, []))

    router.add("GET", "/users/@me", me)
    router.add("GET", "/oauth2/applications/@me", application)
    router.add("GET", "/applications/@me", application)
    router.add("GET", "/gateway", gateway)
    router.add("GET", "/gateway/bot", gateway_bot)
    for template in ("/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"):
        router.add("PUT", template, put_commands)
        router.add("GET", template, get_commands)
