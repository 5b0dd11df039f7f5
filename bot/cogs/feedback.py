"""👍 / 👎 buttons under every answer. Their custom_ids carry the answer id, so they keep working
after a restart (``discord.ui.DynamicItem`` registered when the Cog loads)."""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord.ext import commands

from bot.cogs.base import NewsCog
from bot.errors import NO_MENTIONS, log_error, user_message
from bot.votes import Vote, VoteStore

_log = logging.getLogger(__name__)
_VALUES = {"up": Vote.UP, "down": Vote.DOWN}


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"newsbot:vote:(?P<answer_id>[0-9a-f]{8,32}):(?P<value>up|down)",
):
    def __init__(self, answer_id: str, value: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if value == "up" else "👎",
                custom_id=f"newsbot:vote:{answer_id}:{value}",
            )
        )
        self.answer_id = answer_id
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["answer_id"], match["value"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = (
            interaction.client.get_cog(FeedbackCog.__cog_name__)
            if isinstance(interaction.client, commands.Bot)
            else None
        )
        try:
            if not isinstance(cog, FeedbackCog):
                raise RuntimeError("FeedbackCog is not loaded")
            text = await cog.record(self.answer_id, interaction.user.id, _VALUES[self.value], interaction.id)
        except Exception as exc:  # noqa: BLE001 - the user gets one line, the log the rest
            log_error(exc, "vote button")
            text = user_message(exc)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


def vote_view(answer_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view


class FeedbackCog(NewsCog, name="Feedback"):
    def __init__(self, bot: commands.Bot, votes: VoteStore) -> None:
        self.bot = bot
        self.votes = votes

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(VoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VoteButton)

    async def record(self, answer_id: str, user_id: int, value: Vote, click_id: int = 0) -> str:
        known = await asyncio.to_thread(self.votes.vote, answer_id, user_id, value, click_id)
        if not known:
            return "That answer is no longer on record, so the vote was not counted."
        return "Thanks! Your 👍 was recorded." if value is Vote.UP else "Thanks! Your 👎 was recorded."
