"""``/feed add|list|remove``, and the loop that polls the followed feeds and posts their new articles."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.base import NewsCog
from bot.errors import NO_MENTIONS
from bot.permissions import library_for, require_manager
from bot.render import MAX_CONTENT, clip, neutralize_mentions
from bot.settings import BotSettings
from retrieval.feeds.poller import PollReport
from retrieval.feeds.service import FeedService
from retrieval.feeds.store import Feed
from retrieval.models import Source

_log = logging.getLogger(__name__)
IDLE_CHECK = 60.0  # seconds between looks at the feed list when nothing is due (feeds added by `newsbot feed add`)
MIN_WAIT = 1.0
ERROR_CHARS = 200


def render_new_article(source: Source) -> str:
    """One post for a new article: title, publisher, date and its link (no embed preview)."""
    tail = ", ".join(p for p in (source.publisher, source.published.isoformat() if source.published else None) if p)
    line = f"📰 **{discord.utils.escape_markdown(clip(source.title, 300))}**"
    if tail:
        line += f" — {discord.utils.escape_markdown(clip(tail, 200))}"
    if source.url and source.url.startswith(("http://", "https://")):
        line += f"\n<{source.url.replace('>', '%3E')}>"
    return neutralize_mentions(line)[:MAX_CONTENT]


def render_feed(feed: Feed) -> str:
    """One ``/feed list`` line: id, name, channel, and its health (last success, last error, next poll)."""
    name = discord.utils.escape_markdown(clip(feed.name, 120))
    where = f" → <#{feed.channel_id}>" if feed.channel_id else ""
    if feed.last_error:
        health = f"⚠️ failed {feed.failures}× in a row: {clip(feed.last_error, ERROR_CHARS)}"
        if feed.last_success:
            health += f" (last success <t:{int(feed.last_success)}:R>)"
    elif feed.last_success:
        health = f"✅ checked <t:{int(feed.last_success)}:R>"
    else:
        health = "not checked yet"
    return neutralize_mentions(f"`{feed.id}` **{name}**{where}\n  {health} · next check <t:{int(feed.next_poll)}:R>")


def render_feeds(feeds: list[Feed]) -> str:
    if not feeds:
        return "This server follows no feeds yet. Follow one with `/feed add`."
    lines = [f"**Feeds** ({len(feeds)})"]
    for i, feed in enumerate(feeds):
        line = render_feed(feed)
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_CONTENT - 40:
            lines.append(f"…and {len(feeds) - i} more.")
            break
        lines.append(line)
    return "\n".join(lines)


class FeedsCog(NewsCog, name="Feeds"):
    feed = app_commands.Group(name="feed", description="Follow news feeds (RSS or Atom) in this server",
                              default_permissions=discord.Permissions(manage_guild=True))

    def __init__(self, bot: commands.Bot, *, feeds: FeedService, settings: BotSettings) -> None:
        self.bot = bot
        self.feeds = feeds
        self.settings = settings
        self._wake = asyncio.Event()
        self._closing = False
        self._polling = False  # a feed's poll is under way (in a worker thread)
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._poll_forever(), name="newsbot-feeds")

    async def cog_unload(self) -> None:
        """Stop polling: a poll under way stops before its next entry (nothing of it is lost)."""
        self._closing = True
        self.feeds.stop()
        self._wake.set()
        if self._task is not None and not self._polling:
            self._task.cancel()  # waiting (for the gateway, or for the next poll): nothing to finish
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        elif self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.settings.fetch_timeout + 30)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _poll_forever(self) -> None:
        await self.bot.wait_until_ready()
        while not self._closing:
            try:
                for feed in await self.feeds.due():
                    self._polling = not self._closing
                    try:
                        report = await self.feeds.poll(feed) if self._polling else None
                    finally:
                        self._polling = False
                    if report is None:
                        break
                    await self._announce(report)
                wait = await asyncio.to_thread(self.feeds.seconds_to_next)
            except Exception:  # the feed file or a post failed: log it and keep the loop alive
                _log.exception("Polling the feeds failed; trying again shortly")
                wait = IDLE_CHECK
            wait = IDLE_CHECK if wait is None else min(max(wait, MIN_WAIT), IDLE_CHECK)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def _announce(self, report: PollReport) -> None:
        """Post the new articles in the feed's channel: a few, then one line for the rest."""
        feed = report.feed
        if feed.channel_id is None or not report.added:
            return
        try:
            channel = self.bot.get_channel(feed.channel_id) or await self.bot.fetch_channel(feed.channel_id)
            shown = report.added[: self.settings.feed_posts]
            for source in shown:
                await channel.send(render_new_article(source), allowed_mentions=NO_MENTIONS)  # type: ignore[union-attr]
            rest = len(report.added) - len(shown)
            if rest:
                noun = "article" if rest == 1 else "articles"
                name = discord.utils.escape_markdown(clip(feed.name, 120))
                await channel.send(  # type: ignore[union-attr]
                    neutralize_mentions(f"…and {rest} more new {noun} from **{name}** (see `/articles`)."),
                    allowed_mentions=NO_MENTIONS,
                )
        except discord.HTTPException:
            _log.warning("Could not post feed %d's new articles in channel %s", feed.id, feed.channel_id, exc_info=True)

    @feed.command(name="add", description="Follow a news feed; its new articles are added (and posted)")
    @app_commands.describe(url="The feed's address (RSS or Atom)", channel="Where to post its new articles (optional)")
    async def add(self, interaction: discord.Interaction, url: app_commands.Range[str, 8, 2000],
                  channel: discord.TextChannel | None = None) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        require_manager(interaction, self.settings.discord_admin_role)
        await interaction.response.defer(thinking=True)
        feed = await self.feeds.follow(library, url, channel_id=channel.id if channel else None)
        name = discord.utils.escape_markdown(clip(feed.name, 200))
        where = (f"its new articles will be posted in <#{channel.id}>" if channel
                 else "its new articles will be added without a post (give a channel to have them posted)")
        text = neutralize_mentions(f"Following **{name}** (feed `{feed.id}`): {where}. Checking it now…")
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
        self._wake.set()

    @feed.command(name="list", description="The feeds this server follows, and how their polling goes")
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        await interaction.response.defer(thinking=True, ephemeral=True)
        content = render_feeds(await self.feeds.feeds(library))
        await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)

    @feed.command(name="remove", description="Stop following a feed (its articles stay)")
    @app_commands.describe(id="The feed's number, as shown by /feed list")
    async def remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1, 2**53]) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        require_manager(interaction, self.settings.discord_admin_role)
        await interaction.response.defer(thinking=True)
        feed = await self.feeds.unfollow(library, id)
        if feed is None:
            text = f"This server follows no feed `{id}`; `/feed list` shows the numbers."
        else:
            name = discord.utils.escape_markdown(clip(feed.name, 200))
            text = neutralize_mentions(f"Stopped following **{name}** (feed `{id}`); its articles stay in the library.")
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
