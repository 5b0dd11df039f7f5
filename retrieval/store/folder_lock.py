"""One process at a time per on-disk Chroma folder.

Chroma's embedded client does not support two processes on one folder: a process that writes after
another has written behind its back leaves chunks without vectors ("Error finding id"), even when
the two never write at the same moment. So ChromaStore, opening a folder, first takes an exclusive
``flock`` on ``newsbot.lock`` inside it and keeps it while the folder is open; the OS releases it
when the process ends, however it ends. The file names the holder, so another process can say whom
it waits for, or refuse at once when the holder runs until stopped (the bot). Within one process
the lock is shared, as Chroma shares one client per folder: counted, and released with its last
user.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from retrieval.errors import StoreError
from retrieval.store.owners import Holder, OnWait, Owner, waiting_for

LOCK_FILE = "newsbot.lock"


class FolderInUse(StoreError):
    """Another process that runs until stopped (the bot) holds the folder."""


def not_writable(folder: Path, reason: str) -> StoreError:
    return StoreError(
        f"The data folder {folder} is not writable ({reason}).",
        hint="Fix its permissions, or point NEWSBOT_DATA_DIR (or NEWSBOT_CHROMA_PATH) at a folder newsbot can write to.",
    )


def writable_folder(folder: Path) -> Path:
    """``folder``, created if needed; a StoreError naming it when this process cannot write there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".newsbot-probe-")  # also right for root
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise not_writable(folder, exc.strerror or type(exc).__name__) from None
    return folder


class _Shared:
    """The lock file of one folder, open in this process, and how many users it has."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.users = 1


_held: dict[str, _Shared] = {}
_guard = threading.Lock()  # held while a folder is being locked: a second thread waits for the first


class FolderLock:
    """This process's hold on a folder; ``release`` it once."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = folder
        self._key = key
        self._released = False

    def release(self) -> None:
        with _guard:
            if self._released:
                return
            self._released = True
            shared = _held[self._key]
            shared.users -= 1
            if shared.users == 0:
                del _held[self._key]
                os.ftruncate(shared.fd, 0)  # no stale holder for the next process to read
                os.close(shared.fd)  # unlocks


def lock_folder(folder: Path, owner: Owner, on_wait: OnWait | None = None, *, poll: float = 0.2) -> FolderLock:
    """Hold ``folder`` for this process: at once, or after waiting for the process that holds it.
    Raises FolderInUse when that process runs until stopped, StoreError when the folder is not writable."""
    folder = writable_folder(Path(folder))
    key = os.path.realpath(folder)
    with _guard:
        shared = _held.get(key)
        if shared is not None:
            shared.users += 1
            return FolderLock(folder, key)
        path = folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise not_writable(folder, f"{LOCK_FILE}: {exc.strerror or type(exc).__name__}") from None
        try:
            _wait_for(fd, folder, on_wait, poll)
            me = json.dumps(Holder.me(owner).record()).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, me, 0)
        except BaseException:
            os.close(fd)
            raise
        _held[key] = _Shared(fd)
        return FolderLock(folder, key)


def _wait_for(fd: int, folder: Path, on_wait: OnWait | None, poll: float) -> None:
    told: int | None = None  # pid of the holder announced (0: one that had not written its name)
    began = time.monotonic()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(fd)
        if holder is not None and holder.lasting:
            advice = f"{holder.advice}, or s" if holder.advice else "Stop it first, or s"
            raise FolderInUse(
                f"The library folder {folder} is in use by {holder}.",
                hint=f"{advice}erve the folder with `chroma run --path {folder}` and set CHROMA_HOST so several "
                "processes can share it.",
            )
        # A holder that has not written its name yet (it has just taken the lock) gets a moment to.
        new = holder.pid != told if holder is not None else told is None and time.monotonic() - began > 1.0
        if on_wait is not None and new:
            on_wait(waiting_for(holder, str(folder)))
            told = holder.pid if holder is not None else 0
        time.sleep(poll)


def _holder(fd: int) -> Holder | None:
    """The process the lock file names, if it is alive (a dead one's record is stale)."""
    try:
        holder = Holder.of(json.loads(os.pread(fd, 4096, 0) or b"{}"))
    except (OSError, ValueError):
        return None
    if holder is None:
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return holder
