"""Channel routes of the fake Discord server and the message store operations
shared with the interaction/webhook routes. See ``discord_server`` for the API.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord_limits import message_errors
from .discord_models import FakeChannel, iso_now, new_snowflake
from .discord_records import MessageEdit, RecordedFile, SentPayload, StoredMessage
from .discord_rest import Call, Router, error, invalid_form_body, json_response, no_content

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

SEND_MESSAGES, VIEW_CHANNEL, SEND_IN_THREADS = 1 << 11, 1 << 10, 1 << 38
_MENTION = re.compile(r"<@!?(\d+)>")


def _attachments(fake: FakeDiscord, listed: list[dict[str, Any]] | None, files: list[RecordedFile],
                 existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Discord's rule: ``attachments`` in the payload lists what to keep; new files are added."""
    kept = existing if listed is None else [a for a in existing
                                            if a["id"] in {str(x.get("id")) for x in listed}]
    new = [fake.store_attachment(f.filename, f.data, f.content_type or "application/octet-stream")
           for f in files]
    return kept + new


def _mentions(fake: FakeDiscord, content: str | None) -> list[dict[str, Any]]:
    ids = dict.fromkeys(int(m) for m in _MENTION.findall(content or ""))
    return [fake.users[i].payload() for i in ids if i in fake.users]


async def create_bot_message(fake: FakeDiscord, channel_id: int, payload: dict[str, Any],
                             files: list[RecordedFile], *, route: str, interaction_id: int | None = None,
                             extra_flags: int = 0) -> StoredMessage:
    """Store a message the bot sent and (unless ephemeral or loading) echo MESSAGE_CREATE."""
    channel = fake.channels[channel_id]
    msg = StoredMessage(new_snowflake(), channel_id, channel.guild_id, fake.bot_user,
                        interaction_id=interaction_id, payload_sent=payload,
                        webhook_id=fake.application_id if route != "channel" else None)
    msg.apply(payload)
    msg.flags |= extra_flags
    msg.attachments = _attachments(fake, payload.get("attachments"), files, [])
    msg.mentions = _mentions(fake, msg.content)
    ref = payload.get("message_reference")
    if ref:
        msg.message_reference = {"type": 0, "message_id": str(ref["message_id"]),
                                 "channel_id": str(ref.get("channel_id") or channel_id)}
        if channel.guild_id:
            msg.message_reference["guild_id"] = str(channel.guild_id)
        target = fake.find_message(int(ref["message_id"]))
        msg.referenced = target.payload() if target else None
    fake.messages.setdefault(channel_id, []).append(msg)
    if route != "interaction_callback" or payload:
        fake.sent_payloads.append(SentPayload("create", route, msg.id, channel_id, payload, msg.time))
    if not msg.ephemeral and not msg.flags & 128:
        await fake.dispatch_message_event("MESSAGE_CREATE", msg)
    return msg


async def edit_message(fake: FakeDiscord, msg: StoredMessage, payload: dict[str, Any],
                       files: list[RecordedFile], *, route: str) -> StoredMessage:
    """Apply an edit, keep it in ``msg.edits`` and ``fake.sent_payloads``; echo MESSAGE_UPDATE."""
    now = time.monotonic()
    was_loading = bool(msg.flags & 128)
    msg.apply(payload)
    msg.flags &= ~128
    if "content" in payload:
        msg.mentions = _mentions(fake, msg.content)
    if files or "attachments" in payload:
        msg.attachments = _attachments(fake, payload.get("attachments"), files, msg.attachments)
    msg.edited_timestamp = None if was_loading else iso_now()
    msg.edits.append(MessageEdit(now, payload))
    fake.sent_payloads.append(SentPayload("edit", route, msg.id, msg.channel_id, payload, now))
    if not msg.ephemeral:
        event = "MESSAGE_CREATE" if was_loading else "MESSAGE_UPDATE"
        await fake.dispatch_message_event(event, msg)
    return msg


async def delete_message(fake: FakeDiscord, msg: StoredMessage) -> None:
    msg.deleted = True
    data = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
    if msg.guild_id:
        data["guild_id"] = str(msg.guild_id)
    if not msg.ephemeral:
        await fake.gateway.dispatch("MESSAGE_DELETE", data, msg.guild_id)


def add_channel_routes(router: Router, fake: FakeDiscord) -> None:
    def channel_of(call: Call) -> FakeChannel | None:
        return fake.channels.get(int(call.params["channel_id"]))

    def message_of(call: Call) -> StoredMessage | None:
        msg = fake.find_message(int(call.params["message_id"]))
        return msg if msg and msg.channel_id == int(call.params["channel_id"]) and not msg.deleted else None

    def forbidden(channel: FakeChannel) -> web.Response | None:
        if channel.guild_id is None:
            return None
        perms = fake.guilds[channel.guild_id].permissions_for(fake.bot_user.id)
        needed = VIEW_CHANNEL | (SEND_IN_THREADS if channel.type in (10, 11, 12) else SEND_MESSAGES)
        return None if perms & needed == needed else error(403, "Missing Permissions", 50013)

    async def get_channel(call: Call) -> web.Response:
        channel = channel_of(call)
        return json_response(channel.payload()) if channel else error(404, "Unknown Channel", 10003)

    async def post_message(call: Call) -> web.Response:
        channel = channel_of(call)
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        if (errors := message_errors(call.json)) is not None:
            return invalid_form_body(errors)
        if (denied := forbidden(channel)) is not None:
            return denied
        msg = await create_bot_message(fake, channel.id, call.json or {}, call.files, route="channel")
        return json_response(msg.payload())

    async def history(call: Call) -> web.Response:
        if channel_of(call) is None:
            return error(404, "Unknown Channel", 10003)
        q = call.request.query
        msgs = [m for m in fake.messages.get(int(call.params["channel_id"]), []) if not m.deleted]
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])]
        msgs = sorted(msgs, key=lambda m: m.id, reverse="after" not in q)[: int(q.get("limit", 50))]
        return json_response([m.payload() for m in msgs])

    async def get_message(call: Call) -> web.Response:
        msg = message_of(call)
        return json_response(msg.payload()) if msg else error(404, "Unknown Message", 10008)

    async def patch_message(call: Call) -> web.Response:
        msg = message_of(call)
        if msg is None:
            return error(404, "Unknown Message", 10008)
        if (errors := message_errors(call.json)) is not None:
            return invalid_form_body(errors)
        if msg.author.id != fake.bot_user.id:
            return error(403, "Cannot edit a message authored by another user", 50005)
        await edit_message(fake, msg, call.json or {}, call.files, route="channel")
        return json_response(msg.payload())

    async def delete(call: Call) -> web.Response:
        msg = message_of(call)
        if msg is None:
            return error(404, "Unknown Message", 10008)
        await delete_message(fake, msg)
        return no_content()

    async def typing(call: Call) -> web.Response:
        if channel_of(call) is None:
            return error(404, "Unknown Channel", 10003)
        fake.typing.append((time.monotonic(), int(call.params["channel_id"])))
        return no_content()

    async def reaction(call: Call) -> web.Response:
        msg = message_of(call)
        if msg is None:
            return error(404, "Unknown Message", 10008)
        emoji = call.params["emoji"]
        if call.request.method == "PUT":
            msg.reactions.append(emoji)
        elif emoji in msg.reactions:
            msg.reactions.remove(emoji)
        return no_content()

    async def create_thread(call: Call) -> web.Response:
        parent = channel_of(call)
        if parent is None or parent.guild_id is None:
            return error(404, "Unknown Channel", 10003)
        body = call.json or {}
        from_message = "message_id" in call.params
        if from_message and message_of(call) is None:
            return error(404, "Unknown Message", 10008)
        thread_id = int(call.params["message_id"]) if from_message else new_snowflake()
        thread = FakeChannel(thread_id, body.get("name", "thread"), body.get("type", 11),
                             guild_id=parent.guild_id, parent_id=parent.id, owner_id=fake.bot_user.id)
        fake.channels[thread.id] = thread
        fake.guilds[parent.guild_id].channels[thread.id] = thread
        data = thread.payload()
        await fake.gateway.dispatch("THREAD_CREATE", data | {"newly_created": True}, parent.guild_id)
        return json_response(data, status=201)

    async def create_dm(call: Call) -> web.Response:
        user_id = int((call.json or {}).get("recipient_id", 0))
        if user_id not in fake.users:
            return error(400, "Invalid Form Body", 50035)
        return json_response(fake.dm_channel(user_id).payload())

    base = "/channels/{channel_id}"
    router.add("GET", base, get_channel)
    router.add("POST", base + "/messages", post_message)
    router.add("GET", base + "/messages", history)
    router.add("GET", base + "/messages/{message_id}", get_message)
    router.add("PATCH", base + "/messages/{message_id}", patch_message)
    router.add("DELETE", base + "/messages/{message_id}", delete)
    router.add("POST", base + "/typing", typing)
    router.add("PUT", base + "/messages/{message_id}/reactions/{emoji}/@me", reaction)
    router.add("DELETE", base + "/messages/{message_id}/reactions/{emoji}/@me", reaction)
    router.add("POST", base + "/threads", create_thread)
    router.add("POST", base + "/messages/{message_id}/threads", create_thread)
    router.add("POST", "/users/@me/channels", create_dm)
