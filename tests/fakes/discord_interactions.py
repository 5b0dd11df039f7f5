"""Interactions in the fake Discord server: INTERACTION_CREATE payloads (slash
commands typed from the registered command, component clicks) and the routes the
bot answers with (callback, @original, follow-ups). See ``discord_server``.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord_channels import create_bot_message, delete_message, edit_message
from .discord_limits import message_errors
from .discord_models import new_snowflake
from .discord_records import InteractionRecord, InteractionResponseRecord, StoredMessage
from .discord_rest import Call, Router, error, invalid_form_body, json_response, no_content

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

LOADING, EPHEMERAL = 128, 64
_SCALARS = {3: str, 4: int, 5: bool, 10: float}


def find_command(fake: FakeDiscord, guild_id: int | None, name: str) -> tuple[dict[str, Any], list[str]]:
    """The registered chat-input command called ``name`` (guild commands first, then global)."""
    top = name.split()[0]
    for scope in ((guild_id, None) if guild_id else (None,)):
        for cmd in fake.commands.get(scope, []):
            if cmd["name"] == top and cmd.get("type", 1) == 1:
                return cmd, name.split()[1:]
    known = sorted(c["name"] for cmds in fake.commands.values() for c in cmds)
    raise LookupError(f"no registered slash command {top!r} (registered: {known}); did the bot sync?")


def build_options(fake: FakeDiscord, guild_id: int | None, spec: list[dict[str, Any]], values: dict[str, Any],
                  resolved: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Type ``values`` by the registered option ``spec``; fill ``resolved`` for snowflake options."""
    by_name = {o["name"]: o for o in spec}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; command has {sorted(by_name)}")
    missing = [o["name"] for o in spec if o.get("required") and o["name"] not in values]
    if missing:
        raise ValueError(f"required option(s) missing: {missing}")
    out = []
    for opt in spec:
        if opt["name"] not in values:
            continue
        kind, value = opt["type"], values[opt["name"]]
        if kind in _SCALARS:
            value = _SCALARS[kind](value)
        elif kind == 11:
            filename, data, content_type = value
            att = fake.store_attachment(filename, data, content_type, ephemeral=True)
            resolved.setdefault("attachments", {})[att["id"]] = att
            value = att["id"]
        else:
            value = _resolve_snowflake(fake, guild_id, kind, int(getattr(value, "id", value)), resolved)
        out.append({"name": opt["name"], "type": kind, "value": value})
    return out


def _resolve_snowflake(fake: FakeDiscord, guild_id: int | None, kind: int, sid: int,
                       resolved: dict[str, dict[str, Any]]) -> str:
    guild = fake.guilds.get(guild_id or 0)
    if kind in (6, 9) and sid in fake.users:
        resolved.setdefault("users", {})[str(sid)] = fake.users[sid].payload()
        if guild and sid in guild.members:
            data = guild.members[sid].payload(with_user=False, permissions=guild.permissions_for(sid))
            resolved.setdefault("members", {})[str(sid)] = data
    elif kind in (8, 9) and guild and sid in guild.roles:
        resolved.setdefault("roles", {})[str(sid)] = guild.roles[sid].payload()
    elif kind == 7 and sid in fake.channels:
        data = fake.channels[sid].payload()
        resolved.setdefault("channels", {})[str(sid)] = data | {"permissions": str(
            guild.permissions_for(fake.bot_user.id) if guild else 0)}
    else:
        raise ValueError(f"option of type {kind}: unknown id {sid}")
    return str(sid)


def interaction_base(fake: FakeDiscord, itype: int, guild_id: int | None, channel_id: int, user_id: int,
                     locale: str) -> dict[str, Any]:
    channel = fake.channels[channel_id] if guild_id else fake.dm_channel(user_id)
    iid = new_snowflake()
    data: dict[str, Any] = {
        "id": str(iid), "application_id": str(fake.application_id), "type": itype,
        "token": f"itok-{iid}-{secrets.token_hex(8)}", "version": 1, "channel_id": str(channel.id),
        "channel": channel.payload(), "locale": locale, "attachment_size_limit": 25 * 1024 * 1024,
        "entitlements": [], "context": 0 if guild_id else 1,
        "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
    }
    if guild_id:
        guild = fake.guilds[guild_id]
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
        data.update(guild_id=str(guild_id), guild_locale="en-US",
                    guild={"id": str(guild_id), "locale": "en-US", "features": []},
                    member=guild.members[user_id].payload(permissions=guild.permissions_for(user_id)),
                    app_permissions=str(guild.permissions_for(fake.bot_user.id)))
    else:
        data.update(user=fake.user(user_id).payload(), app_permissions="0")
    return data


def new_record(data: dict[str, Any], user_id: int, *, name: str | None = None,
               custom_id: str | None = None) -> InteractionRecord:
    return InteractionRecord(int(data["id"]), data["token"], data["type"], int(data.get("guild_id", 0)) or None,
                             int(data["channel_id"]), user_id, name, custom_id, data, time.monotonic())


def component_type_of(components: list[dict[str, Any]], custom_id: str) -> int | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return int(comp["type"])
        for key in ("components", "accessory", "component"):
            inner = comp.get(key)
            found = component_type_of(inner if isinstance(inner, list) else [inner] if inner else [], custom_id)
            if found is not None:
                return found
    return None


def add_interaction_routes(router: Router, fake: FakeDiscord) -> None:
    def log(rec: InteractionRecord, kind: str, payload: Any, *, ctype: int | None = None,
            message_id: int | None = None) -> None:
        rec.responses.append(InteractionResponseRecord(kind, time.monotonic(), payload, ctype, message_id))

    async def callback(call: Call) -> web.Response:
        rec = fake.interactions.get(int(call.params["iid"]))
        if rec is None or rec.token != call.params["token"]:
            return error(404, "Unknown interaction", 10062)
        call.interaction = rec
        body = call.json or {}
        ctype, data = int(body.get("type", 0)), body.get("data") or {}
        if ctype in (4, 7) and (errors := message_errors(data)) is not None:
            return invalid_form_body({"data": errors})
        if rec.acknowledged:
            return error(400, "Interaction has already been acknowledged.", 40060)
        if fake.ack_deadline is not None and call.request.time - rec.time > fake.ack_deadline:
            return error(404, "Unknown interaction", 10062)  # Discord has invalidated it
        rec.acknowledged = True  # before any await: a concurrent second callback gets 40060
        info: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        result: dict[str, Any] = {"interaction": info}
        msg: StoredMessage | None = None
        if ctype in (4, 5):
            msg = await create_bot_message(fake, rec.channel_id, data if ctype == 4 else {}, call.files,
                                           route="interaction_callback", interaction_id=rec.id,
                                           extra_flags=(LOADING | (data.get("flags", 0) & EPHEMERAL))
                                           if ctype == 5 else 0)
            rec.original_message_id = msg.id
        elif ctype in (6, 7) and rec.original_message_id is not None:
            msg = fake.find_message(rec.original_message_id)
            if ctype == 7 and msg is not None:
                await edit_message(fake, msg, data, call.files, route="interaction_callback")
        log(rec, "callback", body, ctype=ctype, message_id=msg.id if msg else None)
        if msg is not None:
            info.update(response_message_id=str(msg.id), response_message_loading=bool(msg.flags & LOADING),
                        response_message_ephemeral=msg.ephemeral)
            if ctype != 6:
                result["resource"] = {"type": ctype, "message": msg.payload()}
        return json_response(result)

    def interaction_of(call: Call) -> InteractionRecord | web.Response:
        """The interaction whose token the webhook route names, or Discord's refusal: an
        unacknowledged token (none yet, or invalidated at the deadline) is an unknown webhook;
        an acknowledged one expires ``token_lifetime`` after the interaction was created."""
        rec = fake.interactions_by_token.get(call.params["token"])
        if int(call.params["app_id"]) != fake.application_id or rec is None:
            return error(404, "Unknown Webhook", 10015)
        call.interaction = rec
        if not rec.acknowledged:
            return error(404, "Unknown Webhook", 10015)
        if fake.token_lifetime is not None and call.request.time - rec.time > fake.token_lifetime:
            return error(401, "Invalid Webhook Token", 50027)
        return rec

    def target(call: Call, rec: InteractionRecord) -> StoredMessage | None:
        mid = call.params["message_id"]
        msg_id = rec.original_message_id if mid == "@original" else int(mid)
        msg = fake.find_message(msg_id) if msg_id else None
        return msg if msg and not msg.deleted and (msg.interaction_id == rec.id or msg_id ==
                                                   rec.original_message_id) else None

    async def followup(call: Call) -> web.Response:
        rec = interaction_of(call)
        if isinstance(rec, web.Response):
            return rec
        payload = call.json or {}
        if (errors := message_errors(payload)) is not None:
            return invalid_form_body(errors)
        original = fake.find_message(rec.original_message_id) if rec.original_message_id else None
        if original is not None and not original.deleted and original.flags & LOADING:  # first follow-up fills a thinking defer
            msg = await edit_message(fake, original, payload | {"flags": original.flags & EPHEMERAL},
                                     call.files, route="webhook")
            msg.edits.pop()
            fake.sent_payloads[-1].kind = "create"
        else:
            msg = await create_bot_message(fake, rec.channel_id, payload, call.files, route="webhook",
                                           interaction_id=rec.id)
        log(rec, "followup", payload, message_id=msg.id)
        return json_response(msg.payload()) if call.request.query.get("wait") in ("1", "true") else no_content()

    async def webhook_message(call: Call) -> web.Response:
        rec = interaction_of(call)
        if isinstance(rec, web.Response):
            return rec
        msg = target(call, rec)
        suffix = "original" if call.params["message_id"] == "@original" else "followup"
        method = call.request.method
        if msg is None:
            return error(404, "Unknown Message", 10008)
        if method == "PATCH" and (errors := message_errors(call.json)) is not None:
            return invalid_form_body(errors)
        if method == "GET":
            log(rec, f"get_{suffix}", None, message_id=msg.id)
            return json_response(msg.payload())
        if method == "DELETE":
            await delete_message(fake, msg)
            log(rec, f"delete_{suffix}", None, message_id=msg.id)
            return no_content()
        await edit_message(fake, msg, call.json or {}, call.files, route="webhook")
        log(rec, f"edit_{suffix}", call.json or {}, message_id=msg.id)
        return json_response(msg.payload())

    router.add("POST", "/interactions/{iid}/{token}/callback", callback)
    router.add("POST", "/webhooks/{app_id}/{token}", followup)
    for method in ("GET", "PATCH", "DELETE"):
        router.add(method, "/webhooks/{app_id}/{token}/messages/{message_id}", webhook_message)

