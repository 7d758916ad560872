"""Malformed specs: each is rejected with one line naming the file, line and problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import SpecError
from pipeline.spec import load_spec

BAD = Path(__file__).resolve().parent / "data" / "bad_specs"
BAD_FILES = sorted(BAD.glob("*.yaml"))


def expectation(path: Path) -> tuple[int, str]:
    """First line of each bad spec: ``# expect: LINE FRAGMENT``."""
    head = path.read_text(encoding="utf-8").splitlines()[0]
    line, fragment = head.removeprefix("# expect: ").split(" ", 1)
    return int(line), fragment


def test_there_are_enough_bad_specs():
    assert len(BAD_FILES) >= 20


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_spec_is_rejected_with_file_and_line(path):
    line, fragment = expectation(path)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_spec_through_cli_exits_2_with_one_line(path, capsys):
    line, fragment = expectation(path)
    with pytest.raises(SystemExit) as exc:
        main(["validate-spec", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"error: {path}:{line}:") and fragment in first
    assert "Traceback" not in err


def test_cli_validate_folder_of_bad_specs_in_a_subprocess():
    exe = [sys.executable, "-c", "from pipeline.cli import main; main()"]
    proc = subprocess.run([*exe, "validate-spec", str(BAD)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith(f"error: {BAD}")]
    assert len(errors) == len(BAD_FILES)
    assert f"{len(BAD_FILES)} of {len(BAD_FILES)} spec(s) invalid" in proc.stderr


def test_python_tag_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text(f'name: evil\nframes: !!python/object/apply:os.system ["touch {marker}"]\n'
                    "camera: {path: [[0, 0, 1]], look_at: [1, 0, 1]}\nexposure: {ev100: 1}\n")
    for call in (lambda: load_spec(spec), lambda: main(["validate-spec", str(spec)])):
        with pytest.raises((SpecError, SystemExit)):
            call()
    with pytest.raises(SpecError, match=r"evil.yaml:2:\d+: YAML tag '!!python/object/apply"):
        load_spec(spec)
    assert not marker.exists()


def test_python_tag_in_a_key_or_nested_value_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "evil.yaml"
    spec.write_text("name: evil\nframes: 2\ncamera: {path: [[0, 0, 1]], look_at: [1, 0, 1]}\n"
                    f"exposure: {{ev100: !!python/object/new:os.system [touch {marker}]}}\n"
                    f"? !!python/object/apply:os.system [touch {marker}]\n: 1\n")
    with pytest.raises(SpecError, match="evil.yaml:4:"):
        load_spec(spec)
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError, match="too large"):
        load_spec(spec)


def test_missing_and_empty_and_binary_files(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(SpecError, match=r"empty.yaml:1:1: spec file is empty"):
        load_spec(tmp_path / "empty.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(tmp_path / "bin.yaml")
