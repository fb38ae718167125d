"""The README's two set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (TOP / "README.md").read_text())


def test_ci_runs_exactly_the_readme_test_command() -> None:
    install_and_run, install_and_test = readme_commands()[:2]
    ci_last_line = (TOP / ".ci/run").read_text().strip().splitlines()[-1]
    assert ci_last_line == install_and_test
    assert install_and_test.endswith("-m pytest") and "swapctl" in install_and_run  # pytest, in two lanes


def test_the_readme_opens_with_the_two_commands() -> None:
    text = (TOP / "README.md").read_text()
    first_block = text.index("```sh")
    assert "\n## " not in text[:first_block]
