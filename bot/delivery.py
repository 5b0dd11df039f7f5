"""Message chains on Discord: an interaction's response + follow-ups, or a reply + channel messages.

Every send and edit passes ``allowed_mentions=AllowedMentions.none()``.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.errors import NO_MENTIONS
from bot.streaming import MessageChain


def _view_kwargs(view: Any) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


class InteractionChain(MessageChain[Any]):
    """The first chunk edits the deferred response; further chunks are follow-up messages."""

    def __init__(self, interaction: discord.Interaction) -> None:
        super().__init__()
        self.interaction = interaction

    async def send(self, index: int, content: str, *, view: Any = None) -> Any:
        if index == 0:
            return await self.interaction.edit_original_response(
                content=content, allowed_mentions=NO_MENTIONS, **_view_kwargs(view)
            )
        return await self.interaction.followup.send(
            content, wait=True, allowed_mentions=NO_MENTIONS, **_view_kwargs(view)
        )

    async def edit(self, index: int, message: Any, content: str, *, view: Any = None) -> Any:
        if index == 0:
            return await self.interaction.edit_original_response(
                content=content, allowed_mentions=NO_MENTIONS, **_view_kwargs(view)
            )
        return await message.edit(content=content, allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    async def delete(self, message: Any) -> None:
        await message.delete()


class ReplyChain(MessageChain[discord.Message]):
    """The first chunk replies to the question (without pinging its author); the rest follow it."""

    def __init__(self, question: discord.Message) -> None:
        super().__init__()
        self.question = question

    async def send(self, index: int, content: str, *, view: Any = None) -> discord.Message:
        if index == 0:
            return await self.question.reply(
                content, mention_author=False, allowed_mentions=NO_MENTIONS, **_view_kwargs(view)
            )
        return await self.question.channel.send(content, allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    async def edit(self, index: int, message: discord.Message, content: str, *, view: Any = None) -> discord.Message:
        return await message.edit(content=content, allowed_mentions=NO_MENTIONS, **_view_kwargs(view))

    async def delete(self, message: discord.Message) -> None:
        await message.delete()
