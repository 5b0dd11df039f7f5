"""``/latest [topic] [days]``: the newest articles (title, publisher, date, link), paged like ``/articles``."""

from __future__ import annotations

import math
import textwrap

import discord
from discord import app_commands

from bot.cogs.base import ServiceCog
from bot.cogs.library import PAGE_SIZE, PagerView
from bot.errors import NO_MENTIONS
from bot.permissions import library_for
from bot.render import MAX_CONTENT, neutralize_mentions
from retrieval.models import ArticleSummary
from retrieval.recent import LatestArticles

NO_DATE = "no date"


def _clip(text: str, width: int) -> str:
    return textwrap.shorten(text, max(width, 8), placeholder="…")


def latest_line(row: ArticleSummary, room: int) -> str:
    """``2026-12-04 · Title — Publisher · <link>``; the link is left out when the line would not fit."""
    src = row.source
    day = src.published.isoformat() if src.published else NO_DATE
    publisher = f" — {_clip(src.publisher, 40)}" if src.publisher else ""
    url = src.url.replace(">", "%3E").replace(" ", "%20") if src.url else ""
    link = f" · <{url}>" if url and len(day) + len(url) + 40 <= room else ""
    head = f"{day} · "
    title = _clip(src.title, room - len(head) - len(publisher) - len(link))
    return neutralize_mentions(f"{head}{title}{publisher}") + link


def render_latest(result: LatestArticles, page: int, *, limit: int = MAX_CONTENT) -> tuple[str, int]:
    """Page ``page`` (1-based) of ``/latest`` and the number of pages."""
    rows = result.rows
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(page, pages)
    foot = ""
    if result.undated_skipped:
        many = "s have" if result.undated_skipped != 1 else " has"
        foot = f"\n-# {result.undated_skipped} matching article{many} no date, so not listed; /articles lists every article."
    if not rows:
        return neutralize_mentions(f"No articles {result.period()}.") + foot, 1
    count = f"{len(result.articles)} article{'s' if len(result.articles) != 1 else ''}"
    undated = f", then {len(result.undated)} with {NO_DATE}" if result.undated else ""
    head = neutralize_mentions(f"**Latest** — {count} {result.period()}{undated} · page {page}/{pages}")
    items = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    room = (limit - len(head) - len(foot)) // len(items) - 1  # every row fits: paging never skips one
    return "\n".join([head, *(latest_line(r, room) for r in items)]) + foot, pages


class LatestCog(ServiceCog, name="Latest"):
    @app_commands.command(name="latest", description="The newest articles in this server's library")
    @app_commands.describe(
        topic="Only articles about this (optional)",
        days="How many days back (default: 7, unless the bot is set up otherwise)",
    )
    async def latest(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 300] | None = None,
        days: app_commands.Range[int, 1, 3650] | None = None,
    ) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        await interaction.response.defer(thinking=True)
        result = await self.service.latest(library, topic, days=days)

        async def page_of(n: int) -> tuple[str, int]:
            return render_latest(result, n)

        content, pages = render_latest(result, 1)
        kwargs = {"view": PagerView(page_of, "latest", interaction.user.id, 1, pages)} if pages > 1 else {}
        await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS, **kwargs)
