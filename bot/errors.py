"""How failures reach users (one short ephemeral line) and the log (full, with secrets redacted)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord
from discord import app_commands
from discord.ext import commands

from retrieval.errors import NewsbotError

GENERIC = "Something went wrong; the error was logged."
NO_MENTIONS = discord.AllowedMentions.none()
_REPORTED = "newsbot_error_reported"

_log = logging.getLogger("bot.errors")


def unwrap(error: BaseException) -> BaseException:
    while isinstance(error, (app_commands.CommandInvokeError, commands.CommandInvokeError)):
        error = error.original
    return error


def user_message(error: BaseException) -> str:
    """The line a user sees: a NewsbotError's own message, else a generic one."""
    error = unwrap(error)
    if isinstance(error, NewsbotError):
        text = str(error)
    elif isinstance(error, app_commands.CommandOnCooldown):
        text = f"Slow down; try again in {error.retry_after:.0f} s."
    elif isinstance(error, app_commands.MissingPermissions):
        text = "You don't have permission to use this command."
    elif isinstance(error, app_commands.NoPrivateMessage):
        text = "This command only works in servers."
    else:
        text = GENERIC
    return text if len(text) <= 1900 else text[:1899] + "…"


def log_error(error: BaseException, where: str) -> None:
    error = unwrap(error)
    if isinstance(error, NewsbotError):
        _log.info("%s refused: %s", where, error)
    else:
        _log.error("%s failed", where, exc_info=(type(error), error, error.__traceback__))


async def report_interaction_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Log the error and tell the user once, ephemerally (deleting a pending "thinking" message)."""
    if interaction.extras.get(_REPORTED):
        return
    interaction.extras[_REPORTED] = True
    command = interaction.command.qualified_name if interaction.command else "interaction"
    log_error(error, f"/{command}")
    text = user_message(error)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        deferred = interaction.response.type is discord.InteractionResponseType.deferred_channel_message
        if deferred:
            # The first follow-up after a public defer would take its visibility (Discord keeps the
            # loading message's flags), so settle the loading message first and remove it after.
            await interaction.edit_original_response(
                content="⚠️ That did not work.", view=None, allowed_mentions=NO_MENTIONS
            )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        if deferred:
            await interaction.delete_original_response()
    except discord.HTTPException:
        _log.warning("Could not tell the user about an error in /%s", command, exc_info=True)


class RedactSecrets(logging.Filter):
    """Replace secret values (bot token, API keys) wherever they appear in a log record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]
        self._formatter = logging.Formatter()

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self._clean(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True
