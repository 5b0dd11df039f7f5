"""Benchmark: Chroma's default embedding function vs newsbot's MiniLMEmbedder (same model).

Run by hand (takes a few minutes on 2 cores; Chroma pads every text to 256 word-pieces):

    /work/venv/bin/python bench/embedder.py [--chunks 2000] [--questions 200]
        [--batch-sizes 8,16,32,64] [--model-dir DIR] [--json]

Chunks are made crudely from the MultiHop-RAG corpus (article bodies split on whitespace into
~150-word pieces, the last piece of an article shorter). Questions are MultiHop-RAG dev queries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import CORPUS, QUERIES  # noqa: E402
from retrieval.embed.minilm import MiniLMEmbedder, resolve_model_dir  # noqa: E402

SHARED = ROOT.parent / "shared"
WORDS_PER_CHUNK = 150
CHROMA_RELOAD_CALLS = 20  # DefaultEmbeddingFunction reloads the model on every call: keep this small


def make_chunks(count: int) -> list[str]:
    chunks: list[str] = []
    for article in json.loads(CORPUS.read_text()):
        words = article["body"].split()
        for start in range(0, len(words), WORDS_PER_CHUNK):
            chunks.append(" ".join(words[start : start + WORDS_PER_CHUNK]))
            if len(chunks) == count:
                return chunks
    return chunks


def load_questions(count: int) -> list[str]:
    return [row["query"] for row in json.loads(QUERIES.read_text())[:count]]


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def latencies_ms(fn, questions: list[str]) -> dict[str, float]:
    times = []
    for question in questions:
        start = time.perf_counter()
        fn(question)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)), "n": len(times)}


def paired_latencies_ms(first, second, questions: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Alternate the two functions question by question so background load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for question in questions:
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn(question)
            out.append((time.perf_counter() - start) * 1000)
    return tuple(  # type: ignore[return-value]
        {"p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)), "n": len(t)} for t in times
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    from chromadb.utils.embedding_functions import DefaultEmbeddingFunction, ONNXMiniLM_L6_V2

    load_start = os.getloadavg()[0]
    model_dir = resolve_model_dir(args.model_dir, SHARED if SHARED.is_dir() else None)
    chunks = make_chunks(args.chunks)
    questions = load_questions(args.questions)
    short = "What did Biosyngen tell the visiting ASEAN consuls general about its cell therapy plans?"

    ours = MiniLMEmbedder(model_dir)
    _, load_s = timed(ours.embed, "warm up")
    pieces = [ours.count_tokens(c) for c in chunks]
    q_pieces = [ours.count_tokens(q) for q in questions]

    # Interleaved rounds: the same slice goes through Chroma and each batch size in turn, so a
    # busy machine (shared cores) slows every contender alike instead of whichever ran then.
    default_batch_size = ours.batch_size
    chroma_s = 0.0
    sweep = {b: {"seconds": 0.0, "max_abs_diff": 0.0} for b in args.batch_sizes}
    for start in range(0, len(chunks), args.round_size):
        part = chunks[start : start + args.round_size]
        log(f"chunks {start}-{start + len(part)}: Chroma DefaultEmbeddingFunction, MiniLMEmbedder {args.batch_sizes}")
        reference, seconds = timed(lambda: np.array(DefaultEmbeddingFunction()(part), dtype=np.float32))
        chroma_s += seconds
        for batch_size in args.batch_sizes:
            ours.batch_size = batch_size
            vectors, seconds = timed(ours.embed_batch, part)
            sweep[batch_size]["seconds"] += seconds
            diff = float(np.abs(vectors - reference).max())
            sweep[batch_size]["max_abs_diff"] = max(sweep[batch_size]["max_abs_diff"], diff)
    for stats in sweep.values():
        stats["chunks_per_s"] = len(chunks) / stats["seconds"]
    best = min(sweep, key=lambda b: sweep[b]["seconds"])
    compared = default_batch_size if default_batch_size in sweep else best

    log("single-question latency ...")
    ours.batch_size = default_batch_size
    reused = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    reused([short])  # load once
    ours_q, chroma_q = paired_latencies_ms(ours.embed, lambda q: reused([q]), questions)
    ours_short = latencies_ms(ours.embed, [short] * args.questions)
    chroma_default_q = latencies_ms(lambda q: DefaultEmbeddingFunction()([q]), questions[:CHROMA_RELOAD_CALLS])
    q_diff = float(np.abs(ours.embed_batch(questions) - np.array(reused(questions), dtype=np.float32)).max())

    import onnxruntime

    return {
        "machine": {"cpus": os.cpu_count(), "onnxruntime": onnxruntime.__version__,
                    "load_avg_start": load_start, "load_avg_end": os.getloadavg()[0]},
        "chunks": {"count": len(chunks), "word_pieces_mean": statistics.mean(pieces),
                   "truncated": sum(p > 256 for p in pieces)},
        "questions": {"count": len(questions), "word_pieces_mean": statistics.mean(q_pieces),
                      "short_question_word_pieces": ours.count_tokens(short)},
        "chroma_default": {"seconds": chroma_s, "chunks_per_s": len(chunks) / chroma_s},
        "minilm": {"load_s": load_s, "batch_sizes": sweep, "best_batch_size": best,
                   "chunks_per_s": sweep[best]["chunks_per_s"]},
        "speedup": chroma_s / sweep[compared]["seconds"],
        "speedup_batch_size": compared,
        "max_abs_diff": max(max(s["max_abs_diff"] for s in sweep.values()), q_diff),
        "latency": {"minilm_questions": ours_q, "minilm_short_question": ours_short,
                    "chroma_onnx_reused_questions": chroma_q,
                    "chroma_default_function_questions": chroma_default_q},
    }


def print_table(r: dict) -> None:
    c, q, lat = r["chunks"], r["questions"], r["latency"]
    print(f"{c['count']} chunks, mean {c['word_pieces_mean']:.0f} word-pieces, {c['truncated']} truncated; "
          f"{r['machine']['cpus']} CPUs, onnxruntime {r['machine']['onnxruntime']}, "
          f"load average {r['machine']['load_avg_start']:.1f} -> {r['machine']['load_avg_end']:.1f}")
    print(f"{'embedder':<36}{'seconds':>10}{'chunks/s':>10}{'max|Δ|':>12}")
    print(f"{'Chroma DefaultEmbeddingFunction':<36}{r['chroma_default']['seconds']:>10.1f}"
          f"{r['chroma_default']['chunks_per_s']:>10.1f}{'-':>12}")
    for batch_size, s in r["minilm"]["batch_sizes"].items():
        print(f"{f'MiniLMEmbedder batch_size={batch_size}':<36}{s['seconds']:>10.1f}"
              f"{s['chunks_per_s']:>10.1f}{s['max_abs_diff']:>12.2e}")
    print(f"speedup at batch size {r['speedup_batch_size']}: {r['speedup']:.2f}x "
          f"(fastest batch size {r['minilm']['best_batch_size']}); "
          f"max |Δ| overall {r['max_abs_diff']:.2e}; MiniLM load {r['minilm']['load_s']:.2f} s")
    print(f"single-question latency (questions: mean {q['word_pieces_mean']:.0f} word-pieces)")
    names = {"minilm_questions": "MiniLMEmbedder, dev questions",
             "minilm_short_question": f"MiniLMEmbedder, {q['short_question_word_pieces']}-piece question",
             "chroma_onnx_reused_questions": "Chroma ONNXMiniLM_L6_V2 (reused)",
             "chroma_default_function_questions": "Chroma DefaultEmbeddingFunction"}
    for key, label in names.items():
        s = lat[key]
        print(f"  {label:<40} p50 {s['p50_ms']:>8.1f} ms  p95 {s['p95_ms']:>8.1f} ms  (n={s['n']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[32])
    parser.add_argument("--round-size", type=int, default=250, help="chunks per interleaved round")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
