"""deploy/'s systemd units: valid units, only settings newsbot knows, and the exit code that means
"configuration error" is the one the unit does not restart on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.unknown_settings import unknown_settings
from bot.runner import CONFIG_ERROR
from retrieval.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def directives(unit: Path, name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", unit.read_text(), re.M)


def test_there_is_a_unit_for_the_bot_and_one_for_chroma():
    assert [u.name for u in UNITS] == ["chroma.service", "newsbot.service"]


def test_the_bot_unit_runs_newsbot_run_and_does_not_restart_on_a_configuration_error():
    unit = DEPLOY / "newsbot.service"
    (start,) = directives(unit, "ExecStart")
    assert start.split()[0].endswith("/bin/newsbot") and start.split()[1:] == ["run"]
    assert directives(unit, "RestartPreventExitStatus") == [str(CONFIG_ERROR)]
    assert directives(unit, "Restart") == ["on-failure"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_units_set_only_settings_newsbot_knows(unit):
    names = [pair.split("=", 1)[0] for line in directives(unit, "Environment") for pair in line.split()]
    assert names and unknown_settings(names) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_the_unit(unit, tmp_path):
    # systemd checks that ExecStart exists: point it at this environment's copy of the program.
    program = Path(sys.executable).with_name(unit.stem if unit.stem == "newsbot" else "chroma")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={program}", unit.read_text(), flags=re.M)
    copy = tmp_path / unit.name
    copy.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    assert problems == [], done.stdout + done.stderr
