"""NewsService: the one object the command line, the evaluation and the bot talk to.

Its surface is async; blocking work runs in worker threads. ``search`` and ``ingest`` are the two
blocking steps underneath (what ``ask`` and the ``add_*`` methods run in those threads), public for
the callers that time them directly: the evaluation and bench/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from pathlib import Path

import tiktoken

from retrieval.answer.answerer import AnswerDone, Answerer, AnswerEvent, AnswerStatus, Stage
from retrieval.answer.llm import ChatModel, RetryPolicy
from retrieval.answer.prompts import PROMPT_TURNS, PromptSet
from retrieval.components import build_chat_model, build_embedder, build_ingest_embedder, build_ranker
from retrieval.embed.background import LowPriorityEmbedder
from retrieval.embed.base import Embedder
from retrieval.errors import ConfigError, InputError
from retrieval.ingest.gather import ReadReport
from retrieval.ingest.pipeline import Ingestor, Progress
from retrieval.ingest.reader import ArticleReader
from retrieval.models import Answer, Article, ArticleSummary, IngestResult, LibraryStats, Passage
from retrieval.recent import LatestArticles, RecentArticles
from retrieval.search.params import Ranker, SearchParams
from retrieval.search.searcher import Searcher
from retrieval.settings import Settings
from retrieval.store.chroma import ChromaStore
from retrieval.store.chroma_records import validate_library
from retrieval.store.folder_lock import writable_folder
from retrieval.store.keyword_indexes import KeywordIndexes
from retrieval.store.owners import OnWait, Owner
from retrieval.text.tokens import get_encoding
from retrieval.writer import LibraryWriter

History = Sequence[tuple[str, str]]
# Earlier questions of a conversation searched together with a follow-up (the latest ones).
SEARCHED_TURNS = 2
# Earlier turns worth passing to ``ask``: the most that the search or the prompt uses.
HISTORY_TURNS = max(SEARCHED_TURNS, PROMPT_TURNS)


class NewsService:
    def __init__(
        self,
        settings: Settings,
        *,
        store: ChromaStore,
        embedder: Embedder,
        encoding: tiktoken.Encoding,
        chat: ChatModel | None,
        prompts: PromptSet,
        ingest_embedder: Embedder | None = None,
        ranker: Ranker | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        """``embedder`` serves questions; ``ingest_embedder`` (default: the same) embeds articles;
        ``ranker`` re-ranks search candidates (None: the fused ranking as it is); ``today``: the
        date recent news ("this week", /latest) counts back from."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.ingest_embedder = ingest_embedder or embedder
        self.ingestor = Ingestor(
            store, self.ingest_embedder, encoding, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap
        )
        self.keyword_index = KeywordIndexes(settings.data_dir / "keyword" / store.identity, store)
        self.writer = LibraryWriter(store, self.ingestor)  # one write at a time per library
        self.reader = ArticleReader(settings)
        self.searcher = Searcher(store, embedder, self.keyword_index, ranker)
        self.recent = RecentArticles(store, self.search, self.search_params, today, settings.latest_days)
        self.answerer = Answerer(
            chat=chat, prompts=prompts, encoding=encoding, context_tokens=settings.context_tokens,
            retry=RetryPolicy(max_retries=settings.llm_max_retries), deadline=settings.llm_deadline,
            embedder=embedder, today=today,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, owner: Owner = Owner(), on_wait: OnWait | None = None) -> NewsService:
        """Everything as configured: Chroma on disk (in this process) or at CHROMA_HOST, the models,
        the re-ranker and the chat model. ``owner``: the command this process runs, as others
        waiting for the data are told; ``on_wait`` hears once whom this one waits for."""
        writable_folder(settings.data_dir)
        encoding = get_encoding()
        prompts = PromptSet.load(settings.prompts_dir)
        embedder = build_embedder(settings)
        store = ChromaStore.connect(
            path=settings.resolved_chroma_path, host=settings.chroma_host, port=settings.chroma_port,
            embedder_name=embedder.name, owner=owner, on_wait=on_wait, lease_seconds=settings.write_lease_seconds,
        )
        return cls(settings, store=store, embedder=embedder, encoding=encoding, chat=build_chat_model(settings),
                   prompts=prompts, ranker=build_ranker(settings), ingest_embedder=build_ingest_embedder(settings))

    def warm(self) -> None:
        """Load the question embedder now rather than at the first question. Blocking; the model's
        worker threads start in (and inherit the priority of) the calling thread."""
        self.embedder.warm()

    def close(self) -> None:
        self.searcher.close()
        self.keyword_index.close()
        if isinstance(self.ingest_embedder, LowPriorityEmbedder):
            self.ingest_embedder.close()
        self.store.close()

    # -- questions ---------------------------------------------------------------------------
    def validate_question(self, question: str) -> str:
        text = " ".join((question or "").split())
        if not text:
            raise InputError("Please ask a question.")
        limit = self.settings.max_question_chars
        if len(text) > limit:
            raise InputError(
                f"That question is {len(text):,} characters long; the limit is {limit:,}.",
                hint="Ask something shorter, or split it into separate questions.",
            )
        return text

    def search_params(self) -> SearchParams:
        """How questions are searched, as configured."""
        return SearchParams(
            k=self.settings.top_k,
            per_article=self.settings.passages_per_article,
            min_similarity=self.settings.min_similarity,
        )

    def search(self, library: str, query: str, params: SearchParams | None = None, since: date | None = None) -> list[Passage]:
        """Ranked passages for ``query`` (only from articles published on or after ``since``, when
        given). Blocking: ``ask`` runs it in a worker thread."""
        return self.searcher.search(library, query, params or self.search_params(), since)

    def publishers(self, library: str) -> list[str]:
        """The publishers the library holds articles from. Blocking."""
        return self.keyword_index(library).facets(sync=False)[0]

    def _find(self, library: str, query: str, since: date | None) -> tuple[list[Passage], Answer | None, list[str]]:
        """The passages (or the answer that the period holds none), and the library's publishers: a
        question naming one it lacks is refused. Blocking: one worker-thread trip for both."""
        passages, nothing = self.recent.passages(library, query, since)
        return passages, nothing, self.publishers(library) if passages else []

    async def ask(self, library: str, question: str, *, history: History = ()) -> AsyncIterator[AnswerEvent]:
        """Answer events: status lines, raw deltas (LLM only), resets, and the final Answer."""
        text = self.validate_question(question)
        validate_library(library)
        yield AnswerStatus(Stage.SEARCHING)
        # "this week", "latest"…: only articles published since ``since`` count (their words are not searched for).
        since, searched = self.recent.window(text)
        # A follow-up ("and when was that?") is searched together with the turns before it.
        query = " ".join([q for q, _ in history[-SEARCHED_TURNS:]] + [searched])
        passages, nothing, publishers = await asyncio.to_thread(self._find, library, query, since)
        if nothing is not None:  # the period asked about holds nothing on the question
            yield AnswerDone(nothing)
            return
        async for event in self.answerer.stream(text, passages, history, publishers=publishers):
            yield event

    # -- articles ----------------------------------------------------------------------------
    def ingest(self, library: str, articles: Sequence[Article], progress: Progress | None = None) -> list[IngestResult]:
        """Chunk, embed and store ``articles``. Blocking: the async methods run it in a worker thread."""
        return self.writer.ingest(library, articles, progress)

    async def add_articles(self, library: str, articles: Sequence[Article], progress: Progress | None = None) -> list[IngestResult]:
        return await asyncio.to_thread(self.ingest, library, articles, progress)

    async def ensure_seeded(self, library: str, progress: Progress | None = None) -> list[IngestResult]:
        """On an empty library, add the articles of the seed folder (NEWSBOT_SEED_DIR; by default
        the bundled samples)."""
        seed = self.settings.seed_dir
        if seed is None or await self.count(library) > 0:
            return []
        if not seed.is_dir():
            raise ConfigError(
                f"The seed folder {seed} (NEWSBOT_SEED_DIR) is not a folder.",
                hint="Point it at a folder of articles, or set it empty to start with an empty library.",
            )
        return await self.add_articles(library, await self.read_paths([seed]), progress)

    async def read_paths(self, paths: Sequence[Path], **overrides: object) -> list[Article]:
        """The articles in files and folders (every supported file under a folder)."""
        return await asyncio.to_thread(self.reader.paths, paths, **overrides)

    async def read_sources(self, sources: Sequence[str], **overrides: object) -> ReadReport:
        """Articles from links, files and folders; the ones that cannot be read are reported."""
        return await asyncio.to_thread(self.reader.sources, sources, **overrides)

    async def read_url(self, url: str, **overrides: object) -> Article:
        """Fetch and extract one article with the configured limits."""
        return await asyncio.to_thread(self.reader.url, url, **overrides)

    async def add_url(self, library: str, url: str, *, title: str | None = None, publisher: str | None = None,
                      published: date | str | None = None) -> IngestResult:
        article = await self.read_url(url, title=title, publisher=publisher, published=published)
        return (await self.add_articles(library, [article]))[0]

    async def add_text(self, library: str, text: str, *, title: str | None = None, publisher: str | None = None,
                       published: date | str | None = None, url: str | None = None) -> IngestResult:
        article = self.reader.text(text, title=title, publisher=publisher, published=published, url=url)
        return (await self.add_articles(library, [article]))[0]

    async def add_file(self, library: str, filename: str, data: bytes, *, title: str | None = None,
                       publisher: str | None = None, published: date | str | None = None,
                       progress: Progress | None = None) -> list[IngestResult]:
        articles = await asyncio.to_thread(self.reader.file, filename, data, title=title, publisher=publisher,
                                           published=published)
        return await self.add_articles(library, articles, progress)

    # -- libraries ---------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """Names the Chroma instance the libraries live in (files derived from them are kept per instance)."""
        return self.store.identity

    async def list_articles(self, library: str, *, offset: int = 0, limit: int | None = 10) -> tuple[list[ArticleSummary], int]:
        """Articles newest first, ``limit`` of them from ``offset`` (None: all), and how many there are."""
        rows = await asyncio.to_thread(self.store.articles, validate_library(library))
        return rows[offset : None if limit is None else offset + limit], len(rows)

    async def latest(self, library: str, topic: str | None = None, *, days: int | None = None) -> LatestArticles:
        """The articles of the last ``days`` days (default: NEWSBOT_LATEST_DAYS), newest first,
        optionally only those the search finds for ``topic``."""
        topic = self.validate_question(topic) if topic and topic.strip() else None
        return await asyncio.to_thread(self.recent.latest, library, topic, days)

    async def count(self, library: str) -> int:
        """Chunks in ``library`` (0 when it does not exist)."""
        return await asyncio.to_thread(self.store.count, validate_library(library))

    async def remove(self, library: str, article_id: str) -> bool:
        return await asyncio.to_thread(self.writer.remove, library, article_id)

    async def drop(self, library: str) -> None:
        """Delete ``library`` and all its articles."""
        await asyncio.to_thread(self.writer.drop, library)

    async def stats(self, library: str) -> LibraryStats:
        def stats() -> LibraryStats:
            rows = self.store.articles(validate_library(library))
            return LibraryStats(library=library, articles=len(rows), chunks=sum(r.chunks for r in rows),
                                embedder=self.store.built_with(library) or self.embedder.name)

        return await asyncio.to_thread(stats)

    async def reindex(self, library: str, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild ``library`` with the configured embedder; the number of chunks written."""

        def reindex() -> int:
            written = self.writer.reindex(library, progress)
            self.keyword_index(library).sync(force=True)
            return written

        return await asyncio.to_thread(reindex)
