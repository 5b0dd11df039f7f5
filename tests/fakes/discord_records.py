"""Records the fake Discord server keeps for tests to assert on: requests,
rejections, stored messages with their edits, sent payloads and interactions. See
``discord_server`` for the API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .discord_models import FakeUser, iso_now


@dataclass
class RecordedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST request as the fake received it (``path`` has no ``/api/v10`` prefix)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    time: float
    status: int = 0


@dataclass
class Rejection:
    """A request the fake refused as Discord would (a rule it enforces, e.g. the 3 s
    acknowledgement deadline, a second acknowledgement, the 2,000-character limit, missing
    permissions or an unknown id). Injected faults and unknown routes are not rejections."""

    request: RecordedRequest
    status: int
    code: int
    message: str
    errors: dict[str, Any] | None = None
    interaction_id: int | None = None

    @property
    def time(self) -> float:
        return self.request.time

    def __str__(self) -> str:
        detail = f" {self.errors}" if self.errors else ""
        return (f"{self.request.method} {self.request.path} -> {self.status} "
                f"(code {self.code}: {self.message}){detail}")


@dataclass
class MessageEdit:
    time: float
    payload: dict[str, Any]


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    flags: int = 0
    message_reference: dict[str, Any] | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    interaction_id: int | None = None
    webhook_id: int | None = None
    payload_sent: dict[str, Any] | None = None
    time: float = field(default_factory=time.monotonic)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    deleted: bool = False
    member: dict[str, Any] | None = None
    referenced: dict[str, Any] | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)

    def apply(self, payload: dict[str, Any]) -> None:
        """Apply a create/edit payload's message fields."""
        empty: dict[str, Any] = {"content": "", "embeds": [], "components": [], "flags": 0,
                                 "allowed_mentions": None}
        for key, default in empty.items():
            if key in payload:
                setattr(self, key, default if payload[key] is None else payload[key])

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id), "channel_id": str(self.channel_id), "author": self.author.payload(),
            "content": self.content or "", "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp, "tts": False, "mention_everyone": False,
            "mentions": self.mentions, "mention_roles": [], "attachments": self.attachments,
            "embeds": self.embeds, "components": self.components, "pinned": False,
            "type": 19 if self.message_reference else (20 if self.interaction_id else 0),
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.member is not None:
            data["member"] = self.member
        if self.webhook_id is not None:
            data.update(webhook_id=str(self.webhook_id), application_id=str(self.webhook_id))
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
            if self.referenced is not None:
                data["referenced_message"] = self.referenced
        return data


@dataclass
class SentPayload:
    """A message create or edit payload sent by the bot (through any route)."""

    kind: str  # "create" | "edit"
    route: str  # "channel" | "interaction_callback" | "webhook"
    message_id: int | None
    channel_id: int | None
    payload: dict[str, Any]
    time: float


@dataclass
class InteractionResponseRecord:
    """One step of the bot's answer to an interaction, in arrival order.

    ``kind``: "callback" (``callback_type`` 4/5/6/7/8/9), "get_original", "edit_original",
    "delete_original", "followup", "edit_followup", "get_followup" or "delete_followup".
    """

    kind: str
    time: float
    payload: dict[str, Any] | None
    callback_type: int | None = None
    message_id: int | None = None


@dataclass
class InteractionRecord:
    """An interaction the fake sent; ``time`` is when INTERACTION_CREATE was dispatched (the
    start of the acknowledgement deadline and of the token's lifetime)."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    name: str | None
    custom_id: str | None
    payload: dict[str, Any]
    time: float
    responses: list[InteractionResponseRecord] = field(default_factory=list)
    original_message_id: int | None = None
    #: set when an initial response (callback) is accepted, before the response is stored
    acknowledged: bool = False
    #: this interaction's requests the fake refused (late or second callback, too long, ...)
    rejections: list[Rejection] = field(default_factory=list)
