"""`newsbot run` serves the embedded Chroma folder from a child `chroma run` process."""

import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from retrieval.errors import StoreError
from retrieval.models import Article
from retrieval.service import NewsService
from retrieval.store.chroma_server import chroma_child
from tests.conftest import chroma_servers_of, make_service, make_settings


def test_a_child_server_serves_the_libraries_the_embedded_client_built(tmp_path, embedder, encoding):
    settings = make_settings(tmp_path)
    embedded = make_service(settings, embedder, encoding)
    embedded.ingest("default", [Article(title="Harbour opens", body="Quokkaville opened its new harbour on Monday. " * 4)])
    before = embedded.search("default", "When did Quokkaville open its harbour?")
    embedded.close()
    with chroma_child(settings.resolved_chroma_path) as (host, port):
        served = NewsService.from_settings(settings, local_server=(host, port))
        try:
            assert served.store.identity == "local"  # the same data: the same derived keyword index
            assert served.keyword_index("default").path == embedded.keyword_index("default").path
            after = served.search("default", "When did Quokkaville open its harbour?")
            assert [p.chunk_id for p in after] == [p.chunk_id for p in before]
            served.ingest("default", [Article(title="Second", body="Quokkaville also opened a school. " * 4)])
            assert served.store.count("default") == 2
        finally:
            served.close()
    # after the server stopped, the embedded client sees what was written through it
    again = make_service(settings, embedder, encoding)
    try:
        assert again.store.count("default") == 2
    finally:
        again.close()


PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from retrieval.store.chroma_server import chroma_child
    with chroma_child(Path(sys.argv[1])) as (host, port):
        print(port, flush=True)
        time.sleep(60)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_the_child_server_stops_when_the_bot_is_killed(tmp_path):
    folder = tmp_path / "chroma"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip().isdigit()
        children = chroma_servers_of(folder)
        assert children
        parent.send_signal(signal.SIGKILL)  # no cleanup runs in the parent
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while chroma_servers_of(folder) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not chroma_servers_of(folder)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_server_that_cannot_start_is_a_clear_store_error(tmp_path):
    with socket.socket() as taken:  # the port is in use: chroma run exits at start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(StoreError, match="exited at start"):
            with chroma_child(tmp_path / "chroma", port=taken.getsockname()[1]):
                pass
