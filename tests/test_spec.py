"""Scene specs: the shipped specs are valid, defaults merge, hashing and randomisation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pipeline import geometry as g
from pipeline.errors import SpecError
from pipeline.plan import make_plan
from pipeline.randomize import resolve
from pipeline.spec import (
    Choice,
    Normal,
    Uniform,
    is_random,
    load_spec,
    load_specs,
    spec_hash,
)

SPECS = Path(__file__).resolve().parents[1] / "scene_specs"

MINIMAL = """\
name: tiny
frames: 4
camera: {path: [[0, 0, 1.6], [2, 0, 1.6]], look_at: [10, 0, 1.5]}
exposure: {ev100: 12}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sun_in_view(plan) -> bool:
    sun = plan.environment.sun
    if sun is None or not sun.visible:
        return False
    w, h = plan.render.resolution
    for f in plan.timeline:
        far = [c + 1e4 * d for c, d in zip(f.camera.location, sun.direction())]
        u, v, z = g.project(plan.camera.K, f.camera.world_to_camera, far)
        if z > 0 and 0 <= u < w and 0 <= v < h:
            return True
    return False


def test_every_shipped_spec_validates_and_plans():
    specs = load_specs(SPECS)
    assert len(specs) >= 8
    names = [s.name for s in specs]
    assert names == sorted(names) and len(set(names)) == len(names)
    kinds, profiles, presets = set(), set(), set()
    for spec in specs:
        plan = make_plan(spec)
        assert plan.name == spec.name and len(plan.output_frames()) == spec.frames
        assert plan.environment.backends["unreal"]["level"].startswith("/Game/")
        assert plan.environment.backends["mitsuba"]["preset"]
        kinds.update(a.kind for a in spec.actors)
        profiles.add(plan.camera.handheld_profile)
        presets.add(plan.environment.backends["mitsuba"]["preset"])
        for a in plan.actors:
            assert a.backends["unreal"]["mesh"].startswith("/Game/")
        if sun_in_view(plan):  # a visible sun disk exceeds HALF's 65504: needs FLOAT
            assert plan.render.exr_pixel_type == "float", spec.name
        # cheap enough for the demo: few frames at 640x360 at most
        assert spec.frames <= 12 and spec.render.resolution[0] * spec.render.resolution[1] \
            <= 640 * 360
    assert kinds == {"pedestrian", "animal", "vehicle"}
    assert profiles == {"tripod", "standing", "walking", "running"}
    assert {"street", "interior", "park", "parking", "plaza"} <= presets


def test_shipped_specs_cover_day_dusk_night_indoor_and_lights():
    plans = {s.name: make_plan(s) for s in load_specs(SPECS)}
    suns = [p.environment.sun for p in plans.values() if p.environment.sun is not None]
    assert any(s.elevation_deg > 30 and s.illuminance_lux > 50000 for s in suns)  # day
    assert any(0 < s.elevation_deg < 10 for s in suns)  # dusk, low sun
    assert sum(sun_in_view(p) for p in plans.values()) >= 2  # direct visible sun
    assert any(p.environment.sun is None and p.environment.sky.luminance < 1
               for p in plans.values())  # night
    assert any(p.environment.backends["mitsuba"]["preset"] == "interior" for p in plans.values())
    bright = [li for p in plans.values() for li in p.environment.lights
              if li.luminance >= 10000 or li.intensity_cd >= 10000]
    assert bright


def test_load_spec_fills_defaults():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        spec = load_spec(write(Path(d), "tiny.yaml", MINIMAL))
    assert spec.fps == 30.0 and spec.seed == 0 and spec.warmup_frames == 0
    assert spec.camera.focal_length_mm == 24.0 and spec.camera.handheld.profile == "tripod"
    assert spec.render.passes[0] == "img" and spec.render.exr.compression == "zip"
    assert spec.render.quality.mitsuba.spp == 64
    assert spec.environment.sun is None and spec.actors == ()


def test_defaults_file_is_merged_under_each_spec(tmp_path):
    write(tmp_path, "_defaults.yaml", "fps: 24\nrender: {resolution: [96, 64], exr: "
                                      "{pixel_type: float}}\nwarmup_frames: 3\n")
    spec = load_spec(write(tmp_path, "a.yaml", MINIMAL + "render: {resolution: [64, 32]}\n"))
    assert spec.fps == 24.0 and spec.warmup_frames == 3
    assert spec.render.resolution == (64, 32)  # the spec wins
    assert spec.render.exr.pixel_type == "float"  # merged from the defaults
    # _defaults.yaml is not a spec of its own; load_specs skips it
    assert [s.name for s in load_specs(tmp_path)] == ["tiny"]


def test_error_in_defaults_file_names_that_file(tmp_path):
    write(tmp_path, "_defaults.yaml", "fps: 24\nrender: {resolutoin: [96, 64]}\n")
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, "a.yaml", MINIMAL))
    assert str(err.value).startswith(f"{tmp_path / '_defaults.yaml'}:2:")
    assert "did you mean 'resolution'" in str(err.value)


def test_duplicate_names_in_a_batch_are_rejected(tmp_path):
    write(tmp_path, "a.yaml", MINIMAL)
    write(tmp_path, "b.yaml", MINIMAL)
    with pytest.raises(SpecError, match="also used by"):
        load_specs(tmp_path)


def test_exponent_without_dot_is_a_number(tmp_path):
    sun = "environment:\n  sun: {elevation_deg: 30, illuminance_lux: 1e5}\n"
    spec = load_spec(write(tmp_path, "a.yaml", MINIMAL + sun))
    assert spec.environment.sun.illuminance_lux == 100000.0
    with pytest.raises(SpecError, match="must be a number"):  # a quoted string stays a string
        load_spec(write(tmp_path, "b.yaml", MINIMAL.replace("ev100: 12", "ev100: '1e1'")))


def test_spec_hash_tracks_content_not_location(tmp_path):
    a = load_spec(write(tmp_path, "a.yaml", MINIMAL))
    (tmp_path / "sub").mkdir()
    b = load_spec(write(tmp_path / "sub", "b.yaml", "# a comment\n" + MINIMAL))
    c = load_spec(write(tmp_path, "c.yaml", MINIMAL.replace("ev100: 12", "ev100: 13")))
    assert len(spec_hash(a)) == 64
    assert spec_hash(a) == spec_hash(b) != spec_hash(c)
    assert make_plan(a).spec_hash == spec_hash(a)


RANDOM = MINIMAL + """\
actors:
  - kind: pedestrian
    path: [[5, -2, 0], [5, 2, 0]]
    speed_mps: {uniform: [1.0, 2.0]}
    scale: {normal: [1.0, 0.5]}
    color: {choice: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    start_frame: {uniform: [0, 3]}
"""


def test_randomisation_is_validated_but_left_unresolved(tmp_path):
    spec = load_spec(write(tmp_path, "r.yaml", RANDOM))
    a = spec.actors[0]
    assert a.speed_mps == Uniform(1.0, 2.0)
    assert isinstance(a.scale, Normal) and a.scale.lo == 0.0  # clamped to the valid range
    assert isinstance(a.color, Choice) and len(a.color.options) == 3
    assert a.start_frame == Uniform(0, 3, integer=True)


def test_resolve_is_deterministic_and_in_range(tmp_path):
    spec = load_spec(write(tmp_path, "r.yaml", RANDOM))
    draws = [resolve(spec, seed).actors[0] for seed in range(40)]
    assert resolve(spec, 5) == resolve(spec, 5)
    for a in draws:
        assert not any(is_random(v) for v in (a.speed_mps, a.scale, a.color, a.start_frame))
        assert 1.0 <= a.speed_mps <= 2.0 and a.scale > 0
        assert a.color in ((1, 0, 0), (0, 1, 0), (0, 0, 1))
        assert isinstance(a.start_frame, int) and 0 <= a.start_frame <= 3
    assert len({a.speed_mps for a in draws}) == 40
    assert len({a.color for a in draws}) == 3 and len({a.start_frame for a in draws}) == 4
    assert 1.3 < sum(a.speed_mps for a in draws) / 40 < 1.7


def test_a_fields_draw_does_not_depend_on_other_random_fields(tmp_path):
    one = load_spec(write(tmp_path, "a.yaml", RANDOM))
    more = load_spec(write(tmp_path, "b.yaml", RANDOM.replace(
        "exposure: {ev100: 12}", "exposure: {ev100: {uniform: [10, 14]}}")))
    for seed in (1, 2, 3):
        assert resolve(one, seed).actors == resolve(more, seed).actors


def test_resolved_values_are_checked_again(tmp_path):
    # look_at is drawn onto the camera position for some seeds -> a SpecError at look_at
    text = MINIMAL.replace("look_at: [10, 0, 1.5]",
                           "look_at: {choice: [[0, 0, 1.6], [10, 0, 1.5]]}")
    spec = load_spec(write(tmp_path, "a.yaml", text))
    outcomes = set()
    for seed in range(12):
        try:
            make_plan(spec, seed=seed)
            outcomes.add("ok")
        except SpecError as exc:
            assert f"{tmp_path / 'a.yaml'}:3:" in str(exc) and "look_at" in str(exc)
            outcomes.add("error")
    assert outcomes == {"ok", "error"}


def test_spec_with_random_values_plans_with_its_own_seed_by_default():
    spec = next(s for s in load_specs(SPECS) if s.name == "park_dusk_dogs")
    assert is_random(spec.actors[0].speed_mps)
    plan = make_plan(spec)
    assert plan.seed == spec.seed
    assert math.isfinite(plan.actors[0].speed_mps) and 2.5 <= plan.actors[0].speed_mps <= 3.2
    assert make_plan(spec, seed=spec.seed + 1).actors[0].speed_mps != plan.actors[0].speed_mps


def test_anchors_and_merge_keys_let_specs_reuse_blocks(tmp_path):
    text = MINIMAL + """\
actors:
  - &walker {kind: pedestrian, path: [[5, 0, 0], [5, 3, 0]], speed_mps: 1.3,
             unreal: {mesh: /Game/P/SK_A}}
  - {<<: *walker, path: [[6, 0, 0], [7, 0, 0]], speed_mps: 2.0}
"""
    spec = load_spec(write(tmp_path, "a.yaml", text))
    first, second = spec.actors
    assert first.speed_mps == 1.3 and second.speed_mps == 2.0  # own keys override merged ones
    assert second.unreal.mesh == "/Game/P/SK_A" and second.path[0] == (6.0, 0.0, 0.0)


def test_validate_spec_cli_on_shipped_specs(capsys):
    from pipeline.cli import main

    main(["validate-spec", str(SPECS), "--seed", "2"])  # returns normally: exit status 0
    out = capsys.readouterr().out.splitlines()
    oks = [line for line in out if line.startswith("OK ")]
    assert len(oks) == len(load_specs(SPECS)) and out[-1].endswith("spec(s) valid")
    assert not any("_defaults" in line for line in oks)


def test_unreal_use_level_lighting_flag_reaches_the_plan(tmp_path):
    base = MINIMAL + "environment: {unreal: {level: /Game/Maps/Street%s}}\n"
    plain = make_plan(load_spec(write(tmp_path, "a.yaml", base % "")))
    assert plain.environment.backends["unreal"] == {"level": "/Game/Maps/Street"}
    kept = make_plan(load_spec(write(tmp_path, "b.yaml",
                                     base % ", use_level_lighting: true")))
    assert kept.environment.backends["unreal"]["use_level_lighting"] is True
    with pytest.raises(SpecError, match="use_level_lighting must be true or false"):
        load_spec(write(tmp_path, "c.yaml", base % ", use_level_lighting: 3"))


def test_every_spec_field_is_documented_in_scene_spec_md():
    """docs/scene-spec.md must name every key a spec accepts (issue: every field documented)."""
    import dataclasses
    import re

    from pipeline import spec as S

    text = (Path(__file__).resolve().parents[1] / "docs" / "scene-spec.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # examples are not the reference
    doc = {w for span in re.findall(r"`([^`]+)`", text) for w in re.findall(r"\w+", span)}
    internal = {"source", "locations", "dist", "lo", "hi", "mu", "sigma", "options", "integer",
                "lo_open"}
    missing, todo, seen = set(), [S.SceneSpec], set()
    while todo:  # every section reachable from the top level, from the declarations
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for f in dataclasses.fields(cls):
            if f.name not in internal and f.name not in doc:
                missing.add(f"{cls.__name__}.{f.name}")
            conv = f.metadata.get("conv")
            for c in (conv, getattr(conv, "__closure__", None) and
                      [cell.cell_contents for cell in conv.__closure__]):
                for item in (c if isinstance(c, list) else [c]):
                    sub = getattr(item, "section", None)
                    if sub is not None:
                        todo.append(sub)
    assert len(seen) >= 22, sorted(c.__name__ for c in seen)
    assert not missing, f"undocumented spec fields: {sorted(missing)}"
