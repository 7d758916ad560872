"""The CLI shell: version, help, one-line errors and exit statuses, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from pipeline import __version__, cli


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_version_and_help_list_every_command():
    r = _run("--version")
    assert r.returncode == 0 and __version__ in r.stdout
    r = _run("--help")
    for name in ("batch", "validate-spec", "plan", "validate", "stats", "report",
                 "install-plugin"):
        assert name in r.stdout


def test_user_error_is_one_line_with_status_2(tmp_path):
    r = _run("plan", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "p.json"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.yaml" in lines[0]


def test_command_exit_status_is_propagated(monkeypatch):
    @click.command("fail-with-3")
    @click.pass_context
    def fail(ctx):
        ctx.exit(3)

    monkeypatch.setattr(cli, "_register", lambda: cli.cli.add_command(fail))
    with pytest.raises(SystemExit) as exc:
        cli.main(["fail-with-3"])
    assert exc.value.code == 3
