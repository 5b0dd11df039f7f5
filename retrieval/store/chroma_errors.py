"""Chroma's failures as StoreErrors: one line for the user that names the server or folder and what
to check; the cause goes to the log. A library that does not exist is not a failure (the store
reads it as empty); anything else is, so a broken store never passes for an empty library."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from retrieval.errors import NewsbotError, StoreError
from retrieval.store.folder_lock import not_writable

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Location:
    """Where a store's Chroma is: a server (``host:port``) or a folder."""

    server: str | None = None
    folder: Path | None = None

    def __str__(self) -> str:
        if self.server:
            return f"the Chroma server at {self.server}"
        return f"the Chroma folder {self.folder}" if self.folder else "Chroma"


def store_error(exc: BaseException, where: Location, doing: str) -> StoreError:
    log.info("Chroma failed while %s (%s)", doing, where, exc_info=exc)
    text = str(exc)
    if isinstance(exc, httpx.TransportError) or "Could not connect to a Chroma server" in text:
        return StoreError(
            f"Could not reach {where} while {doing}.",
            hint="Check that the server is running (`chroma run --path DIR --port N`) "
            "and that CHROMA_HOST/CHROMA_PORT point at it.",
        )
    if where.folder is not None and (isinstance(exc, PermissionError) or "readonly database" in text):
        return not_writable(where.folder, text.splitlines()[0][:120] if text else type(exc).__name__)
    detail = f"{type(exc).__name__}: {text.splitlines()[0][:160]}" if text else type(exc).__name__
    check = "the server's log" if where.server else "the folder's disk space and permissions"
    return StoreError(
        f"{str(where)[:1].upper()}{str(where)[1:]} failed while {doing} ({detail}).",
        hint=f"Check {check}; `newsbot reindex --library NAME` rebuilds a damaged library from its text.",
    )


@contextlib.contextmanager
def translated(where: Location, doing: str) -> Iterator[None]:
    """Chroma's (and its HTTP client's) exceptions in the block as a StoreError."""
    try:
        yield
    except NewsbotError:
        raise
    except Exception as exc:
        raise store_error(exc, where, doing) from exc


def chroma_call(doing: str) -> Callable[[F], F]:
    """Decorate a store method (generators too) so Chroma's failures leave it as StoreErrors;
    the store names its Chroma in ``self.location``."""

    def decorate(method: F) -> F:
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
                with translated(self.location, doing):
                    yield from method(self, *args, **kwargs)

            return generate  # type: ignore[return-value]

        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(self.location, doing):
                return method(self, *args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate
