"""`newsbot eval multihop`: the benchmark's metrics on hand-made cases, and one run through the real service."""

import argparse
import io
import json

import pytest
from rich.console import Console

from bot.cli.evaluate import cmd_eval
from retrieval.errors import InputError
from retrieval.eval.multihop import load_queries
from retrieval.eval.scores import aggregate, by_type, score_query, squash
from tests.conftest import make_settings


def test_containment_ignores_whitespace_but_not_words():
    fact = "The plant  employs\n400 people."
    score = score_query("inference_query", [fact], ["Opening day. The plant employs 400\tpeople. More later."])
    assert score.fact_ranks == (1,)
    assert score_query("inference_query", [fact], ["The plant employs 450 people."]).fact_ranks == (None,)
    assert squash(" a\u00a0b\n c ") == "abc"


def test_ranks_recall_and_all_facts_at_different_depths():
    passages = ["nothing", "alpha beta gamma.", "filler", "filler", "delta epsilon zeta."]
    score = score_query("comparison_query", ["alpha beta gamma.", "delta epsilon zeta."], passages)
    assert score.fact_ranks == (2, 5)
    assert score.hit(4) and score.hit(10) and not score.hit(1)
    assert score.reciprocal_rank(10) == pytest.approx(0.5)
    assert score.fact_recall(4) == pytest.approx(0.5) and score.fact_recall(10) == pytest.approx(1.0)
    assert not score.all_facts(4) and score.all_facts(10)


def test_passages_beyond_k_do_not_count_and_missing_facts_score_zero():
    passages = ["x"] * 10 + ["the fact is here."]
    score = score_query("temporal_query", ["the fact is here."], passages, k=10)
    assert score.fact_ranks == (None,) and score.reciprocal_rank(10) == 0.0 and score.fact_recall(10) == 0.0


def test_map_numerator_follows_the_benchmark_script():
    # rank 1 finds A (1 new / 1), rank 3 finds A again and B (1 new / 3)
    score = score_query("inference_query", ["fact A.", "fact B."], ["fact A.", "none", "fact A. fact B."])
    assert score.map_sum == pytest.approx(1 + 1 / 3)
    assert aggregate([score]).map_k == pytest.approx((1 + 1 / 3) / 2)


def test_duplicate_facts_count_once():
    score = score_query("inference_query", ["same fact.", "same  fact."], ["same fact."])
    assert score.fact_ranks == (1,)


def test_aggregates_per_type_and_overall():
    a = score_query("comparison_query", ["f1.", "f2."], ["f1.", "f2."])  # both facts, rank 1
    b = score_query("comparison_query", ["f3."], ["x", "x", "x", "x", "f3."])  # rank 5
    c = score_query("temporal_query", ["f4.", "f5."], ["f5."])  # one of two facts
    table = by_type([a, b, c])
    assert list(table) == ["comparison_query", "temporal_query", "overall"]
    comp, overall = table["comparison_query"], table["overall"]
    assert comp.queries == 2 and comp.hits4 == pytest.approx(0.5) and comp.hits_k == pytest.approx(1.0)
    assert comp.mrr_k == pytest.approx((1 + 1 / 5) / 2)
    assert overall.fact_recall_k == pytest.approx((1 + 1 + 0.5) / 3)
    assert overall.all_facts_k == pytest.approx(2 / 3)
    assert aggregate([]).queries == 0


def test_queries_without_evidence_are_skipped_and_limit_counts_records(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(json.dumps([
        {"query": "a?", "question_type": "null_query", "evidence_list": []},
        {"query": "b?", "question_type": "inference_query", "evidence_list": [{"fact": "B."}]},
        {"query": "c?", "question_type": "temporal_query", "evidence_list": [{"fact": "C."}, {"fact": "D."}]},
    ]))
    assert [q.query for q in load_queries(path)] == ["b?", "c?"]
    assert [q.query for q in load_queries(path, limit=2)] == ["b?"]
    assert load_queries(path)[1].facts == ("C.", "D.")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError):
        load_queries(bad)


ARTICLES = [
    ("Zephyrine ships turbines", "Windward Daily", "2024-03-01", "Zephyrine Corp shipped forty turbines to Quokkaville on Monday. The order was its largest this year. Analysts expect more orders from coastal towns."),
    ("Quokkaville harbour reopens", "Harbour Times", "2024-03-05", "The Quokkaville harbour reopened after a two-year rebuild. Mayor Ilsa Brandt cut the ribbon at dawn. Ferries resume service next week."),
    ("Brindlecorp profit falls", "Ledger Weekly", "2024-02-11", "Brindlecorp reported that quarterly profit fell by a third. Chief executive Omar Vale blamed higher copper prices. The shares dropped eight percent."),
    ("Copper prices climb", "Ledger Weekly", "2024-02-20", "Copper prices climbed to a record in February. Smelters in Chile cut output after floods. Buyers rushed to secure supply."),
    ("Tavi Labs opens lab", "Science Wire", "2024-01-15", "Tavi Labs opened a research lab in Lisbon focused on battery chemistry. The lab will hire sixty chemists. Its first project studies sodium cells."),
]
QUERIES = [
    {"query": "Who cut the ribbon when the Quokkaville harbour reopened, according to Harbour Times?", "question_type": "inference_query",
     "evidence_list": [{"fact": "Mayor Ilsa Brandt cut the ribbon at dawn."}]},
    {"query": "Did Ledger Weekly link Brindlecorp's falling profit to the record copper prices it reported in February?", "question_type": "comparison_query",
     "evidence_list": [{"fact": "Chief executive Omar Vale blamed higher copper prices."}, {"fact": "Copper prices climbed to a record in February."}]},
    {"query": "After Zephyrine shipped turbines to Quokkaville, did the harbour reopen?", "question_type": "temporal_query",
     "evidence_list": [{"fact": "Zephyrine Corp shipped forty turbines to Quokkaville on Monday."}, {"fact": "The Quokkaville harbour reopened after a two-year rebuild."}]},
    {"query": "Unanswerable question about nothing?", "question_type": "null_query", "evidence_list": []},
]


def _run(tmp_path, settings, *extra: str) -> dict:
    corpus, queries = tmp_path / "bench" / "corpus.json", tmp_path / "bench" / "queries.json"
    corpus.parent.mkdir(exist_ok=True)
    corpus.write_text(json.dumps([{"title": t, "source": s, "published_at": d + "T10:00:00+00:00", "url": f"https://news.example/{i}", "body": b} for i, (t, s, d, b) in enumerate(ARTICLES)]))
    queries.write_text(json.dumps(QUERIES))
    (tmp_path / "paper_results.json").write_text(json.dumps({"multihop_rag": {"table5_retrieval": {
        "columns": ["MRR@10", "MAP@10", "Hits@10", "Hits@4"], "with_bge_reranker_large": {"voyage-02": [0.5, 0.4, 0.7, 0.6]}}}}))
    args = argparse.Namespace(corpus=corpus, queries=queries, k=10, json="--json" in extra, library="eval-test", limit=None)
    out = io.StringIO()
    assert cmd_eval(args, settings, Console(file=out, width=200)) == 0
    return json.loads(out.getvalue()) if args.json else {"text": out.getvalue()}


def test_end_to_end_through_the_real_service_reuses_its_library(tmp_path):
    settings = make_settings(tmp_path, chunk_tokens=32, chunk_overlap=0)
    first = _run(tmp_path, settings, "--json")
    assert first["library"]["reused"] is False and first["library"]["articles"] == 5
    overall = first["metrics"]["overall"]
    assert overall["queries"] == 3  # the null query is not scored
    assert overall["Hits@4"] == 1.0 and overall["FactRecall@10"] == 1.0
    assert set(first["metrics"]) == {"comparison_query", "inference_query", "temporal_query", "overall"}
    assert first["paper_best"]["Hits@10"] == 0.7 and first["settings"]["chunk_tokens"] == 32
    assert first["settings"]["embedder"] == "all-MiniLM-L6-v2"
    again = _run(tmp_path, settings, "--json")
    assert again["library"]["reused"] is True and again["metrics"] == first["metrics"]
    rebuilt = _run(tmp_path, make_settings(tmp_path, chunk_tokens=64, chunk_overlap=0), "--json")
    assert rebuilt["library"]["reused"] is False
    table = _run(tmp_path, settings)["text"]
    assert "FactRecall@10" in table and "paper best" in table and "overall" in table


# -- answers -----------------------------------------------------------------------------------
def test_gold_answers_match_whole_words_after_punctuation_is_normalised():
    from retrieval.eval.answers import contains_answer

    assert contains_answer("Bankman-Fried's lawyers said [1].", "Bankman Fried")
    assert contains_answer("It was Sam Altman, OpenAI's chief [1].", "sam altman")
    assert not contains_answer("That is not true [1].", "No")
    assert not contains_answer("Googleplex", "Google")


ANSWER_QUERIES = [
    {"query": "Who cut the ribbon when the Quokkaville harbour reopened, according to Harbour Times?",
     "question_type": "inference_query", "answer": "Ilsa Brandt", "evidence_list": [{"fact": "Mayor Ilsa Brandt cut the ribbon at dawn."}]},
    {"query": "Did Ledger Weekly link Brindlecorp's falling profit to the record copper prices it reported in February?",
     "question_type": "comparison_query", "answer": "Yes",
     "evidence_list": [{"fact": "Chief executive Omar Vale blamed higher copper prices."}, {"fact": "Copper prices climbed to a record in February."}]},
    {"query": "What did a Bloomberg report say about Zephyrine's turbines?", "question_type": "null_query",
     "answer": "Insufficient information.", "evidence_list": []},
    {"query": "Which Vandelay Industries executive announced the latex merger?", "question_type": "null_query",
     "answer": "Insufficient information.", "evidence_list": []},
]
PAPER = {"multihop_rag": {"table6_generation_accuracy": {"columns": ["retrieved_chunks", "ground_truth_evidence"], "GPT-4": [0.56, 0.89]}},
         "rgb": {"negative_rejection_en_Rej_RejStar": {"ChatGPT": [24.67, 45.0]}}}


def _run_answers(tmp_path, settings, *, json_out: bool = True) -> dict:
    bench = tmp_path / "bench"
    bench.mkdir(exist_ok=True)
    corpus, queries = bench / "corpus.json", bench / "queries.json"
    corpus.write_text(json.dumps([{"title": t, "source": s, "published_at": d + "T10:00:00+00:00", "url": f"https://news.example/{i}", "body": b} for i, (t, s, d, b) in enumerate(ARTICLES)]))
    queries.write_text(json.dumps(ANSWER_QUERIES))
    (tmp_path / "paper_results.json").write_text(json.dumps(PAPER))
    args = argparse.Namespace(corpus=corpus, queries=queries, k=10, json=json_out, library="eval-test", limit=None)
    out = io.StringIO()
    assert cmd_eval(args, settings, Console(file=out, width=220)) == 0
    return json.loads(out.getvalue()) if json_out else {"text": out.getvalue()}


def test_extractive_answers_are_scored_refusals_counted_and_yes_no_left_unscored(tmp_path):
    settings = make_settings(tmp_path, chunk_tokens=32, chunk_overlap=0)
    answers = _run_answers(tmp_path, settings)["answers"]
    assert answers["answered_by"] == "extractive"
    assert answers["negative_rejection"] == {"null_queries": 2, "refused": 1.0}
    assert answers["false_refusal"] == {"queries": 2, "refused": 0.0}
    assert answers["accuracy"]["inference_query"]["accuracy"] == 1.0
    comparison = answers["accuracy"]["comparison_query"]
    assert comparison["yes_no"] == 1 and comparison["named"] == 0 and comparison["yes_no_accuracy"] is None
    assert answers["check_fired"] == 0.0  # quotes always hold up against their sources
    assert answers["published"] == {
        "multihop_gpt4_retrieved": 0.56, "multihop_gpt4_gold_evidence": 0.89, "rgb_chatgpt_rejection": 0.2467,
    }
    text = _run_answers(tmp_path, settings, json_out=False)["text"]
    assert "negative rejection" in text and "Yes/No answers are not scored" in text and "GPT-4 accuracy 0.56" in text


def test_model_answers_are_scored_and_the_citation_check_counted(tmp_path):
    from tests.fakes.openai_server import FakeOpenAIServer

    def model(body: dict) -> str:  # cites one real source and one it invented
        return "Mayor Ilsa Brandt cut the ribbon [1]. Yes, profits and copper are linked [1]. Zephyrine is bankrupt [9]."

    server = FakeOpenAIServer(model)
    url = server.start_in_thread()
    try:
        settings = make_settings(
            tmp_path, chunk_tokens=32, chunk_overlap=0, llm_base_url=url, llm_api_key="sk-test", llm_max_retries=0
        )
        answers = _run_answers(tmp_path, settings)["answers"]
    finally:
        server.stop()
    assert answers["answered_by"] == "llm"
    assert answers["accuracy"]["inference_query"]["accuracy"] == 1.0
    assert answers["accuracy"]["comparison_query"]["yes_no_accuracy"] is not None  # a model can say yes or no
    assert answers["check_fired"] == 1.0  # the invented [9] sentence was dropped from every answer
    assert answers["negative_rejection"]["refused"] == 1.0
    asked = " ".join(m["content"] for body in server.chat_requests for m in body["messages"])
    assert "Bloomberg" not in asked and "Vandelay" not in asked  # refused before any model call
