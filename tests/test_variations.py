"""--variations: N distinct, seeded, reproducible shots from one spec."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.batch import load_plans
from pipeline.errors import SpecError
from pipeline.spec import load_spec
from pipeline.variations import plans_for

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "scene_specs" / "street_city_noon.yaml"


def test_variations_differ_and_stay_in_their_ranges():
    spec = load_spec(SPEC)
    plans = plans_for(spec, variations=4)
    assert [p.name for p in plans] == [f"street_city_noon-v{k:04d}" for k in range(4)]
    assert len({p.to_json() for p in plans}) == 4
    assert len({p.spec_hash for p in plans}) == 4  # each variation re-renders on its own
    r = spec.randomize
    for k, p in enumerate(plans):
        drawn = p.variation["drawn"]
        assert p.variation["index"] == k and p.variation["count"] == 4
        assert r.ev100_offset[0] <= drawn["ev100_offset"] <= r.ev100_offset[1]
        assert p.exposure.ev100 == pytest.approx(spec.exposure.ev100 + drawn["ev100_offset"])
        assert abs(drawn["actors[0].dx_m"]) <= r.actor_offset_m
        moved = p.actors[0].path[0][0] - spec.actors[0].path[0][0]
        assert moved == pytest.approx(drawn["actors[0].dx_m"], abs=1e-9)
        assert p.environment.backends["mitsuba"]["set_seed"] == drawn["set_seed"]
    sets = {p.environment.backends["mitsuba"]["set_seed"] for p in plans}
    assert len(sets) == 4


def test_load_plans_expands_variations_and_seeds():
    plans = load_plans([str(SPEC)], variations=2, seeds=[0, 5])
    assert [p.name for p in plans] == ["street_city_noon-s0-v0000", "street_city_noon-s0-v0001",
                                       "street_city_noon-s5-v0000", "street_city_noon-s5-v0001"]
    assert len({p.seed for p in plans}) == 4
    assert [p.name for p in load_plans([str(SPEC)])] == ["street_city_noon"]


def test_randomize_block_sets_the_default_count(tmp_path):
    text = SPEC.read_text() + "randomize: {variations: 3, ev100_offset: [0, 0]}\n"
    (tmp_path / "s.yaml").write_text(text)
    plans = plans_for(load_spec(tmp_path / "s.yaml"))
    assert len(plans) == 3 and all(p.exposure.ev100 == 13.4 for p in plans)
    (tmp_path / "bad.yaml").write_text(SPEC.read_text() + "randomize: {ev100_offset: [1, 0]}\n")
    with pytest.raises(SpecError, match=r"bad.yaml:\d+:\d+: randomize.ev100_offset: range"):
        load_spec(tmp_path / "bad.yaml")


def test_same_seed_same_variations_in_another_interpreter():
    code = ("import hashlib; from pipeline.spec import load_spec; "
            "from pipeline.variations import plans_for\n"
            f"for p in plans_for(load_spec({str(SPEC)!r}), variations=3):\n"
            "    print(p.name, hashlib.sha256(p.to_json().encode()).hexdigest())\n")
    env = {**os.environ, "PYTHONHASHSEED": "4321"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    here = {p.name: hashlib.sha256(p.to_json().encode()).hexdigest()
            for p in plans_for(load_spec(SPEC), variations=3)}
    assert dict(line.split() for line in proc.stdout.splitlines()) == here
