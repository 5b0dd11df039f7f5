"""Guild data of the fake Discord server (see ``discord_server`` for the API):
users, roles, members, channels and guilds with the JSON shapes discord.py 2.7
parses, snowflakes and permission arithmetic.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import discord

DISCORD_EPOCH_MS = 1420070400000
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
#: What ``@everyone`` may do when a test gives no ``@everyone`` role.
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, read_message_history=True, embed_links=True,
    attach_files=True, add_reactions=True, use_application_commands=True,
    send_messages_in_threads=True, create_public_threads=True,
).value

_counter = itertools.count()


def new_snowflake() -> int:
    """A fresh id: time-based like Discord's and strictly increasing in this process."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _perm_value(permissions: int | discord.Permissions) -> int:
    return permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)


@dataclass
class FakeUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(self.id), "username": self.name, "discriminator": "0",
                                "avatar": None, "public_flags": 0, "bot": self.bot}
        if self.global_name is not None:
            data["global_name"] = self.global_name
        return data


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 1

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "name": self.name, "permissions": str(self.permissions),
                "position": self.position, "colors": {"primary_color": 0}, "hoist": False,
                "managed": False, "mentionable": False, "flags": 0}


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"roles": [str(r) for r in self.roles], "joined_at": self.joined_at,
                                "deaf": False, "mute": False, "flags": 0, "pending": False}
        if self.nick is not None:
            data["nick"] = self.nick
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeChannel:
    """A guild text channel (type 0), thread (11/12) or DM channel (type 1)."""

    id: int
    name: str
    type: int = 0
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None
    recipient: FakeUser | None = None

    def payload(self) -> dict[str, Any]:
        if self.type == 1:
            recipients = [self.recipient.payload()] if self.recipient else []
            return {"id": str(self.id), "type": 1, "recipients": recipients, "last_message_id": None}
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "name": self.name,
                                "position": self.position, "permission_overwrites": [], "nsfw": False,
                                "rate_limit_per_user": 0}
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.parent_id is not None:
            data["parent_id"] = str(self.parent_id)
        if self.topic is not None:
            data["topic"] = self.topic
        if self.type in (10, 11, 12):
            data.update(owner_id=str(self.owner_id or 0), message_count=0, member_count=1,
                        thread_metadata={"archived": False, "auto_archive_duration": 1440,
                                         "archive_timestamp": iso_now(), "locked": False})
        return data


def member(user_id: int, name: str, *, roles: tuple[int, ...] | list[int] = (), bot: bool = False,
           nick: str | None = None) -> FakeMember:
    """A guild member; ``roles`` are role ids (permissions come from the roles)."""
    return FakeMember(FakeUser(user_id, name, bot=bot), list(roles), nick)


def role(role_id: int, name: str, *, permissions: int | discord.Permissions = 0,
         position: int = 1) -> FakeRole:
    """A role; pass ``role(guild_id, "@everyone", ...)`` to set ``@everyone``'s permissions."""
    return FakeRole(role_id, name, _perm_value(permissions), position)


def text_channel(channel_id: int, name: str, *, position: int = 0, topic: str | None = None,
                 parent_id: int | None = None) -> FakeChannel:
    return FakeChannel(channel_id, name, 0, position=position, topic=topic, parent_id=parent_id)


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions (no channel overwrites), as Discord computes them."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.roles[self.id].permissions if self.id in self.roles else 0
        m = self.members.get(user_id)
        for role_id in (m.roles if m else []):
            if role_id in self.roles:
                value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def payload(self) -> dict[str, Any]:
        """The GUILD_CREATE payload."""
        return {
            "id": str(self.id), "name": self.name, "owner_id": str(self.owner_id), "icon": None,
            "unavailable": False, "member_count": len(self.members), "large": False,
            "features": [], "emojis": [], "stickers": [], "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "afk_timeout": 300,
            "system_channel_flags": 0, "joined_at": iso_now(),
            "roles": [r.payload() for r in self.roles.values()],
            "channels": [c.payload() for c in self.channels.values() if c.type not in (10, 11, 12)],
            "threads": [c.payload() for c in self.channels.values() if c.type in (10, 11, 12)],
            "members": [m.payload() for m in self.members.values()],
            "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }
