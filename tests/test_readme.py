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
