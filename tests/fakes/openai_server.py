"""A loopback OpenAI-compatible server (aiohttp) for tests: chat completions and embeddings.

Script the next requests with ``ok``/``rate_limited``/``server_error``/``hang``/``broken_stream``/
``auth_error``/``model_not_found``/``slow_stream``; anything unscripted is answered by
``responder(request_json) -> str``. Every request body is recorded in ``requests``.

    async with FakeOpenAIServer() as server:      # in a pytest-asyncio fixture
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k")

    server = FakeOpenAIServer(); url = server.start_in_thread(); ...; server.stop()   # for subprocesses
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

Responder = Callable[[dict[str, Any]], str]


def default_responder(body: dict[str, Any]) -> str:
    return "This is the fake model's answer [1]."


@dataclass(frozen=True)
class Behaviour:
    kind: str  # ok | rate_limited | server_error | hang | broken_stream | auth_error | model_not_found | slow_stream
    text: str | None = None
    status: int = 200
    seconds: float = 0.0  # hang: how long; ok: the pause before each streamed word
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "garbage"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def fake_embedding(text: str, dim: int = 64) -> np.ndarray:
    """Deterministic bag-of-words hashing vector: texts sharing words get similar vectors."""
    vec = np.zeros(dim, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()) or [text]:
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        vec[int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] % 2 else -1.0
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


class FakeOpenAIServer:
    def __init__(self, responder: Responder | None = None, *, dim: int = 64) -> None:
        self.responder: Responder = responder or default_responder
        self.dim = dim
        self.requests: list[RecordedRequest] = []
        self._queues: dict[str, deque[Behaviour]] = {"chat": deque(), "embeddings": deque()}
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ------------------------------------------------------------------ scripting
    def ok(self, text: str, *, endpoint: str = "chat", pause: float = 0.0) -> None:
        """Answer ``text``; a streamed answer waits ``pause`` seconds before each word."""
        self._queues[endpoint].append(Behaviour("ok", text=text, seconds=pause))

    def rate_limited(self, retry_after: float | None = None, *, retry_after_ms: float | None = None,
                     endpoint: str = "chat") -> None:
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        self._queues[endpoint].append(Behaviour("rate_limited", status=429, headers=headers))

    def server_error(self, status: int = 500, *, endpoint: str = "chat") -> None:
        self._queues[endpoint].append(Behaviour("server_error", status=status))

    def auth_error(self, status: int = 401, *, endpoint: str = "chat") -> None:
        self._queues[endpoint].append(Behaviour("auth_error", status=status))

    def model_not_found(self, *, endpoint: str = "chat") -> None:
        """Answer 404 as OpenAI does for a model it does not serve."""
        self._queues[endpoint].append(Behaviour("model_not_found", status=404))

    def slow_stream(self, text: str, *, every: float) -> None:
        """Stream ``text`` one word every ``every`` seconds."""
        self._queues["chat"].append(Behaviour("slow_stream", text=text, seconds=every))

    def hang(self, seconds: float, *, endpoint: str = "chat") -> None:
        self._queues[endpoint].append(Behaviour("hang", seconds=seconds))

    def broken_stream(self, text: str = "The answer starts fine and then", *, mode: str = "garbage") -> None:
        """Send some deltas, then invalid JSON (``mode="garbage"``) or drop the connection (``"disconnect"``)."""
        self._queues["chat"].append(Behaviour("broken_stream", text=text, mode=mode))

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/embeddings")]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> str:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self.base_url

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start_in_thread(self) -> str:
        """Run the server on its own loop in a daemon thread; returns ``base_url``."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self.base_url

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    # ------------------------------------------------------------------ handlers
    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        self.requests.append(RecordedRequest(request.path, body, dict(request.headers)))
        return body

    def _next(self, endpoint: str) -> Behaviour | None:
        try:
            return self._queues[endpoint].popleft()
        except IndexError:
            return None

    async def _failure(self, request: web.Request, behaviour: Behaviour | None) -> web.StreamResponse | None:
        """Answer scripted failures; None means respond normally."""
        if behaviour is None or behaviour.kind in ("ok", "broken_stream", "slow_stream"):
            return None
        if behaviour.kind == "hang":
            assert self._closing is not None
            try:
                await asyncio.wait_for(self._closing.wait(), behaviour.seconds)
            except asyncio.TimeoutError:
                pass
            return None
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        messages = {
            "rate_limited": ("Rate limit reached for requests", "rate_limit_exceeded"),
            "server_error": ("The server had an error while processing your request.", "server_error"),
            # like the real API, echo the key back: our errors must not pass it on
            "auth_error": (f"Incorrect API key provided: {key}.", "invalid_api_key"),
            "model_not_found": (f"The model `{self.requests[-1].body.get('model')}` does not exist or you do not have "
                                "access to it.", "model_not_found"),
        }
        message, code = messages[behaviour.kind]
        return web.json_response(
            {"error": {"message": message, "type": code, "code": code, "param": None}},
            status=behaviour.status,
            headers=behaviour.headers,
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        behaviour = self._next("chat")
        failure = await self._failure(request, behaviour)
        if failure is not None:
            return failure
        if behaviour is not None and behaviour.kind == "hang" and self._closing and self._closing.is_set():
            return web.Response(status=503)
        text = behaviour.text if behaviour and behaviour.text is not None else self.responder(body)
        model = body.get("model", "fake-model")
        if not body.get("stream"):
            return web.json_response({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        for piece in re.findall(r"\S+\s*|\s+", text):
            if behaviour is not None and behaviour.kind == "ok" and behaviour.seconds:
                await asyncio.sleep(behaviour.seconds)
            await send({"content": piece})
            if behaviour is not None and behaviour.kind == "slow_stream":
                await asyncio.sleep(behaviour.seconds)
        if behaviour is not None and behaviour.kind == "broken_stream":
            if behaviour.mode == "disconnect":
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write(b'data: {"choices": [{"delta": {"content": "tru\n\n')
            await response.write_eof()
            return response
        await send({}, finish="stop")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        failure = await self._failure(request, self._next("embeddings"))
        if failure is not None:
            return failure
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = fake_embedding(str(text), self.dim)
            encoded: Any = (base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
                            if as_base64 else [float(x) for x in vec])
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = sum(len(str(t).split()) for t in texts)
        return web.json_response({"object": "list", "data": data, "model": body.get("model", "fake-embedding"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
