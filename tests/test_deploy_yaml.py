"""Every deployment file passes yamllint with the project's rules, and those rules do catch problems."""

from __future__ import annotations

import sys
from pathlib import Path

from .support.deploy import run


def test_yamllint_passes_on_deployment_files() -> None:
    targets = ["docker-compose.yml", "deploy", ".yamllint"]
    result = run([sys.executable, "-m", "yamllint", "-c", ".yamllint", "-s", *targets])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_config_catches_problems(tmp_path: Path) -> None:
    """Guards against a linter run that passes because it checks nothing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: value   \nlong: " + "x" * 130 + "\nkey: twice\n")
    result = run([sys.executable, "-m", "yamllint", "-c", ".yamllint", "-s", str(bad)])
    assert result.returncode != 0
    for rule in ("trailing-spaces", "line-length", "key-duplicates"):
        assert rule in result.stdout, result.stdout
