"""The README opens with the two commands, and CI runs exactly the README's test command."""

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
