"""Fetching pages: a real loopback HTTP server for the happy and unhappy paths, and a resolver we
control (with httpx.MockTransport) for the private-address and redirect checks."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from retrieval.errors import FetchError, InputError
from retrieval.ingest.addresses import is_blocked_address
from retrieval.ingest.fetch import USER_AGENT, article_from_url, fetch_url
from tests.documents import blank_pdf, text_pdf, word_file

TIMEOUT = 0.5
LIMIT = 100_000

PAGE = """<!doctype html><html><head>
<title>Acme opens Lyon plant | Business Wire Daily</title>
<meta property="og:site_name" content="Business Wire Daily">
<meta property="article:published_time" content="2022-05-27T08:00:00Z">
</head><body><nav><a href="/">Home</a> <a href="/markets">Markets</a></nav><article>
<h1>Acme opens Lyon plant</h1>
<p>Acme Corporation opened a battery plant near Lyon on Friday, creating four hundred jobs in the
region over the next two years, the company said in a statement.</p>
<p>The plant will supply European car makers from next spring, according to Acme's chief executive.</p>
</article></body></html>"""


RELEASE = ["Acme Corporation opened a battery plant near Lyon on Friday.",
           "The plant will supply European car makers from next spring."]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):  # keep test output quiet
        pass

    def send(self, status: int, ctype: str | None, body: bytes, headers: dict[str, str] | None = None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.seen.append((self.path, self.headers.get("User-Agent")))
        path = self.path.split("?")[0]
        if path == "/article":
            self.send(200, "text/html; charset=utf-8", PAGE.encode())
        elif path == "/plain":
            self.send(200, "text/plain; charset=utf-8", "Acme hires\n\nAcme hired 50 engineers in Lyon.".encode())
        elif path == "/latin":
            body = "Caf\u00e9 chain grows\n\nIt opened 9 caf\u00e9s.".encode("latin-1")
            self.send(200, "text/plain; charset=iso-8859-1", body)
        elif path == "/meta-charset":
            body = PAGE.replace("<head>", '<head><meta charset="iso-8859-1">')
            body = body.replace("Lyon on", "Lyon (Rh\u00f4ne) on")
            self.send(200, "text/html", body.encode("latin-1"))
        elif path == "/json":
            self.send(200, "application/json", b'[{"title": "J1", "body": "Json body one."}, {"body": "two"}]')
        elif path == "/image":
            self.send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
        elif path == "/release.pdf":
            self.send(200, "application/pdf", text_pdf(["Acme opens Lyon plant", *RELEASE], title="Acme opens Lyon plant"))
        elif path == "/release":
            docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            self.send(200, docx_type, word_file([("Title", "Acme opens Lyon plant"), *((None, line) for line in RELEASE)]))
        elif path == "/scan.pdf":
            self.send(200, "application/pdf", blank_pdf())
        elif path == "/missing":
            self.send(404, "text/html", b"<h1>Not found</h1>")
        elif path == "/broken":
            self.send(500, "text/plain", b"oops")
        elif path == "/redirect":
            self.send(302, None, b"", {"Location": "/article"})
        elif path == "/loop":
            self.send(302, None, b"", {"Location": "/loop"})
        elif path == "/to-ftp":
            self.send(301, None, b"", {"Location": "ftp://127.0.0.1/file.txt"})
        elif path == "/declared-big":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "50000000")
            self.end_headers()
            self.wfile.write(b"a" * 1000)
        elif path == "/big":
            self.stream_big()
        elif path == "/slow":
            server.release.wait(3)
            self.send(200, "text/plain", b"too late")
        elif path == "/drip":
            self.drip()

    def stream_big(self):
        """50 MB without a Content-Length, so only the client's byte count can stop it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(800):
                self.wfile.write(chunk)
                self.server.big_sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.server.big_aborted.set()

    def drip(self):
        """A byte every 0.1 s: no single read times out, but the whole answer takes too long."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for _ in range(30):
                self.wfile.write(b"x")
                self.wfile.flush()
                if self.server.release.wait(0.1):
                    return
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.seen, httpd.big_sent, httpd.big_aborted, httpd.release = [], 0, threading.Event(), threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str, **kwargs):
    options = {"timeout": TIMEOUT, "max_bytes": LIMIT, "allow_private": True} | kwargs
    return fetch_url(url, **options)


def refused(url: str, **kwargs) -> str:
    with pytest.raises(FetchError) as info:
        fetch(url, **kwargs)
    return str(info.value)


# ---- real loopback server ------------------------------------------------------------------------


def test_html_page_becomes_article_with_metadata(server):
    article = article_from_url(server.base + "/article", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True)
    assert article.title == "Acme opens Lyon plant"
    assert article.publisher == "Business Wire Daily"
    assert article.published == date(2022, 5, 27)
    assert article.url == server.base + "/article"
    assert "four hundred jobs" in article.body and "Markets" not in article.body
    assert server.seen == [("/article", USER_AGENT)]


def test_redirect_is_followed_and_final_url_kept(server):
    page = fetch(server.base + "/redirect")
    assert page.url == server.base + "/redirect" and page.final_url == server.base + "/article"
    assert page.content_type == "text/html" and "Lyon" in page.text
    article = article_from_url(server.base + "/redirect", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True,
                               title="Given title", published="2023-01-02")
    assert (article.title, article.published) == ("Given title", date(2023, 1, 2))
    assert article.url == server.base + "/article"


def test_plain_text_page(server):
    article = article_from_url(server.base + "/plain", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True)
    assert (article.title, article.body) == ("Acme hires", "Acme hired 50 engineers in Lyon.")


def test_charset_from_header_and_from_meta_tag(server):
    assert "9 caf\u00e9s" in fetch(server.base + "/latin").text
    assert "Lyon (Rh\u00f4ne)" in fetch(server.base + "/meta-charset").text


def test_json_page_gives_first_article(server):
    article = article_from_url(server.base + "/json", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True)
    assert (article.title, article.body, article.url) == ("J1", "Json body one.", server.base + "/json")


def test_oversized_streamed_body_is_refused_without_reading_it_all(server):
    start = time.perf_counter()
    message = refused(server.base + "/big")
    assert "too large" in message and "100.0 KB limit" in message
    assert time.perf_counter() - start < 2
    assert server.big_aborted.wait(5), "the server should see the client hang up"
    assert server.big_sent < 50 * 1024 * 1024


def test_declared_oversized_body_is_refused(server):
    assert "50.0 MB is over the 100.0 KB limit" in refused(server.base + "/declared-big")


def test_unsupported_content_type(server):
    message = refused(server.base + "/image")
    assert message.startswith("That URL is an image (image/png), not an article.")


@pytest.mark.parametrize("path", ["/release.pdf", "/release"])
def test_a_press_release_linked_as_pdf_or_word_file_is_read_like_an_uploaded_one(server, path):
    article = article_from_url(server.base + path, timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True,
                               publisher="Acme Newsroom")
    assert article.title == "Acme opens Lyon plant" and article.publisher == "Acme Newsroom"
    assert article.url == server.base + path and article.body.split() == " ".join(RELEASE).split()


def test_a_linked_scan_without_text_is_refused_in_one_line(server):
    with pytest.raises(InputError) as info:
        article_from_url(server.base + "/scan.pdf", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=True)
    assert str(info.value) == "scan.pdf has no text layer (a scanned image?); paste the text or use an OCR'd PDF."


@pytest.mark.parametrize(("path", "status"), [("/missing", "404"), ("/broken", "500")])
def test_http_errors_name_the_status_without_query_secrets(server, path, status):
    message = refused(server.base + path + "?token=SECRET123&x=1")
    assert f"HTTP {status}" in message and "SECRET123" not in message and "token" not in message


def test_too_many_redirects(server):
    assert "redirected more than 5 times" in refused(server.base + "/loop")
    assert len(server.seen) == 6


def test_redirect_to_another_scheme_is_refused(server):
    assert "ftp://" in refused(server.base + "/to-ftp")


def test_connection_refused_on_closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert "refused" in refused(f"http://127.0.0.1:{port}/x")


def test_timeout_when_server_is_slow(server):
    start = time.perf_counter()
    assert "did not answer within 0.5 s" in refused(server.base + "/slow")
    assert time.perf_counter() - start < 1.5


def test_overall_deadline_when_server_drips(server):
    start = time.perf_counter()
    assert "did not answer within 0.5 s" in refused(server.base + "/drip")
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize("url", ["ftp://example.com/a.txt", "file:///etc/passwd", "example.com/news", "http://"])
def test_unsupported_schemes_and_bad_urls(url):
    refused(url)


def test_credentials_in_url_are_refused_and_not_echoed():
    message = refused("http://alice:hunter2@127.0.0.1:9/x")
    assert "hunter2" not in message and "alice" not in message


# ---- private addresses (resolution under our control) --------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost/", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data/",
     "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://192.168.0.1/", "http://[fd00:ec2::254]/",
     "http://0.0.0.0/", "http://2130706433/"],
)
def test_private_addresses_are_refused_by_default(url):
    calls = []
    transport = httpx.MockTransport(lambda request: calls.append(request) or httpx.Response(200, text="x"))
    assert "private or local" in refused(url, allow_private=False, transport=transport)
    assert calls == []


def test_any_private_address_among_several_is_refused():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="x"))
    resolver = {"mixed.example": ["93.184.216.34", "10.0.0.5"]}.__getitem__
    assert "private or local" in refused("http://mixed.example/", allow_private=False, transport=transport,
                                         resolver=resolver)


@pytest.mark.parametrize(
    ("address", "blocked"),
    [("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False), ("100.64.0.1", True),
     ("224.0.0.1", True), ("2002:7f00:1::1", True), ("::", True), ("fe80::1", True)],
)
def test_is_blocked_address(address, blocked):
    assert is_blocked_address(address) is blocked


def public_host(requests: list[httpx.Request], location: str):
    """A MockTransport for news.example (resolved to a public address) that redirects to ``location``."""

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/story":
            return httpx.Response(200, headers={"Content-Type": "text/html"}, text=PAGE)
        return httpx.Response(302, headers={"Location": location})

    return httpx.MockTransport(handler)


RESOLVE = {"news.example": ["93.184.216.34"], "intranet.example": ["10.0.0.8"], "localhost": ["127.0.0.1"]}.__getitem__


def test_public_host_is_fetched_through_its_checked_address():
    requests: list[httpx.Request] = []
    page = fetch_url("http://news.example/start?id=7", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=False,
                     transport=public_host(requests, "/story"), resolver=RESOLVE)
    assert page.final_url == "http://news.example/story" and "Lyon" in page.text
    assert [r.url.host for r in requests] == ["93.184.216.34", "93.184.216.34"]
    assert [r.headers["Host"] for r in requests] == ["news.example", "news.example"]
    assert requests[0].url.query == b"id=7"


@pytest.mark.parametrize("location", ["http://127.0.0.1:8080/admin", "http://localhost/", "http://intranet.example/x",
                                      "http://169.254.169.254/latest/meta-data/"])
def test_redirect_from_public_page_to_private_address_is_refused(location):
    requests: list[httpx.Request] = []
    with pytest.raises(FetchError, match="private or local"):
        fetch_url("http://news.example/start", timeout=TIMEOUT, max_bytes=LIMIT, allow_private=False,
                  transport=public_host(requests, location), resolver=RESOLVE)
    assert len(requests) == 1  # the private hop was never requested


def test_unresolvable_host():
    def resolver(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert "Could not find the server nowhere.example" in refused("http://nowhere.example/", allow_private=False,
                                                                  resolver=resolver)
