"""The bot never blocks its event loop on ingest work: /ask still defers while a big /add runs.

The real bot (discord.py, NewsService with Chroma in a temp dir and MiniLM, extractive answers or,
with ``--llm``, the loopback fake LLM) runs against the loopback fake Discord of the tests. Its
guild library is seeded with the sample articles (data/), then an editor adds the MultiHop-RAG
corpus through ``/add`` with JSON file attachments (split under the per-file limit, sent one after
another, each waited for). Meanwhile another user sends ``/ask`` with a dev question every
``--interval`` s, and a 10 ms ticker in the same loop records how late it wakes.

    python bench/responsiveness.py [--corpus ../shared/bench/multihop/corpus.json] [--articles N]
                                   [--file-bytes B] [--interval 0.5] [--llm] [--stalls FILE] [--keep-fake-history] [--json]

Defer latency = the bot's first interaction callback (type 5) minus the moment the user clicked:
the ask's planned time (every ``--interval`` s). The fake Discord shares the bot's event loop, so
while that loop is stalled the fake cannot send either; timing from the interaction it sent
(``rec.time``, as tests/test_bot_e2e.py does) would hide every stall. Real Discord delivers on time
and the event waits in the socket, so the planned time is what a user sees. Both are reported.
Final answer = the last response (vote buttons attached) minus the planned time. Once an ask is
answered the fake forgets it (its messages, records and logs; ``--keep-fake-history`` keeps them):
they live in the bot's process and would otherwise grow the heap its garbage collections walk.

Target (2 cores): with an ingest of the whole corpus running, /ask defers within 100 ms (max).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import CORPUS, QUERIES, LoopLag, StallWatch, peak_rss_mb, percentile_ms  # noqa: E402
from bot.app import build_bot  # noqa: E402
from bot.cli.main import use_offline_tiktoken_cache  # noqa: E402
from bot.runner import lower_worker_priority  # noqa: E402
from bot.votes import VoteStore  # noqa: E402
from retrieval.answer.openai_chat import OpenAIChatModel  # noqa: E402
from retrieval.embed.background import LowPriorityEmbedder  # noqa: E402
from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir  # noqa: E402
from retrieval.text.tokens import get_encoding  # noqa: E402
from tests.bot_fixtures import (  # noqa: E402
    ALICE,
    BOB,
    CHAN_A,
    DATA,
    GUILD_A,
    add_guilds,
    bot_settings,
    content_of,
    ephemeral_text,
    wait_answer,
)
from tests.conftest import OFFLINE_DIR, make_service  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

LIBRARY = f"guild-{GUILD_A}"
TARGET_MS = 100.0


def corpus_files(corpus: Path, articles: int | None, limit: int) -> list[bytes]:
    """The corpus records as compact JSON lists, each file at most ``limit`` bytes."""
    records = [
        json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in json.loads(corpus.read_bytes())[:articles]
    ]
    too_big = next((len(r) + 2 for r in records if len(r) + 2 > limit), None)  # alone in its brackets
    if too_big:
        raise SystemExit(f"a single article is larger than the {limit:,}-byte file limit ({too_big:,} bytes)")
    files: list[bytes] = []
    part: list[bytes] = []
    size = 2  # the brackets
    for record in records:
        if part and size + len(record) + 1 > limit:  # the record and a comma
            files.append(b"[" + b",".join(part) + b"]")
            part, size = [], 2
        part.append(record)
        size += len(record) + 1
    if part:
        files.append(b"[" + b",".join(part) + b"]")
    return files


async def add_files(fake: FakeDiscord, files: list[bytes]) -> None:
    """``/add`` each file as the editor, waiting for each final response before the next."""
    for n, data in enumerate(files, start=1):
        rec = await fake.send_slash_command(
            GUILD_A, CHAN_A, ALICE, "add", attachments={"file": (f"corpus-{n}.json", data, "application/json")}
        )
        final = ("**", "Nothing was added")
        await fake.wait_for(lambda: content_of(fake, rec).startswith(final) or ephemeral_text(rec), timeout=7200)
        if ephemeral_text(rec):
            raise RuntimeError(f"/add of corpus-{n}.json failed: {ephemeral_text(rec)}")


def heap_census(top: int = 8) -> dict:
    """What a full garbage collection walks at the end of the run: objects the collector tracks
    (not frozen), counted by the module of their type (the bench's fake Discord lives in this
    process too, and real Discord keeps its messages elsewhere)."""
    by_module: dict[str, int] = {}
    objects = gc.get_objects()
    for obj in objects:
        module = type(obj).__module__ or "?"
        by_module[module] = by_module.get(module, 0) + 1
    ranked = sorted(by_module.items(), key=lambda item: -item[1])[:top]
    return {"tracked": len(objects), "frozen": gc.get_freeze_count(), "by_type_module": dict(ranked)}


async def measure(args: argparse.Namespace, files: list[bytes], questions: list[str]) -> dict:
    use_offline_tiktoken_cache(None, OFFLINE_DIR)
    embedder = MiniLMEmbedder(resolve_model_dir(None, OFFLINE_DIR), threads=args.embed_threads)
    encoding = get_encoding()
    # Not loaded here: the bot's setup_hook loads it in a worker thread (outside every timing), so
    # onnxruntime's threads get the workers' priority as in `newsbot run`.
    lower_worker_priority(asyncio.get_running_loop(), args.worker_nice)  # as `newsbot run` does
    async with contextlib.AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsbot-bench-resp-")))
        llm = await stack.enter_async_context(FakeOpenAIServer()) if args.llm else None
        settings = bot_settings(  # Chroma embedded in the bot's process, as `newsbot run` without CHROMA_HOST
            tmp,
            llm.base_url if llm else None,
            llm_disabled=llm is None,
            rate_limit_questions=10**6,  # the asker is never limited
            stream_edit_interval=1.0,  # the product's default
            worker_nice=args.worker_nice,
        )
        chat = OpenAIChatModel.from_settings(settings) if llm else None
        ingest_embedder = None  # as NewsService.from_settings: a second model, niced, for articles
        if args.ingest_nice:
            model = MiniLMEmbedder(resolve_model_dir(None, OFFLINE_DIR), threads=args.embed_threads)
            ingest_embedder = LowPriorityEmbedder(model, nice=args.ingest_nice)
            stack.callback(ingest_embedder.close)
            await asyncio.to_thread(ingest_embedder.warm)
        service = make_service(settings, embedder, encoding, chat=chat, ingest_embedder=ingest_embedder)
        stack.callback(service.close)
        votes = VoteStore(settings.data_dir / "votes.sqlite3")
        stack.callback(votes.close)
        fake = await stack.enter_async_context(FakeDiscord(ack_deadline=None))  # measures late deferrals instead of refusing them
        await add_guilds(fake)
        bot = build_bot(settings, service, votes, guild_ready_timeout=0.05)
        await stack.enter_async_context(fake.run_bot(bot, ready_timeout=120))

        seed = sorted(DATA.glob("*.json"))[: args.seed]
        await service.add_articles(LIBRARY, await service.read_paths(seed))
        before = await service.stats(LIBRARY)

        defers: list[float] = []
        after_send: list[float] = []
        answers: list[float] = []

        async def ask(question: str, clicked: float) -> None:
            rec = await fake.send_slash_command(GUILD_A, CHAN_A, BOB, "ask", {"question": question})
            await wait_answer(fake, rec, timeout=600)
            first = rec.responses[0]
            if (first.kind, first.callback_type) != ("callback", 5):
                raise RuntimeError(f"/ask was not deferred first: {first.kind} {first.callback_type}")
            defers.append(first.time - clicked)  # all times: time.monotonic(), as the fake records
            after_send.append(first.time - rec.time)
            answers.append(rec.responses[-1].time - clicked)
            if not args.keep_fake_history:  # a real bot does not hold Discord's records: the fake drops them
                fake.forget(rec)

        watch = stack.enter_context(StallWatch(asyncio.get_running_loop(), TARGET_MS / 1000)) if args.stalls else None
        async with LoopLag(0.010) as lag:
            started = time.perf_counter()
            ingest = asyncio.create_task(add_files(fake, files))
            inflight: set[asyncio.Task[None]] = set()
            sent = skipped = 0
            planned = time.monotonic()
            while not ingest.done():
                if planned > time.monotonic():
                    await asyncio.wait({ingest}, timeout=planned - time.monotonic())
                    continue
                if len(inflight) < args.max_inflight:
                    task = asyncio.create_task(ask(questions[sent % len(questions)], planned))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                    sent += 1
                else:
                    skipped += 1  # earlier answers still running: do not pile more work onto 2 cores
                planned += args.interval
            ingest_seconds = time.perf_counter() - started
            await asyncio.gather(ingest, *inflight)
        after = await service.stats(LIBRARY)
        heap = heap_census()  # while the bot and the fake Discord still hold what they kept

    defer_max = percentile_ms(defers, 1.0)
    return {
        "cpus": os.cpu_count(),
        "llm": "fake (loopback)" if args.llm else "none (extractive)",
        "chroma": "embedded in the bot's process",
        "embed_threads": args.embed_threads or "onnxruntime default",
        "ingest_nice": args.ingest_nice,
        "worker_nice": args.worker_nice,
        "fake_history": "kept" if args.keep_fake_history else "dropped once each ask is answered",
        "files": len(files),
        "file_mb": [round(len(f) / 1e6, 2) for f in files],
        "seed_articles": before.articles,
        "articles_ingested": after.articles - before.articles,
        "chunks_ingested": after.chunks - before.chunks,
        "ingest_s": round(ingest_seconds, 1),
        "asks": len(defers),
        "ask_ticks_skipped": skipped,
        "defer_p50_ms": percentile_ms(defers, 0.5),
        "defer_p95_ms": percentile_ms(defers, 0.95),
        "defer_max_ms": defer_max,
        "defers_over_target": sum(1 for d in defers if d * 1000 > TARGET_MS),
        "defer_after_send_p50_ms": percentile_ms(after_send, 0.5),
        "defer_after_send_max_ms": percentile_ms(after_send, 1.0),
        "answer_p50_ms": percentile_ms(answers, 0.5),
        "answer_p95_ms": percentile_ms(answers, 0.95),
        "loop_lag_p99_ms": percentile_ms(lag.lags, 0.99),
        "loop_lag_max_ms": lag.max_ms,
        "peak_rss_mb": peak_rss_mb(),
        "heap": heap,
        "stalls": watch.stalls if watch else None,
        "collections": watch.collections if watch else None,
        "target_met": {f"defer max <= {TARGET_MS:.0f} ms": bool(defers) and defer_max <= TARGET_MS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--articles", type=int, default=None, help="only the first N corpus articles")
    parser.add_argument("--file-bytes", type=int, default=None, help="bytes per /add file (default: the limit)")
    parser.add_argument("--seed", type=int, default=6, help="sample articles (data/) in the library first")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between /ask commands")
    parser.add_argument("--max-inflight", type=int, default=4, help="unanswered /ask commands at most")
    parser.add_argument("--llm", action="store_true", help="answer with the loopback fake LLM (else extractive)")
    parser.add_argument("--embed-threads", type=int, default=None, help="onnxruntime threads (default: one per core)")
    parser.add_argument(
        "--ingest-nice", type=int, default=None, help="nice value added for article embedding (default: the setting's)"
    )
    parser.add_argument(
        "--worker-nice", type=int, default=None, help="nice value added for the bot's worker threads (default: the setting's)"
    )
    parser.add_argument(
        "--stalls", type=Path, default=None, help="write each event-loop stall over the target (stacks, CPU) here"
    )
    parser.add_argument(
        "--keep-fake-history", action="store_true", help="keep the fake Discord's records of answered asks (grows the heap)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    defaults = bot_settings(Path(tempfile.gettempdir()), None)
    if args.ingest_nice is None:
        args.ingest_nice = defaults.ingest_nice
    if args.worker_nice is None:
        args.worker_nice = defaults.worker_nice
    limit = defaults.max_article_bytes
    files = corpus_files(args.corpus, args.articles, min(args.file_bytes or limit, limit))
    questions = [q["query"] for q in json.loads(args.queries.read_bytes())]
    if not args.json:
        print(f"adding {len(files)} file(s) through /add while asking every {args.interval} s ...", flush=True)
    r = asyncio.run(measure(args, files, questions))
    stalls, gcs = r.pop("stalls"), r.pop("collections")
    if args.stalls:
        args.stalls.write_text(json.dumps({"stalls": stalls, "collections": gcs}, indent=1))
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"ingest: {r['articles_ingested']} articles -> {r['chunks_ingested']} chunks in {r['ingest_s']} s "
          f"({r['files']} /add file(s), MB {r['file_mb']}; library seeded with {r['seed_articles']}); "
          f"{r['cpus']} CPUs, LLM {r['llm']}, Chroma {r['chroma']}, embedding threads {r['embed_threads']}, "
          f"article embedding nice +{r['ingest_nice']}, worker threads nice +{r['worker_nice']}")
    print(f"/ask during the ingest: {r['asks']} asks ({r['ask_ticks_skipped']} ticks skipped, answers pending)")
    print(f"  defer        p50 {r['defer_p50_ms']} ms, p95 {r['defer_p95_ms']} ms, max {r['defer_max_ms']} ms "
          f"(from the click; after the fake sent it: p50 {r['defer_after_send_p50_ms']} ms, "
          f"max {r['defer_after_send_max_ms']} ms); {r['defers_over_target']} over {TARGET_MS:.0f} ms")
    print(f"  final answer p50 {r['answer_p50_ms']} ms, p95 {r['answer_p95_ms']} ms")
    print(f"event-loop lag (10 ms ticker): p99 {r['loop_lag_p99_ms']} ms, max {r['loop_lag_max_ms']} ms")
    print(f"peak RSS {r['peak_rss_mb']:.0f} MB")
    for name, met in r["target_met"].items():
        print(f"target {name}: {'met' if met else 'NOT met'}")
    if args.stalls:
        print(f"garbage collections over {TARGET_MS / 10:.0f} ms: {len(gcs)}, longest "
              f"{max((c['ms'] for c in gcs), default=0)} ms, total {sum(c['ms'] for c in gcs):.0f} ms")
        print(f"{len(stalls)} event-loop stall(s) over {TARGET_MS:.0f} ms, longest first (all in {args.stalls}):")
        for stall in sorted(stalls, key=lambda s: -s["ms"])[:5]:
            busy = ", ".join(f"{name} {ms} ms" for name, ms in list(stall["cpu_ms"].items())[:4])
            first = stall["stacks"][0] if stall["stacks"] else {}
            loop = next((frames for name, frames in first.items() if name.startswith("MainThread")), [])
            print(f"  {stall['ms']} ms; CPU meanwhile: {busy}; event loop at: {loop[-1] if loop else '?'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
