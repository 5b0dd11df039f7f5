"""Prompt templates and rendering that keeps article text inert.

The templates ship inside the package (``retrieval.answer.templates``, the repository's ``prompts/``
folder) and are read with ``importlib.resources``; an operator's folder (NEWSBOT_PROMPTS_DIR) may
replace any of them, and a file it lacks is the bundled one.

Article text is only ever a *value* passed to ``str.format`` (so its braces are harmless), and
anything that looks like our ``<source>`` delimiters inside it is escaped so it cannot close or
forge a source block.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from retrieval.answer.citations import NOT_FOUND, strip_citations
from retrieval.errors import ConfigError
from retrieval.models import Source

BUNDLED = "retrieval.answer.templates"  # the package holding the shipped templates

# file name -> (required variables, optional variables)
_VARIABLES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "system.txt": (frozenset({"not_found"}), frozenset()),
    "answer.txt": (frozenset({"sources", "question", "today"}), frozenset({"history", "not_found"})),
    "passage.txt": (frozenset({"number", "title", "publisher", "published", "url", "text"}), frozenset()),
}
_DELIMITER = re.compile(r"<(?=\s*/?\s*source\b)", re.IGNORECASE)
PROMPT_TURNS = 3  # earlier turns of a conversation the prompt shows the model (the latest ones)
_HISTORY_CHARS = 600


def neutralise(text: str) -> str:
    """Escape anything that could open or close a ``<source>`` block."""
    return _DELIMITER.sub("&lt;", text)


def _one_line(text: str | None) -> str:
    return neutralise(" ".join(text.split())) if text else "unknown"


def _check(name: str, shown: str, template: str) -> None:
    """``name``: the template's file name; ``shown``: where it was read, for the messages."""
    required, optional = _VARIABLES[name]
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"Prompt file {shown} has unbalanced braces ({exc}).", hint="Write literal braces as {{ }}.") from None
    found: set[str] = set()
    for _, field, spec, _ in fields:
        if field is None:
            continue
        if field not in required | optional or (spec and "{" in spec):
            variable = "{" + field + "}"
            raise ConfigError(
                f"Prompt file {shown} uses unknown variable {variable}.",
                hint=f"Allowed: {', '.join(sorted(required | optional)) or 'none'}.",
            )
        found.add(field)
    missing = sorted(required - found)
    if missing:
        raise ConfigError(f"Prompt file {shown} is missing variable {{{missing[0]}}}.", hint="Add it to the template.")


def _operator_files(directory: Path) -> dict[str, Path]:
    """The templates an operator's folder replaces. A folder that is missing, holds no template, or
    holds a ``.txt`` file that is no template (a misspelt name would otherwise be ignored) is a
    ConfigError."""
    names = ", ".join(_VARIABLES)
    if not directory.is_dir():
        raise ConfigError(
            f"The prompt folder {directory} (NEWSBOT_PROMPTS_DIR) does not exist.",
            hint=f"Point it at a folder holding any of {names}, or unset it to use the bundled prompts.",
        )
    unknown = sorted(p.name for p in directory.glob("*.txt") if p.name not in _VARIABLES)
    if unknown:
        raise ConfigError(
            f"The prompt folder {directory} (NEWSBOT_PROMPTS_DIR) holds {unknown[0]}, which is not a prompt template.",
            hint=f"Templates are named {names}; rename or move the file.",
        )
    own = {name: directory / name for name in _VARIABLES if (directory / name).exists()}
    if not own:
        raise ConfigError(
            f"The prompt folder {directory} (NEWSBOT_PROMPTS_DIR) holds none of {names}.",
            hint="Put your templates there, or unset it to use the bundled prompts.",
        )
    return own


def _read(name: str, source: Path | None) -> tuple[str, str]:
    """The text of template ``name`` and where it came from: ``source`` or the bundled copy."""
    path = source if source is not None else resources.files(BUNDLED) / name
    shown = str(path) if source is not None else f"{name} (bundled)"
    try:
        return path.read_text(encoding="utf-8"), shown
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read prompt file {shown} ({type(exc).__name__}).") from None


@dataclass(frozen=True)
class PromptSet:
    system: str
    answer_template: str
    passage_template: str

    @classmethod
    def load(cls, directory: Path | None = None) -> PromptSet:
        """The bundled templates, each replaced by the file of the same name in ``directory`` if
        it has one; every template is checked for its variables."""
        own = _operator_files(Path(directory).expanduser()) if directory is not None else {}
        texts: dict[str, str] = {}
        for name in _VARIABLES:
            texts[name], shown = _read(name, own.get(name))
            _check(name, shown, texts[name])
        return cls(
            system=texts["system.txt"].format(not_found=NOT_FOUND).strip(),
            answer_template=texts["answer.txt"],
            passage_template=texts["passage.txt"],
        )

    @property
    def uses_history(self) -> bool:
        return any(name == "history" for _, name, _, _ in string.Formatter().parse(self.answer_template))

    def render_source(self, number: int, source: Source, texts: Sequence[str]) -> str:
        """One ``<source>`` block for an article; ``texts`` are its passages."""
        body = "\n[…]\n".join(neutralise(t.strip()) for t in texts)
        return self.passage_template.format(
            number=number,
            title=_one_line(source.title),
            publisher=_one_line(source.publisher),
            published=source.published.isoformat() if source.published else "unknown",
            url=_one_line(source.url),
            text=body,
        ).strip()

    def render_history(self, history: Sequence[tuple[str, str]]) -> str:
        turns = list(history)[-PROMPT_TURNS:]
        if not turns:
            return ""
        lines = ["Earlier in this conversation (context only, not a source):"]
        for question, answer in turns:
            short = strip_citations(answer)
            if len(short) > _HISTORY_CHARS:
                short = short[:_HISTORY_CHARS].rsplit(" ", 1)[0] + " …"
            lines.append(f"User: {_one_line(question)}")
            lines.append(f"newsbot: {_one_line(short)}")
        return "\n".join(lines) + "\n\n"

    def render_user(
        self, *, sources: Sequence[str], question: str, today: date, history: Sequence[tuple[str, str]] = ()
    ) -> str:
        values = {
            "sources": "\n\n".join(sources) if sources else "(no sources)",
            "question": neutralise(question.strip()),
            "today": today.isoformat(),
            "not_found": NOT_FOUND,
        }
        if self.uses_history:
            values["history"] = self.render_history(history)
        used = {name for _, name, _, _ in string.Formatter().parse(self.answer_template) if name}
        return self.answer_template.format(**{k: v for k, v in values.items() if k in used}).strip()
