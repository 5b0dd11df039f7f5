"""newsbot as operators install it: the bundled prompts and sample articles, the seed folder
setting, ``--version``, and a built wheel in a fresh virtualenv running ``chroma run`` and
``newsbot run`` against the loopback Discord."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import httpx
import pytest

from bot.render import SOURCES_HEADER
from retrieval.errors import ConfigError
from retrieval.settings import PROJECT_ROOT, Settings, load_settings
from tests.bot_fixtures import CAROL, CHAN_A, GUILD_A, add_guilds, content_of, wait_answer
from tests.conftest import OFFLINE_DIR, make_service, make_settings
from tests.fakes.discord_server import FakeDiscord
from tests.processes import free_port

NEWSBOT = Path(sys.executable).with_name("newsbot")  # the console script of the venv running the tests
BIOSYNGEN = json.loads((resources.files("retrieval.samples") / "01-biosyngen-asean-consuls-visit.json").read_text("utf-8"))


# -- NEWSBOT_SEED_DIR -------------------------------------------------------------------------------
def test_an_empty_seed_setting_means_no_seeding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_SEED_DIR", "")
    assert load_settings(Settings, _env_file=None).seed_dir is None


def test_a_seed_folder_that_does_not_exist_is_one_clear_line(tmp_path: Path, embedder, encoding) -> None:
    service = make_service(make_settings(tmp_path, seed_dir=tmp_path / "nowhere"), embedder, encoding)
    try:
        with pytest.raises(ConfigError) as info:
            asyncio.run(service.ensure_seeded("default"))
    finally:
        service.close()
    assert str(info.value) == (
        f"The seed folder {tmp_path / 'nowhere'} (NEWSBOT_SEED_DIR) is not a folder. "
        "Point it at a folder of articles, or set it empty to start with an empty library."
    )


def test_version_prints_the_installed_version() -> None:
    done = subprocess.run([str(NEWSBOT), "--version"], capture_output=True, text=True, timeout=60, cwd=Path.home())
    assert (done.returncode, done.stdout, done.stderr) == (0, f"newsbot {metadata.version('newsbot')}\n", "")


# -- the built wheel in a fresh virtualenv ------------------------------------------------------------
def _run(*args: object, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with newsbot installed from a wheel built from this checkout, with its
    dependencies as pip resolves them. .ci/run makes one and names it in TEST_WHEEL_VENV;
    otherwise it is made here (about a minute: pip installs every dependency)."""
    if given := os.environ.get("TEST_WHEEL_VENV"):
        venv = Path(given)
        if not (venv / "bin" / "newsbot").exists():
            pytest.fail(f"TEST_WHEEL_VENV={given} has no bin/newsbot; install the wheel there or unset it.")
        return venv
    root = tmp_path_factory.mktemp("wheel")
    # The wheel is built from a copy of the checkout's files, so a stale build/ folder cannot add to it.
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=PROJECT_ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "src" / name).write_bytes((PROJECT_ROOT / name).read_bytes())
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", root / "dist", root / "src", timeout=300)
    (wheel,) = (root / "dist").glob("newsbot-*.whl")
    _run(sys.executable, "-m", "venv", root / "venv", timeout=120)
    _run(root / "venv" / "bin" / "pip", "install", "--quiet", wheel, timeout=900)
    return root / "venv"


def offline_env(tmp_path: Path) -> dict[str, str]:
    """What an installed newsbot needs on a machine without internet: the model and tiktoken
    folders, and its own data and cache folders. Nothing else from the test's environment."""
    return {
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", str(OFFLINE_DIR / "tiktoken-cache")),
        "NEWSBOT_EMBEDDING_MODEL_DIR": str(OFFLINE_DIR / "models" / "all-MiniLM-L6-v2" / "onnx"),
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
    }


def test_the_wheel_holds_every_module_the_templates_and_the_samples(wheel_venv: Path, tmp_path: Path) -> None:
    code = "import bot, retrieval, pathlib; print(pathlib.Path(retrieval.__file__).parent.parent)"
    site = Path(_run(wheel_venv / "bin" / "python", "-c", code, cwd=tmp_path).stdout.strip())
    assert site != PROJECT_ROOT and site.name == "site-packages"
    wanted = {p.relative_to(PROJECT_ROOT) for d in ("bot", "retrieval") for p in (PROJECT_ROOT / d).rglob("*.py")}
    wanted |= {Path("retrieval/answer/templates") / p.name for p in (PROJECT_ROOT / "prompts").glob("*.txt")}
    wanted |= {Path("retrieval/samples") / p.name for p in (PROJECT_ROOT / "data").glob("*.json")}
    wanted.add(Path("retrieval/search/ranker.json"))
    assert sorted(str(p) for p in wanted if not (site / p).is_file()) == []
    version = _run(wheel_venv / "bin" / "newsbot", "--version", cwd=tmp_path, env={}).stdout
    assert version == f"newsbot {metadata.version('newsbot')}\n"


def test_the_installed_newsbot_answers_from_its_bundled_articles(wheel_venv: Path, tmp_path: Path) -> None:
    newsbot = wheel_venv / "bin" / "newsbot"
    done = _run(newsbot, "ask", "Who visited Biosyngen?", cwd=tmp_path, env=offline_env(tmp_path), timeout=300)
    answer, _, sources = " ".join(done.stdout.split()).partition("Sources:")  # the answer wraps at 80 columns
    assert "Loh Tuck Keat" in answer and "[1]" in answer
    assert f"[1] {BIOSYNGEN['title']} — {BIOSYNGEN['source']}, 2022-05-28" in sources



async def _heartbeat(url: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout * 10)):
            if proc.returncode is not None:
                raise AssertionError(f"`chroma run` exited with code {proc.returncode}")
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"`chroma run` did not answer at {url}")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_the_installed_bot_adds_and_answers_through_a_chroma_server(wheel_venv: Path, tmp_path: Path) -> None:
    """``chroma run`` and ``newsbot run`` from the virtualenv, as two processes in a folder of their
    own, driven through the loopback Discord: /add with text, /ask, then SIGTERM."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    port = free_port()
    chroma = await asyncio.create_subprocess_exec(
        wheel_venv / "bin" / "chroma", "run", "--path", tmp_path / "chroma", "--host", "127.0.0.1", "--port", str(port),
        cwd=workdir, env={"ANONYMIZED_TELEMETRY": "False"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    bot = None
    try:
        await _heartbeat(f"http://127.0.0.1:{port}/api/v2/heartbeat", chroma)
        async with FakeDiscord() as fake:
            await add_guilds(fake)
            env = {
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_BASE": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "CHROMA_HOST": "127.0.0.1",
                "CHROMA_PORT": str(port),
                **offline_env(tmp_path),
            }
            bot = await asyncio.create_subprocess_exec(
                wheel_venv / "bin" / "newsbot", "run", cwd=workdir, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            ready = lambda: (fake.command_syncs and fake.gateway.ready_sessions) or bot.returncode is not None  # noqa: E731
            await fake.wait_for(ready, timeout=120)
            assert bot.returncode is None, (await bot.stderr.read()).decode()
            options = {key: BIOSYNGEN[key] for key in ("title", "published", "source")}
            added = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "add", {"text": BIOSYNGEN["body"], **options})
            await fake.wait_for(lambda: "**1 article**" in content_of(fake, added), timeout=120)
            asked = await fake.send_slash_command(GUILD_A, CHAN_A, CAROL, "ask", {"question": "Who visited Biosyngen?"})
            (final,) = await wait_answer(fake, asked, timeout=120)
            bot.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(bot.communicate(), 60)
    finally:
        for proc in (bot, chroma):
            if proc is not None:
                await _stop(proc)
    assert bot.returncode == 0, err.decode()
    assert b"SIGTERM received; shutting down" in err and fake.token.encode() not in out + err
    body, sources = final.content.split(SOURCES_HEADER)
    assert "Loh Tuck Keat" in body and "[1]" in body
    assert sources.strip() == f"[1] {BIOSYNGEN['title']} — {BIOSYNGEN['source']}, {BIOSYNGEN['published']}"
    assert not (tmp_path / "data" / "chroma").exists()  # the articles went to the server, not a local folder
    assert list((tmp_path / "chroma").glob("*.sqlite3"))
