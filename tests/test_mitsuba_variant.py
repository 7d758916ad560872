"""Variant choice: env override, cached subprocess probe, fallback to scalar_rgb."""

from __future__ import annotations

import pytest

from pipeline.backends import mitsuba_variant as mv
from pipeline.errors import RenderError


def test_env_override_wins_and_is_checked(monkeypatch):
    monkeypatch.setattr(mv, "probe_llvm", lambda: pytest.fail("must not probe"))
    monkeypatch.setenv(mv.ENV_VAR, "scalar_rgb")
    assert mv.choose_variant(verbose=False) == "scalar_rgb"
    monkeypatch.setenv(mv.ENV_VAR, "llvm_ad_spectral_nonsense")
    with pytest.raises(RenderError, match="S2RHDR_MITSUBA_VARIANT"):
        mv.choose_variant(verbose=False)


def test_probe_is_cached_and_failure_falls_back(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(mv.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def crashed():
        calls.append(1)
        return False, "llvm probe exited -6: LLVM ERROR: Cannot select fminimum"

    monkeypatch.setattr(mv, "probe_llvm", crashed)
    assert mv.choose_variant() == "scalar_rgb"
    assert mv.choose_variant() == "scalar_rgb"
    assert calls == [1]  # second call read the cache
    assert "scalar_rgb" in capsys.readouterr().err  # the choice is printed


def test_probe_survives_a_crashing_child(monkeypatch):
    # a child that aborts like LLVM 15 does must not take the caller down
    monkeypatch.setattr(mv, "_PROBE", "import os; os.abort()")
    ok, reason = mv.probe_llvm(timeout=60)
    assert not ok and "exited" in reason
