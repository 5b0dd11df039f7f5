"""newsbot as operators install it: the bundled prompts and sample articles, the seed folder
setting, ``--version``, and a built wheel in a fresh virtualenv running ``chroma run`` and
``newsbot run`` against the loopback Discord."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest

from retrieval.errors import ConfigError
from retrieval.settings import Settings, load_settings
from tests.conftest import make_service, make_settings

NEWSBOT = Path(sys.executable).with_name("newsbot")  # the console script of the venv running the tests
SAMPLES = sorted(p.name for p in resources.files("retrieval.samples").iterdir() if p.name.endswith(".json"))


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
