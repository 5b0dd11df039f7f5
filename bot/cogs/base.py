"""What every newsbot Cog shares: errors become one ephemeral line, logged in full."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import report_interaction_error
from bot.protocols import AnswerService
from bot.settings import BotSettings


class NewsCog(commands.Cog):
    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_interaction_error(interaction, error)


class ServiceCog(NewsCog):
    """A Cog that works on the server's library through the service, as the settings say."""

    def __init__(self, bot: commands.Bot, *, service: AnswerService, settings: BotSettings) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
