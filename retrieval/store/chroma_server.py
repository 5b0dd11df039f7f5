"""A ``chroma run`` child process serving a library folder on a loopback port.

Embedded Chroma holds Python's GIL for the whole of each write, so a bot that ingests articles
while it answers questions stalls its event loop for up to half a second per write
(bench/responsiveness.py). ``newsbot run`` therefore serves the same on-disk folder from a child
``chroma run`` process and talks to it over loopback HTTP, during which the GIL is free. The
folder is the one the embedded client uses, so the CLI and the bot see the same libraries (not at
the same time: one process at a time may own a Chroma folder).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from retrieval.errors import StoreError
from retrieval.store.folder_lock import lock_folder
from retrieval.store.owners import OnWait, Owner

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def chroma_command() -> list[str]:
    """The ``chroma`` executable installed with chromadb, beside this Python."""
    script = Path(sys.executable).with_name("chroma")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from chromadb.cli.cli import app; app()"]


@contextlib.contextmanager
def chroma_child(
    path: Path,
    *,
    port: int | None = None,
    startup_timeout: float = 30.0,
    owner: Owner = Owner(),
    on_wait: OnWait | None = None,
) -> Iterator[tuple[str, int]]:
    """Serve ``path`` with ``chroma run`` on a loopback port until the block ends; yields (host, port).
    The folder is held for ``owner`` first (``on_wait``: see retrieval.store.folder_lock)."""
    with contextlib.ExitStack() as stack:
        lock = lock_folder(Path(path), owner, on_wait)
        stack.callback(lock.release)
        port = port or free_port()
        try:
            proc = subprocess.Popen(
                [*chroma_command(), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
                pass_fds=(lock.fileno(),),
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise StoreError(
                f"Could not start `chroma run` for {path} ({type(exc).__name__}).",
                hint="Reinstall newsbot (chromadb provides `chroma`), or set NEWSBOT_BOT_CHROMA=embedded.",
            ) from None
        stack.callback(_stop, proc)
        _wait_until_up(proc, port, startup_timeout)
        yield HOST, port


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_up(proc: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise StoreError(
                f"`chroma run` exited at start (code {proc.returncode}).",
                hint="Another process may be using the Chroma folder; or set NEWSBOT_BOT_CHROMA=embedded.",
            )
        time.sleep(0.1)
    raise StoreError(
        f"`chroma run` did not answer within {timeout:.0f} s.", hint="Set NEWSBOT_BOT_CHROMA=embedded to run without it."
    )
