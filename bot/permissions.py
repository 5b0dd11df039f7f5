"""Which library a conversation uses, and who may change it."""

from __future__ import annotations

import discord

from retrieval.errors import InputError, NewsbotError

DM_REFUSAL = "Sorry, I only answer in servers. Ask me in a channel of a server I'm in."


class NotAllowed(NewsbotError):
    """The user lacks the permission a command needs."""


def library_for(guild_id: int | None, user_id: int, *, allow_dms: bool) -> str:
    """``guild-<id>`` for a server; ``dm-<user id>`` in DMs when they are allowed."""
    if guild_id is not None:
        return f"guild-{guild_id}"
    if allow_dms:
        return f"dm-{user_id}"
    raise InputError(DM_REFUSAL)


def can_manage_library(user: discord.abc.User, permissions: discord.Permissions, admin_role: str | None) -> bool:
    """Manage Server (or Administrator), or the configured admin role. In DMs the library is the user's own."""
    if not isinstance(user, discord.Member):
        return True
    if permissions.manage_guild or permissions.administrator:
        return True
    if admin_role:
        wanted = admin_role.strip().casefold()
        return any(role.name.casefold() == wanted for role in user.roles)
    return False


def require_manager(interaction: discord.Interaction, admin_role: str | None) -> None:
    if not can_manage_library(interaction.user, interaction.permissions, admin_role):
        role = f" or the “{admin_role}” role" if admin_role else ""
        raise NotAllowed(f"You need the Manage Server permission{role} to change this server's library.")
