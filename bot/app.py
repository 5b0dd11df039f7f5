"""The Bot: collaborators passed in, Cogs added and slash commands synced once in ``setup_hook``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.add import AddCog
from bot.cogs.ask import AskCog
from bot.cogs.feedback import FeedbackCog
from bot.cogs.feeds import FeedsCog
from bot.cogs.latest import LatestCog
from bot.cogs.library import LibraryCog
from bot.cogs.stats import StatsCog
from bot.errors import NO_MENTIONS, report_interaction_error
from bot.history import TurnMemory
from bot.protocols import AnswerService
from bot.ratelimit import RateLimiter
from bot.settings import BotSettings
from bot.votes import VoteStore
from retrieval.feeds.service import FeedService

_log = logging.getLogger(__name__)


def bot_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True  # privileged: enable it for the application in the developer portal
    return intents


class NewsCommandTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await report_interaction_error(interaction, error)


_Base = commands.Bot if TYPE_CHECKING else object


class _NewsBotMixin(_Base):
    """Shared by the plain and the auto-sharded bot."""

    def __init__(
        self,
        service: AnswerService,
        votes: VoteStore,
        settings: BotSettings,
        *,
        limiter: RateLimiter | None = None,
        memory: TurnMemory | None = None,
        feeds: FeedService | None = None,
        **kwargs: Any,
    ) -> None:
        """``feeds``: the feeds the bot follows (``/feed`` and the polling loop); None: neither."""
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=NewsCommandTree,
            **kwargs,
        )
        self.service = service
        self.votes = votes
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.rate_limit_questions, settings.rate_limit_seconds)
        self.memory = memory or TurnMemory()
        self.feeds = feeds
        self.synced: list[app_commands.AppCommand] = []

    async def setup_hook(self) -> None:
        s = self.settings
        # The question model loads in a worker thread, so its own threads start at the workers'
        # priority (see bot.runner.lower_worker_priority), and the first question does not wait for it.
        await asyncio.to_thread(self.service.warm)
        await self.add_cog(FeedbackCog(self, self.votes))
        await self.add_cog(
            AskCog(
                self,
                service=self.service,
                votes=self.votes,
                limiter=self.limiter,
                memory=self.memory,
                settings=s,
            )
        )
        await self.add_cog(AddCog(self, service=self.service, settings=s))
        await self.add_cog(LibraryCog(self, service=self.service, settings=s))
        await self.add_cog(LatestCog(self, service=self.service, settings=s))
        await self.add_cog(StatsCog(self, service=self.service, votes=self.votes, settings=s))
        if self.feeds is not None:
            await self.add_cog(FeedsCog(self, feeds=self.feeds, settings=s))
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register the slash commands: instantly in the dev guild when set, else globally."""
        try:
            if self.settings.discord_dev_guild:
                guild = discord.Object(id=self.settings.discord_dev_guild)
                self.tree.copy_global_to(guild=guild)
                self.synced = await self.tree.sync(guild=guild)
            else:
                self.synced = await self.tree.sync()
            _log.info("Synced %d slash commands", len(self.synced))
        except discord.HTTPException:
            _log.exception("Could not sync slash commands; the previous registration stays in use")

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: questions are handled by the Ask Cog's listener."""

    async def on_ready(self) -> None:
        _log.info("Logged in as %s; in %d servers", self.user, len(self.guilds))

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        _log.exception("Error in event handler %s", event_method)


class NewsBot(_NewsBotMixin, commands.Bot):
    """newsbot on one gateway connection."""


class ShardedNewsBot(_NewsBotMixin, commands.AutoShardedBot):
    """newsbot with Discord's recommended number of shards."""


def build_bot(
    settings: BotSettings,
    service: AnswerService,
    votes: VoteStore,
    *,
    limiter: RateLimiter | None = None,
    memory: TurnMemory | None = None,
    feeds: FeedService | None = None,
    **kwargs: Any,
) -> NewsBot | ShardedNewsBot:
    cls = ShardedNewsBot if settings.discord_sharded else NewsBot
    return cls(service, votes, settings, limiter=limiter, memory=memory, feeds=feeds, **kwargs)
