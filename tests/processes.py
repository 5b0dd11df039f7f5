"""Running newsbot as users run it: the installed ``newsbot`` console script in a process of its
own, with the settings' defaults (nothing of ours in its environment, HOME in a temp folder)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fakes.discord_server import FakeDiscord

NEWSBOT = Path(sys.executable).with_name("newsbot")
# Variables newsbot (or a library it configures) reads: none of them may leak in from the test run.
OURS = ("NEWSBOT_", "CHROMA_", "OPENAI_", "DISCORD_")


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any of newsbot's settings, HOME at ``home`` (so the
    default data folder ~/.local/share/newsbot is inside it)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(OURS) and k not in ("XDG_DATA_HOME", "XDG_CACHE_HOME")
    }
    env["HOME"] = str(home)
    env.update(extra)
    return env


def discord_env(fake: FakeDiscord, home: Path, **extra: str) -> dict[str, str]:
    """``user_env`` plus the bot token and the loopback Discord's addresses."""
    return user_env(
        home,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        **extra,
    )


@dataclass
class Result:
    code: int
    out: str
    err: str


def newsbot(
    args: list[str], env: dict[str, str], cwd: Path, *, stdin: bytes | None = None, timeout: float = 180
) -> Result:
    """Run ``newsbot ARGS`` to completion."""
    proc = subprocess.run(
        [str(NEWSBOT), *args], env=env, cwd=cwd, input=stdin, capture_output=True, timeout=timeout, check=False
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.asynccontextmanager
async def newsbot_run(env: dict[str, str], cwd: Path, log: Path) -> AsyncIterator[BotProcess]:
    """``newsbot run`` in a process of its own, its output in ``log``; killed if the block did not
    stop it (the test sends the signal it means to test)."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(NEWSBOT), "run", env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield BotProcess(proc, log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def wait_connected(fake: FakeDiscord, bot: BotProcess, *, sessions: int = 1, timeout: float = 180) -> None:
    """Until the bot synced its commands and its gateway session is ready (or it exited)."""

    def ready() -> bool:
        if bot.proc.returncode is not None:
            raise AssertionError(f"newsbot run exited with {bot.proc.returncode}:\n{bot.text()}")
        return len(fake.gateway.ready_sessions) >= sessions and len(fake.command_syncs) >= sessions

    await fake.wait_for(ready, timeout=timeout, interval=0.1, message=f"newsbot run did not connect:\n{bot.text()}")


async def stop(bot: BotProcess, sig: signal.Signals = signal.SIGINT, timeout: float = 60) -> int:
    """Send ``sig`` and wait for the exit code."""
    bot.proc.send_signal(sig)
    return await asyncio.wait_for(bot.proc.wait(), timeout)


def thread_nices(pid: int) -> dict[int, tuple[int, int]]:
    """Linux: each thread of ``pid``: (nice value, CPU time in clock ticks)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = task.joinpath("stat").read_text().rsplit(")", 1)[1].split()
            # after "pid (comm)": state is field 3, utime 14, stime 15, nice 19 (man 5 proc)
            found[int(task.name)] = (int(fields[16]), int(fields[11]) + int(fields[12]))
    return found


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM when the thread that started it ends (a killed test run)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A loopback port nothing listens on (until something binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chroma_run(folder: Path, *, timeout: float = 60.0) -> Iterator[tuple[str, int]]:
    """A real ``chroma run`` server (installed with chromadb) serving ``folder`` on a free loopback
    port until the block ends: the server that CHROMA_HOST/CHROMA_PORT point newsbot at."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`chroma run` did not start (exit code {proc.poll()})")
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """What ``newsbot ARGS`` writes to a terminal (a pseudo-terminal), escape sequences and all."""
    main, terminal = pty.openpty()
    proc = subprocess.Popen([str(NEWSBOT), *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=cwd)
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(main, 65536):
            shown += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0, shown
    return shown.decode(errors="replace")
