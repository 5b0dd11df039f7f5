"""Names in the environment or ``.env`` that look like settings (our prefixes) but that nothing
reads: a typo such as ``NEWSBOT_TOPK`` would otherwise be ignored without a word. Each gets one
warning line naming the closest known setting."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic import AliasChoices

from bot.settings import BotSettings

PREFIXES = ("NEWSBOT_", "CHROMA_", "DISCORD_", "OPENAI_")
# Read by the openai client newsbot creates, besides OPENAI_API_KEY and OPENAI_BASE_URL (ours).
OPENAI_CLIENT_NAMES = frozenset({"OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY", "OPENAI_WEBHOOK_SECRET",
                                 "OPENAI_LOG"})


def setting_names() -> set[str]:
    """The environment names of newsbot's settings (the aliases of BotSettings, which holds the core's too)."""
    names: set[str] = set()
    for field in BotSettings.model_fields.values():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(c.upper() for c in choices if isinstance(c, str) and c.upper().startswith(PREFIXES))
    return names


def chroma_names() -> set[str]:
    """The CHROMA_* names chromadb's own settings read (its client, and ``chroma run``)."""
    from chromadb.config import Settings as ChromaSettings  # only when a CHROMA_ name is not ours: it loads slowly

    return {name.upper() for name in ChromaSettings.model_fields if name.startswith("chroma_")}


def unknown_settings(environ: Iterable[str], dotenv: Iterable[str] = ()) -> list[str]:
    """One warning line for each name with our prefixes that no setting (nor a library newsbot
    uses) reads, with the closest known name when there is one."""
    found = [(name, "") for name in sorted(environ)] + [(name, " in .env") for name in sorted(dotenv)]
    known = setting_names() | OPENAI_CLIENT_NAMES
    suspects = [(n, where) for n, where in found if n.upper().startswith(PREFIXES) and n.upper() not in known]
    if any(n.upper().startswith("CHROMA_") for n, _ in suspects):
        known |= chroma_names()
        suspects = [(n, where) for n, where in suspects if n.upper() not in known]
    lines = []
    for name, where in dict.fromkeys(suspects):
        close = closest(name.upper(), known)
        guess = f" (did you mean {close}?)" if close else ""
        lines.append(f"newsbot: unknown setting {name}{where}{guess}; it is ignored.")
    return lines


def closest(name: str, known: set[str]) -> str | None:
    """The known name most like ``name``, compared after their shared prefix (which would make any
    two NEWSBOT_ names look alike); else one much like it whole (a prefix mistyped)."""
    prefix = next(p for p in PREFIXES if name.startswith(p))
    same = {k.removeprefix(prefix): k for k in known if k.startswith(prefix)}
    match = difflib.get_close_matches(name.removeprefix(prefix), sorted(same), n=1, cutoff=0.6)
    if match:
        return same[match[0]]
    whole = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.85)
    return whole[0] if whole else None


def check_environment(environ: Mapping[str, str], env_file: Path = Path(".env")) -> list[str]:
    """``unknown_settings`` of the process environment and of the ``.env`` file settings are read from."""
    dotenv = dotenv_values(env_file) if env_file.is_file() else {}
    return unknown_settings(environ, dotenv)
