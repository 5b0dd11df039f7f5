"""The arguments of ``newsbot feed`` (apart from its handler, so the parser loads no feed code)."""

from __future__ import annotations

import argparse


def add_feed_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    help_text = "follow RSS/Atom feeds: their new articles are added to a library"
    feed = sub.add_parser("feed", help=help_text, description=help_text)
    actions = feed.add_subparsers(dest="feed_command", required=True, metavar="ACTION")

    def action(name: str, text: str, library_help: str, default: str | None) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=text, description=text)
        p.add_argument("--library", default=default, help=library_help)
        return p

    add = action("add", "follow the feed at URL", "library its articles go to; default: default", "default")
    add.add_argument("url", metavar="URL")
    action("list", "the feeds followed and how their polling goes", "only this library's feeds", None)
    rm = action("remove", "stop following feed ID (its articles stay)", "only if it is this library's", None)
    rm.add_argument("feed_id", metavar="ID", type=int)
    poll = action("poll", "poll every due feed once and print what was added", "only this library's feeds", None)
    poll.add_argument("--all", action="store_true", help="poll every feed, due or not")
