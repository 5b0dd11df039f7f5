"""OpenAIChatModel (real openai.AsyncOpenAI) against the loopback fake, and the retry loop."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Sequence

import openai
import pytest

from retrieval.answer.llm import (
    ChatModel,
    Delta,
    Message,
    Restart,
    RetryPolicy,
    StreamEvent,
    stream_with_retries,
)
from retrieval.answer.openai_chat import OpenAIChatModel
from retrieval.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
)
from retrieval.settings import load_settings
from tests.fakes import FakeOpenAIServer

SECRET = "sk-test-SECRET-4f9a1c"
MESSAGES: list[Message] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who visited?"}]


@pytest.fixture()
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as fake:
        yield fake


def make_model(server: FakeOpenAIServer, *, timeout: float = 5.0) -> OpenAIChatModel:
    return OpenAIChatModel(base_url=server.base_url, api_key=SECRET, model="fake-chat", timeout=timeout, max_tokens=64)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def collect(model: ChatModel, policy: RetryPolicy, sleeps: Sleeps) -> list[StreamEvent]:
    return [event async for event in stream_with_retries(model, MESSAGES, policy, sleep=sleeps)]


def text_after_last_restart(events: list[StreamEvent]) -> str:
    last = max((i for i, e in enumerate(events) if isinstance(e, Restart)), default=-1)
    return "".join(e.text for e in events[last + 1 :] if isinstance(e, Delta))


async def test_streaming_ok(server: FakeOpenAIServer) -> None:
    server.ok("Loh Tuck Keat led the visit [1].")
    deltas = [d async for d in make_model(server).stream(MESSAGES)]
    assert len(deltas) > 1
    assert "".join(deltas) == "Loh Tuck Keat led the visit [1]."
    (body,) = server.chat_requests
    assert body["stream"] is True and body["model"] == "fake-chat" and body["max_tokens"] == 64
    assert body["messages"] == MESSAGES
    assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


async def test_a_chat_model_needs_only_stream() -> None:
    class Pieces(ChatModel):
        async def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
            for piece in ("one ", "two ", messages[-1]["content"]):
                yield piece

    events = [e async for e in stream_with_retries(Pieces(), MESSAGES, RetryPolicy(max_retries=0))]
    assert "".join(e.text for e in events) == "one two Who visited?"


@pytest.mark.parametrize(
    ("script", "expected_delay"),
    [
        (lambda s: s.rate_limited(2.5), 2.5),
        (lambda s: s.rate_limited(retry_after_ms=1500), 1.5),
        (lambda s: s.rate_limited(60), 8.0),  # capped at max_delay
    ],
)
async def test_rate_limited_then_success_honours_retry_after(server: FakeOpenAIServer, script, expected_delay) -> None:
    script(server)
    server.ok("Second time lucky [1].")
    sleeps = Sleeps()
    events = await collect(make_model(server), RetryPolicy(max_retries=2), sleeps)
    assert events[0] == Restart(attempt=1, reason="rate limited", delay=expected_delay)
    assert sleeps.delays == [expected_delay]
    assert text_after_last_restart(events) == "Second time lucky [1]."
    assert len(server.chat_requests) == 2


async def test_server_error_then_success_uses_jittered_backoff(server: FakeOpenAIServer) -> None:
    server.server_error(500)
    server.server_error(503)
    server.ok("Recovered [1].")
    sleeps = Sleeps()
    events = await collect(make_model(server), RetryPolicy(max_retries=3, base_delay=0.4), sleeps)
    restarts = [e for e in events if isinstance(e, Restart)]
    assert [(r.attempt, r.reason) for r in restarts] == [(1, "server error 500"), (2, "server error 503")]
    assert 0.2 <= sleeps.delays[0] <= 0.4 and 0.4 <= sleeps.delays[1] <= 0.8
    assert text_after_last_restart(events) == "Recovered [1]."


async def test_timeout_then_success(server: FakeOpenAIServer) -> None:
    server.hang(3.0)
    server.ok("Faster now [1].")
    events = await collect(make_model(server, timeout=0.3), RetryPolicy(max_retries=1), Sleeps())
    assert isinstance(events[0], Restart) and events[0].reason == "timed out"
    assert text_after_last_restart(events) == "Faster now [1]."


@pytest.mark.parametrize("mode", ["garbage", "disconnect"])
async def test_broken_stream_restarts_then_succeeds(server: FakeOpenAIServer, mode: str) -> None:
    server.broken_stream("Partial words that", mode=mode)
    server.ok("Complete answer [1].")
    events = await collect(make_model(server), RetryPolicy(max_retries=1), Sleeps())
    first_restart = next(i for i, e in enumerate(events) if isinstance(e, Restart))
    shown_before = "".join(e.text for e in events[:first_restart] if isinstance(e, Delta))
    assert shown_before.startswith("Partial")  # partial text was streamed, so the consumer must clear it
    assert events[first_restart].reason == "broken reply"
    assert text_after_last_restart(events) == "Complete answer [1]."


async def test_retries_exhausted_raises_last_error(server: FakeOpenAIServer) -> None:
    for _ in range(3):
        server.server_error(502)
    sleeps = Sleeps()
    with pytest.raises(LLMServerError) as info:
        await collect(make_model(server), RetryPolicy(max_retries=2), sleeps)
    assert info.value.status == 502
    assert len(server.chat_requests) == 3 and len(sleeps.delays) == 2


@pytest.mark.parametrize(("status", "error"), [(401, LLMAuthError), (403, LLMAuthError)])
async def test_auth_error_is_not_retried(server: FakeOpenAIServer, status: int, error: type[LLMError]) -> None:
    server.auth_error(status)
    sleeps = Sleeps()
    with pytest.raises(error):
        await collect(make_model(server), RetryPolicy(max_retries=3), sleeps)
    assert len(server.chat_requests) == 1 and sleeps.delays == []


async def test_other_client_error_is_not_retried(server: FakeOpenAIServer) -> None:
    server.server_error(404)
    with pytest.raises(LLMRequestRejected):
        await collect(make_model(server), RetryPolicy(max_retries=3), Sleeps())
    assert len(server.chat_requests) == 1


async def test_api_key_never_appears_in_errors(server: FakeOpenAIServer) -> None:
    # the fake echoes the key in its 401 body, as the real API does: openai's own error carries it
    server.auth_error(401)
    raw = openai.AsyncOpenAI(base_url=server.base_url, api_key=SECRET, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as leaked:
        await raw.chat.completions.create(model="m", messages=MESSAGES)
    assert SECRET in str(leaked.value)

    server.auth_error(401)
    server.rate_limited(1)
    server.server_error(500)
    server.hang(3.0)
    server.broken_stream()
    errors: list[LLMError] = []
    model = make_model(server, timeout=0.3)
    for _ in range(5):
        with pytest.raises(LLMError) as info:
            [d async for d in model.stream(MESSAGES)]
        errors.append(info.value)
    assert [type(e) for e in errors] == [LLMAuthError, LLMRateLimited, LLMServerError, LLMTimeout, LLMBadResponse]
    for error in errors:
        shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
        assert SECRET not in shown and "sk-" not in shown


async def test_unreachable_server_is_a_retryable_server_error() -> None:
    async with FakeOpenAIServer() as fake:
        url = fake.base_url
    model = OpenAIChatModel(base_url=url, api_key=SECRET, model="m", timeout=2, max_tokens=16)
    with pytest.raises(LLMServerError, match="Could not reach"):
        [d async for d in model.stream(MESSAGES)]


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "NEWSBOT_LLM_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert OpenAIChatModel.from_settings(load_settings()) is None
    assert OpenAIChatModel.from_settings(load_settings(llm_api_key="k", llm_disabled=True)) is None
    model = OpenAIChatModel.from_settings(load_settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="small"))
    assert model is not None and model.model == "small" and model.name == "openai:small"
