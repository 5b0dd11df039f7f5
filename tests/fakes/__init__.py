"""Loopback fakes of external services used by the tests."""

from tests.fakes.openai_server import FakeOpenAIServer, RecordedRequest, fake_embedding

__all__ = ["FakeOpenAIServer", "RecordedRequest", "fake_embedding"]
