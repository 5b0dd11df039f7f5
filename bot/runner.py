"""``newsbot run``: start the bot from settings and stop it cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot.errors import RedactSecrets
from bot.settings import BotSettings
from retrieval.embed.priority import lower_thread_priority
from retrieval.errors import ConfigError, NewsbotError
from retrieval.store.owners import Owner

_log = logging.getLogger("bot.runner")
# Exit code for what only the operator can fix (a wrong token or setting): a service manager should
# not restart the bot for it (deploy/newsbot.service: RestartPreventExitStatus=2). Other failures
# exit 1: an unreachable Discord or store may come back.
CONFIG_ERROR = 2
# How the bot holds the data folder: a `newsbot add` meanwhile is refused (it would wait for ever)
# and told what to do instead.
BOT = Owner("newsbot run", lasting=True, advice="Add articles through Discord (/add), or stop the bot first")


def configure_endpoints(settings: BotSettings) -> None:
    """Point discord.py at another REST base / gateway (a proxy or a test server) when set.
    Process-wide (class attributes of discord.py): the entry point calls it once, before ``run``."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def api_base() -> str:
    """The Discord REST base in use, without any user name, password or query in it."""
    url = yarl.URL(discord.http.Route.BASE)
    return str(url.with_user(None).with_query(None).with_fragment(None))


def unreachable_api(exc: BaseException) -> str:
    """One line for a Discord API that could not be reached, or that failed, while logging in."""
    if isinstance(exc, discord.DiscordServerError):
        return (f"newsbot run: the Discord API at {api_base()} answered HTTP {exc.status} while logging in; "
                "try again later, and check DISCORD_API_BASE if it is set.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        why = "its host name was not found"
    elif isinstance(exc, ConnectionRefusedError) or isinstance(getattr(exc, "os_error", None), ConnectionRefusedError):
        why = "the connection was refused"
    elif isinstance(exc, TimeoutError):
        why = "it did not answer in time"
    else:
        why = f"the connection failed ({type(exc).__name__})"
    return (f"newsbot run: could not reach the Discord API at {api_base()}: {why}; check the network connection "
            "(and proxy), and DISCORD_API_BASE if it is set.")


def _secrets(settings: BotSettings) -> list[str]:
    values = [settings.discord_token, settings.llm_api_key]
    return [v.get_secret_value() for v in values if v is not None]


def lower_worker_priority(loop: asyncio.AbstractEventLoop, nice: int) -> None:
    """Run the loop's blocking work (search, answers, file parsing: ``asyncio.to_thread``) in workers
    ``nice`` below the loop's thread, so that on a busy machine the loop still acknowledges
    interactions within Discord's 3 s. Threads the workers start (the question pool, onnxruntime's
    workers when the model loads there, the ingest embedder's thread) inherit the priority."""
    if nice:
        loop.set_default_executor(
            ThreadPoolExecutor(thread_name_prefix="newsbot-worker", initializer=lower_thread_priority, initargs=(nice,))
        )


def setup_logging(settings: BotSettings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        discord.utils.setup_logging(level=logging.INFO, root=True)
    redact = RedactSecrets(_secrets(settings))
    for handler in root.handlers:
        handler.addFilter(redact)


async def _serve(settings: BotSettings, token: str) -> int:
    from bot.app import build_bot
    from bot.votes import VoteStore
    from retrieval.feeds.service import FeedService
    from retrieval.service import NewsService

    loop = asyncio.get_running_loop()
    lower_worker_priority(loop, settings.worker_nice)
    # Chroma's on-disk folder opens in this process, held as BOT (or the service talks to CHROMA_HOST).
    service = NewsService.from_settings(settings, owner=BOT, on_wait=_log.info)
    votes = VoteStore(settings.data_dir / "votes.sqlite3")
    feeds = FeedService(settings, service)
    bot = build_bot(settings, service, votes, feeds=feeds)
    stop_tasks: set[asyncio.Task[None]] = set()

    def request_stop(name: str) -> None:
        _log.info("%s received; shutting down", name)
        task = loop.create_task(bot.close())
        stop_tasks.add(task)
        task.add_done_callback(stop_tasks.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop, sig.name)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread / Windows
            pass
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        print(
            "newsbot run: Discord refused the token (DISCORD_TOKEN); check it in the developer portal.", file=sys.stderr
        )
        return CONFIG_ERROR
    except (aiohttp.ClientConnectionError, TimeoutError, discord.DiscordServerError) as exc:
        _log.debug("logging in to Discord failed", exc_info=True)
        print(unreachable_api(exc), file=sys.stderr)
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "newsbot run: enable the Message Content intent for the bot in the Discord developer portal.",
            file=sys.stderr,
        )
        return CONFIG_ERROR
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        votes.close()
        feeds.close()
        service.close()
    return 0


def run(settings: BotSettings, *, notices: Sequence[str] = ()) -> int:
    """Run the bot until it is stopped; the process exit code. Endpoints other than Discord's
    (DISCORD_API_BASE, DISCORD_GATEWAY_URL) are the entry point's to set (``configure_endpoints``).
    ``notices``: warnings about the configuration, written to the log once it is set up."""
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print("newsbot run: DISCORD_TOKEN is not set; put the bot token in the environment or .env.", file=sys.stderr)
        return CONFIG_ERROR
    setup_logging(settings)
    for line in notices:
        _log.warning("%s", line.removeprefix("newsbot: "))
    try:
        return asyncio.run(_serve(settings, settings.discord_token.get_secret_value().strip()))
    except NewsbotError as exc:
        print(f"newsbot run: {exc}", file=sys.stderr)
        return CONFIG_ERROR if isinstance(exc, ConfigError) else 1
    except KeyboardInterrupt:  # pragma: no cover - signal handlers normally catch it first
        return 130
