"""Earlier turns of a conversation: from the reply chain, or from a thread the bot opened.

The bot's own answers are looked up in a small in-memory map (message id -> turn), then in the
vote store (which survives restarts), and as a last resort read back from the message itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable

import discord

from bot.render import answer_text_from_message
from bot.votes import Turn
from retrieval.service import HISTORY_TURNS

# Earlier turns read back from Discord for a follow-up: as many as the core uses.
MAX_TURNS = HISTORY_TURNS
_log = logging.getLogger(__name__)


class TurnMemory:
    """Least-recently-used map from the ids of the bot's answer messages to their turn."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._turns: OrderedDict[int, Turn] = OrderedDict()

    def remember(self, message_ids: Iterable[int], turn: Turn) -> None:
        for message_id in message_ids:
            self._turns[int(message_id)] = turn
            self._turns.move_to_end(int(message_id))
        while len(self._turns) > self._size:
            self._turns.popitem(last=False)

    def get(self, message_id: int) -> Turn | None:
        turn = self._turns.get(int(message_id))
        if turn is not None:
            self._turns.move_to_end(int(message_id))
        return turn

    def __contains__(self, message_id: int) -> bool:
        return int(message_id) in self._turns


def question_from_content(content: str, bot_user_id: int) -> str:
    """The message text with mentions of the bot removed."""
    return " ".join(re.sub(rf"<@!?{bot_user_id}>", " ", content or "").split())


async def referenced_message(message: discord.Message) -> discord.Message | None:
    """The message ``message`` replies to (resolved by Discord, cached, or fetched)."""
    ref = message.reference
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if ref.cached_message is not None:
        return ref.cached_message
    channel = message.channel
    if ref.channel_id != channel.id or not hasattr(channel, "fetch_message"):
        return None
    try:
        return await channel.fetch_message(ref.message_id)
    except discord.NotFound:
        return None  # deleted: the conversation starts here
    except discord.HTTPException as exc:
        # the follow-up is answered without its earlier turns; the log says why (often a missing
        # Read Message History permission)
        _log.warning("Could not read message %s in channel %s for a follow-up's context: HTTP %s %s",
                     ref.message_id, channel.id, exc.status, exc.text or "")
        return None


class HistoryReader:
    """Builds ``history`` (question, answer) pairs for a follow-up question."""

    def __init__(self, memory: TurnMemory, lookup: Callable[[int], Turn | None], *, max_turns: int = MAX_TURNS) -> None:
        self.memory = memory
        self._lookup = lookup
        self.max_turns = max_turns

    async def turn_for(self, answer_message: discord.Message, bot_user_id: int) -> Turn | None:
        turn = self.memory.get(answer_message.id) or await asyncio.to_thread(self._lookup, answer_message.id)
        if turn is not None:
            return turn
        text = answer_text_from_message(answer_message.content)
        if not text:
            return None
        question_msg = await referenced_message(answer_message)
        question = question_from_content(question_msg.content, bot_user_id) if question_msg else ""
        return Turn(question, text)

    async def is_bot_answer(self, message: discord.Message, bot_user_id: int) -> bool:
        """Whether ``message`` replies to one of the bot's messages (without fetching anything)."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return False
        resolved = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
        if resolved is not None:
            return resolved.author.id == bot_user_id
        return ref.message_id in self.memory or await asyncio.to_thread(self._lookup, ref.message_id) is not None

    async def from_reply_chain(self, message: discord.Message, bot_user_id: int) -> list[tuple[str, str]]:
        turns: list[tuple[str, str]] = []
        current = message
        while len(turns) < self.max_turns:
            answer_msg = await referenced_message(current)
            if answer_msg is None or answer_msg.author.id != bot_user_id:
                break
            turn = await self.turn_for(answer_msg, bot_user_id)
            if turn is None:
                break
            turns.append((turn.question, turn.answer))
            question_msg = await referenced_message(answer_msg)
            if question_msg is None:
                break
            current = question_msg
        turns.reverse()
        return turns

    async def from_thread(self, message: discord.Message, bot_user_id: int) -> list[tuple[str, str]]:
        turns: list[tuple[str, str]] = []
        seen: set[Turn] = set()
        try:
            async for earlier in message.channel.history(limit=30, before=message):
                if earlier.author.id != bot_user_id:
                    continue
                turn = await self.turn_for(earlier, bot_user_id)
                if turn is not None and turn not in seen:
                    seen.add(turn)
                    turns.append((turn.question, turn.answer))
                if len(turns) >= self.max_turns:
                    break
        except discord.HTTPException:
            _log.warning("Could not read the thread's history", exc_info=True)
        turns.reverse()
        return turns
