"""``/articles`` (paged, with Previous/Next buttons) and ``/remove``."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.cogs.base import ServiceCog
from bot.errors import NO_MENTIONS, log_error, user_message
from bot.permissions import library_for, require_manager
from bot.protocols import AnswerService
from bot.render import neutralize_mentions, render_articles

_log = logging.getLogger(__name__)
PAGE_SIZE = 10


async def articles_page(service: AnswerService, library: str, page: int) -> tuple[str, int]:
    """Rendered page ``page`` (1-based) and the number of pages."""
    items, total = await service.list_articles(library, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return render_articles(items, total=total, page=page, pages=pages), pages


Pages = Callable[[int], Awaitable[tuple[str, int]]]  # page number -> (its content, the number of pages)


class PagerView(discord.ui.View):
    """Previous/Next for one paged reply (``/articles``, ``/latest``): ``render`` gives a page;
    only the person who asked can turn pages."""

    def __init__(self, render: Pages, command: str, owner_id: int, page: int, pages: int) -> None:
        super().__init__(timeout=600)
        self.render = render
        self.command = command
        self.owner_id = owner_id
        self.page = page
        self.pages = pages
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.page <= 1
        self.next.disabled = self.page >= self.pages

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            f"Use /{self.command} to page through the list yourself.", ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return False

    async def _turn(self, interaction: discord.Interaction, page: int) -> None:
        content, self.pages = await self.render(page)
        self.page = min(page, self.pages)
        self._sync()
        await interaction.response.edit_message(content=content, view=self, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, max(1, self.page - 1))

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, self.page + 1)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item) -> None:
        log_error(error, f"{self.command} pager")
        if not interaction.response.is_done():
            await interaction.response.send_message(user_message(error), ephemeral=True, allowed_mentions=NO_MENTIONS)


class LibraryCog(ServiceCog, name="Library"):
    @app_commands.command(name="articles", description="List the articles in this server's library")
    @app_commands.describe(page="Page number (10 articles per page)")
    async def articles(self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 100_000] = 1) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        await interaction.response.defer(thinking=True, ephemeral=True)
        content, pages = await articles_page(self.service, library, page)
        view = PagerView(lambda n: articles_page(self.service, library, n), "articles", interaction.user.id, page, pages)
        kwargs = {"view": view} if pages > 1 else {}
        await interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS, **kwargs)

    @app_commands.command(name="remove", description="Remove an article from this server's library")
    @app_commands.describe(id="The article's id, as shown by /articles")
    @app_commands.default_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 64]) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        require_manager(interaction, self.settings.discord_admin_role)
        article_id = id.strip().strip("`")
        await interaction.response.defer(thinking=True)
        removed = await self.service.remove(library, article_id)
        shown = neutralize_mentions(discord.utils.escape_markdown(article_id))
        text = f"Removed article `{shown}`." if removed else f"There is no article `{shown}` in this library."
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
