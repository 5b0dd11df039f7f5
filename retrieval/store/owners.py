"""Who holds a Chroma folder or a library's write lease, as other processes are told about it."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

# Told once when a process has to wait for another: the CLI prints it, the bot logs it.
OnWait = Callable[[str], None]


@dataclass(frozen=True)
class Owner:
    """The process about to open a folder or take a lease, as its caller describes it."""

    command: str = "newsbot"  # e.g. "newsbot add"
    # Runs until stopped (the bot): a process that finds it holding a folder refuses at once
    # instead of waiting.
    lasting: bool = False
    advice: str = ""  # what a process it refuses can do instead, e.g. "Add articles through Discord (/add)"


@dataclass(frozen=True)
class Holder:
    """A process holding a folder or a lease: recorded by it, read by those who wait."""

    command: str
    pid: int
    host: str = ""
    lasting: bool = False
    advice: str = ""

    @classmethod
    def me(cls, owner: Owner) -> Holder:
        return cls(owner.command, os.getpid(), socket.gethostname(), owner.lasting, owner.advice)

    @classmethod
    def of(cls, record: dict) -> Holder | None:
        """The holder a lock file or lease records (None when the record is not one)."""
        try:
            return cls(
                str(record["command"]),
                int(record["pid"]),
                str(record.get("host", "")),
                bool(record.get("lasting", False)),
                str(record.get("advice", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def record(self) -> dict[str, str | int | bool]:
        return {"command": self.command, "pid": self.pid, "host": self.host, "lasting": self.lasting, "advice": self.advice}

    def __str__(self) -> str:
        here = self.host in ("", socket.gethostname())
        return f"`{self.command}` (pid {self.pid}{'' if here else f' on {self.host}'})"


def waiting_for(holder: Holder | None, what: str) -> str:
    return f"Waiting for {holder or 'another process'} to finish with {what}…"
