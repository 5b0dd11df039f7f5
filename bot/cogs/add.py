"""``/add``: one article from a URL, pasted text, or an attached file, with progress for slow ingests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import PurePath

import discord
from discord import app_commands

from bot.cogs.base import ServiceCog
from bot.errors import NO_MENTIONS
from bot.permissions import library_for, require_manager
from bot.render import render_ingest
from retrieval.errors import InputError
from retrieval.ingest.dates import published_date
from retrieval.ingest.decode import SUPPORTED_EXTENSIONS, SUPPORTED_LIST
from retrieval.models import IngestResult

_log = logging.getLogger(__name__)


class ProgressMessage:
    """Shows ingest progress by editing the deferred response at most every ``interval`` seconds.

    ``update`` may be called from any thread (the core reports progress from its worker)."""

    def __init__(self, interaction: discord.Interaction, label: str, interval: float) -> None:
        self.interaction = interaction
        self.label = label
        self.interval = max(interval, 0.2)
        self._state: tuple[int, int] | None = None
        self._shown: tuple[int, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def update(self, done: int, total: int) -> None:
        self._state = (done, total)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            state = self._state
            if state is None or state == self._shown:
                continue
            self._shown = state
            try:
                await self.interaction.edit_original_response(
                    content=f"{self.label} {state[0]}/{state[1]} articles done…", allowed_mentions=NO_MENTIONS
                )
            except discord.HTTPException:
                _log.warning("Could not show ingest progress", exc_info=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AddCog(ServiceCog, name="Add"):
    @app_commands.command(name="add", description="Add a news article to this server's library")
    @app_commands.describe(
        url="Link to the article",
        text="The article's text (paste it)",
        file=f"A {SUPPORTED_LIST} file",
        title="Title (optional; found in the article when left out)",
        published="Publication date, YYYY-MM-DD (optional)",
        source="Publisher, e.g. Reuters (optional)",
    )
    @app_commands.default_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 8, 2000] | None = None,
        text: app_commands.Range[str, 1, 6000] | None = None,
        file: discord.Attachment | None = None,
        title: app_commands.Range[str, 1, 300] | None = None,
        published: app_commands.Range[str, 4, 32] | None = None,
        source: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        require_manager(interaction, self.settings.discord_admin_role)
        if sum(x is not None for x in (url, text, file)) != 1:
            raise InputError("Give exactly one of url, text or file.")
        when = published_date(published)
        if file is not None:
            suffix = PurePath(file.filename).suffix.lower()
            if suffix not in SUPPORTED_EXTENSIONS:
                raise InputError(
                    f"I can't read {suffix or 'extension-less'} files.", hint=f"Attach a {SUPPORTED_LIST} file."
                )
            if file.size > self.settings.max_article_bytes:
                raise InputError(f"That file is {file.size:,} bytes; the limit is {self.settings.max_article_bytes:,}.")
        await interaction.response.defer(thinking=True)
        meta = {"title": title, "publisher": source, "published": when}
        results: list[IngestResult]
        if url is not None:
            await interaction.edit_original_response(content=f"Fetching <{url}>…", allowed_mentions=NO_MENTIONS)
            results = [await self.service.add_url(library, url.strip(), **meta)]
        elif text is not None:
            results = [await self.service.add_text(library, text, **meta)]
        else:
            assert file is not None
            data = await file.read()
            progress = ProgressMessage(
                interaction,
                f"Adding {discord.utils.escape_markdown(file.filename)}:",
                self.settings.stream_edit_interval,
            )
            progress.start()
            try:
                results = await self.service.add_file(library, file.filename, data, progress=progress.update, **meta)
            finally:
                await progress.stop()
        await interaction.edit_original_response(content=render_ingest(results), allowed_mentions=NO_MENTIONS)
