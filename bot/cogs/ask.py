"""Questions: ``/ask``, mentions of the bot, and follow-ups (replies to its answers, or messages in
a thread it opened). Answers stream into messages and end with sources and vote buttons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.base import NewsCog
from bot.cogs.feedback import vote_view
from bot.delivery import InteractionChain, ReplyChain
from bot.errors import NO_MENTIONS, log_error, user_message
from bot.history import HistoryReader, TurnMemory, question_from_content
from bot.permissions import DM_REFUSAL, library_for
from bot.protocols import AnswerService
from bot.ratelimit import RateLimiter, TooManyQuestions
from bot.render import render_answer
from bot.settings import BotSettings
from bot.streaming import MessageChain, stream_answer
from bot.votes import Turn, VoteStore

_log = logging.getLogger(__name__)
EMPTY_MENTION = "Ask me a question after the mention, e.g. “@newsbot who visited Biosyngen in May 2022?”"


class AskCog(NewsCog, name="Ask"):
    def __init__(
        self,
        bot: commands.Bot,
        *,
        service: AnswerService,
        votes: VoteStore,
        limiter: RateLimiter,
        memory: TurnMemory,
        settings: BotSettings,
    ) -> None:
        self.bot = bot
        self.service = service
        self.votes = votes
        self.limiter = limiter
        self.memory = memory
        self.settings = settings
        self.history = HistoryReader(memory, votes.turn_for_message)

    @app_commands.command(name="ask", description="Ask a question about the news articles in this server's library")
    @app_commands.describe(question="Your question, e.g. “Who visited Biosyngen in May 2022?”")
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 2000]) -> None:
        library = library_for(interaction.guild_id, interaction.user.id, allow_dms=self.settings.discord_allow_dms)
        text = self.service.validate_question(question)
        self.limiter.check(interaction.user.id)
        await interaction.response.defer(thinking=True)
        await self.answer(InteractionChain(interaction), library, text, history=())

    async def answer(
        self, chain: MessageChain, library: str, question: str, *, history: Sequence[tuple[str, str]]
    ) -> None:
        """Stream the answer into ``chain``, then show it with sources and vote buttons and record it."""
        events = self.service.ask(library, question, history=history)
        answer = await stream_answer(events, chain, interval=self.settings.stream_edit_interval)
        answer_id = await asyncio.to_thread(self.votes.record_answer, library, question, answer)
        await chain.publish(render_answer(answer, final=True), final=True, view=vote_view(answer_id))
        message_ids = [m.id for m in chain.messages]
        self.memory.remember(message_ids, Turn(question, answer.text))
        await asyncio.to_thread(self.votes.link_messages, answer_id, message_ids)

    # -- mentions and follow-ups ---------------------------------------------------------------
    async def _wants_answer(self, message: discord.Message, bot_id: int) -> bool:
        if message.guild is None:
            return True
        if f"<@{bot_id}>" in message.content or f"<@!{bot_id}>" in message.content:
            return True
        if isinstance(message.channel, discord.Thread) and message.channel.owner_id == bot_id:
            return True
        return await self.history.is_bot_answer(message, bot_id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.author.id == me.id:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if not await self._wants_answer(message, me.id):
            return
        try:
            await self._answer_message(message, me.id)
        except Exception as exc:  # noqa: BLE001 - one failing message must not hurt the bot
            log_error(exc, "mention")
            await self._reply_quietly(message, user_message(exc), delete_after=30)

    async def _answer_message(self, message: discord.Message, bot_id: int) -> None:
        if message.guild is None and not self.settings.discord_allow_dms:
            await self._reply_quietly(message, DM_REFUSAL)
            return
        library = library_for(
            message.guild.id if message.guild else None, message.author.id, allow_dms=self.settings.discord_allow_dms
        )
        question = question_from_content(message.content, bot_id)
        if not question:
            await self._reply_quietly(message, EMPTY_MENTION, delete_after=60)
            return
        question = self.service.validate_question(question)
        try:
            self.limiter.check(message.author.id)
        except TooManyQuestions as exc:
            await self._reply_quietly(message, str(exc), delete_after=min(max(exc.wait, 5.0), 60.0))
            return
        if message.reference is not None:
            history = await self.history.from_reply_chain(message, bot_id)
        elif isinstance(message.channel, discord.Thread) and message.channel.owner_id == bot_id:
            history = await self.history.from_thread(message, bot_id)
        else:
            history = []
        await self.answer(ReplyChain(message), library, question, history=history)

    async def _reply_quietly(self, message: discord.Message, text: str, *, delete_after: float | None = None) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=NO_MENTIONS, delete_after=delete_after)
        except discord.HTTPException:
            _log.warning("Could not reply to message %s", message.id, exc_info=True)
