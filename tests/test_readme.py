"""The README opens with the two commands, and CI runs exactly the README's test command."""

import re

from retrieval.settings import PROJECT_ROOT


def _opening_commands() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    return [line.strip() for line in block.splitlines()[1:] if line.strip()]


def test_readme_opens_with_the_main_job_and_the_test_command():
    assert _opening_commands() == ['pip install -e . && newsbot ask "Who visited Biosyngen?"', 'pip install -e ".[test]" && pytest']


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == _opening_commands()[1]


def _section(title: str) -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_setting_is_in_the_readmes_configuration_section():
    from bot.settings import BotSettings

    names = [field.validation_alias.choices[0] for field in BotSettings.model_fields.values()]  # BotSettings extends Settings
    assert len(names) > 40 and "NEWSBOT_DATA_DIR" in names and "DISCORD_TOKEN" in names
    section = _section("Configuration")
    assert [name for name in names if f"`{name}`" not in section] == []


def _documented_defaults() -> dict[str, str]:
    """Setting name -> the default the README's tables give, where it is a literal value (`200`,
    `30` s, `false`): rows naming several settings give one default each, in order."""
    found: dict[str, str] = {}
    for row in _section("Configuration").splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z_]+)`", cells[0])
        values = [re.fullmatch(r"`([^`/]+)`(?: s)?|unset", part) for part in cells[1].split(", ")]
        if len(values) == len(names) and all(values):
            found.update({name: (m.group(1) if m.group(1) else "unset") for name, m in zip(names, values, strict=True)})
    return found


def test_the_readmes_defaults_are_the_settings_defaults():
    from bot.settings import BotSettings

    defaults = {f.validation_alias.choices[0]: f.default for f in BotSettings.model_fields.values()}
    documented = _documented_defaults()
    assert len(documented) > 30 and documented["NEWSBOT_CHUNK_TOKENS"] == "200"

    def shown(value: object) -> str:
        if value is None:
            return "unset"
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    wrong = {
        name: (text, defaults[name])
        for name, text in documented.items()
        if shown(defaults[name]) != text and not (isinstance(defaults[name], float) and float(text) == defaults[name])
    }
    assert wrong == {}
