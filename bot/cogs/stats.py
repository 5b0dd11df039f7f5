"""``/stats``: articles, chunks, questions answered and 👍/👎 counts for this server's library."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.base import NewsCog
from bot.errors import NO_MENTIONS
from bot.permissions import library_for
from bot.protocols import AnswerService
from bot.render import render_stats
from bot.settings import BotSettings
from bot.votes import VoteStore


class StatsCog(NewsCog, name="Stats"):
    def __init__(self, bot: commands.Bot, *, service: AnswerService, votes: VoteStore, settings: BotSettings) -> None:
        self.bot = bot
        self.service = service
        self.votes = votes
        self.settings = settings

    @app_commands.command(name="stats", description="Show this server's library and feedback numbers")
    async def stats(self, interaction: discord.Interaction) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        await interaction.response.defer(thinking=True)
        stats = await self.service.stats(library)
        totals = await asyncio.to_thread(self.votes.totals, library)
        content = render_stats(stats, questions=totals.questions, up=totals.up, down=totals.down)
        await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)
