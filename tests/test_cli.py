"""End to end through the `newsbot` command, in subprocesses, on the bundled data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.answer.citations import NOT_FOUND
from retrieval.settings import PROJECT_ROOT
from tests.conftest import OFFLINE_DIR
from tests.fakes import FakeOpenAIServer

NEWSBOT = [sys.executable, "-m", "bot.cli"]


def run(args: list[str], data_dir: Path, *, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 120):
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "NEWSBOT_DATA_DIR": str(data_dir),
        "NEWSBOT_OFFLINE_DIR": str(OFFLINE_DIR),
        "NEWSBOT_SEED_DIR": str(PROJECT_ROOT / "data"),
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", str(OFFLINE_DIR / "tiktoken-cache")),
        "ANONYMIZED_TELEMETRY": "False",
        "COLUMNS": "1000",  # answers unwrapped: these tests read whole sentences and source lines
    }
    proc = subprocess.run(
        NEWSBOT + args, cwd=data_dir.parent, env={**base, **(env or {})}, input=stdin, capture_output=True, timeout=timeout
    )
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "newsbot"


def _sources(out: str) -> dict[int, str]:
    return {int(n): line for n, line in re.findall(r"^\[(\d+)\] (.+)$", out, re.M)}


def test_first_ask_seeds_the_library_and_answers_with_citations(data_dir):
    code, out, err = run(["ask", "Who visited Biosyngen?"], data_dir)
    assert code == 0, err
    answer, _, tail = out.partition("Sources:")
    assert "Loh Tuck Keat" in answer and "Consul General" in answer
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    sources = _sources(out)
    assert cited and cited <= set(sources)
    visit = [n for n, line in sources.items() if "consuls general" in line.lower()]
    assert visit and visit[0] in cited and "GeneOnline, 2022-05-28" in sources[visit[0]]
    assert "https://www.geneonline.com/" in tail
    assert "No LLM is configured" in out


def test_a_question_the_articles_cannot_answer_gets_the_fixed_sentence(data_dir):
    code, out, _ = run(["ask", "What is the boiling point of tungsten?"], data_dir)
    assert code == 0 and out.strip() == NOT_FOUND


def test_adding_the_same_file_twice_leaves_the_chunk_count_unchanged(data_dir, tmp_path):
    story = tmp_path / "story.json"
    story.write_text('{"title": "Orrin Mills buys Tallow Bay", "url": "https://example.org/orrin", "published": "2024-02-02", '
                     '"source": "Mill Gazette", "body": "Orrin Mills agreed to buy Tallow Bay Foods for 30 million dollars. '
                     'The deal closes in June, chief executive Ada Brook said."}')
    code, out, err = run(["add", str(story)], data_dir)
    assert code == 0 and out.startswith("added"), err
    stats_before = run(["stats"], data_dir)[1]
    code, out, _ = run(["add", str(story)], data_dir)
    assert code == 0 and out.startswith("unchanged")
    assert run(["stats"], data_dir)[1] == stats_before
    assert "Orrin Mills" in run(["list"], data_dir)[1]


def test_bad_input_gets_one_clear_line_and_changes_nothing(data_dir, tmp_path):
    stats_before = run(["stats"], data_dir)[1]
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 50)
    for target, words in [("empty.txt", "empty"), ("blob.txt", "binary"), ("nope.txt", "No such file")]:
        code, out, err = run(["add", str(tmp_path / target)], data_dir)
        assert code == 1 and words.lower() in err.lower() and "Traceback" not in err, err
    code, _, err = run(["add", "-"], data_dir, stdin=b"x" * 50_000_000)
    assert code == 1 and "limit" in err and "Traceback" not in err
    code, _, err = run(["ask", "Why " * 249 + "now?!"], data_dir)  # 1,001 characters, the default limit 1,000
    assert code == 1 and err.startswith("newsbot: That question is 1,001 characters long; the limit is 1,000."), err
    code, _, err = run(["add", "http://127.0.0.1:9/article"], data_dir)
    assert (code, err) == (1, "newsbot: http://127.0.0.1:9/article points to a private or local network address, "
                              "which is not allowed. Only public web pages can be fetched.\n")
    assert run(["stats"], data_dir)[1] == stats_before


def test_a_bad_setting_is_one_line_and_exit_2(data_dir):
    code, out, err = run(["stats"], data_dir, env={"CHROMA_PORT": "eighty"})
    assert code == 2 and err.count("\n") == 1 and "CHROMA_PORT" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def fake_llm():
    def responder(body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        if "Loh Tuck Keat" in prompt:
            return "Singapore's Consul General in Guangzhou, Loh Tuck Keat, led ASEAN diplomats to Biosyngen on 27 May 2022 [1]."
        return NOT_FOUND

    server = FakeOpenAIServer(responder)
    url = server.start_in_thread()
    yield server, url
    server.stop()


def test_with_an_llm_endpoint_the_answer_is_written_by_the_model(data_dir, fake_llm):
    server, url = fake_llm
    code, out, err = run(["ask", "Who visited Biosyngen?"], data_dir, env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test-secret"})
    assert code == 0, err
    assert out.startswith("Singapore's Consul General in Guangzhou, Loh Tuck Keat, led ASEAN diplomats to Biosyngen on 27 May 2022 [1].")
    assert "consuls general" in _sources(out)[1].lower()
    assert "No LLM" not in out and "sk-test-secret" not in out + err
    assert server.chat_requests and server.chat_requests[-1]["model"] == "gpt-4o-mini"


def test_an_llm_that_times_out_falls_back_to_the_extractive_answer(data_dir, fake_llm):
    server, url = fake_llm
    for _ in range(2):
        server.hang(5)
    env = {"OPENAI_BASE_URL": url, "NEWSBOT_LLM_TIMEOUT": "0.5", "NEWSBOT_LLM_MAX_RETRIES": "1"}
    code, out, err = run(["ask", "Who visited Biosyngen?"], data_dir, env=env)
    assert code == 0, err
    assert "Loh Tuck Keat" in out and "unavailable" in out and "timed out" in out
