"""``batch --profile s2rhdr``: the release's shape (24 frames, 1920x1080) before planning."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.batch import load_plans
from pipeline.errors import S2RError
from pipeline.profiles import parse_resolution

SPEC = Path(__file__).resolve().parents[1] / "scene_specs" / "street_day_walk.yaml"


def test_s2rhdr_profile_plans_24_frames_at_1080p_and_changes_the_spec_hash():
    plain = load_plans([SPEC])[0]
    shaped = load_plans([SPEC], profile="s2rhdr")[0]
    assert (shaped.frames, shaped.render.resolution) == (24, (1920, 1080))
    assert len(shaped.output_frames()) == 24
    assert shaped.spec_hash != plain.spec_hash  # a profiled shot is not the plain shot
    tiny = load_plans([SPEC], profile="s2rhdr", resolution=(64, 36))[0]
    assert (tiny.frames, tiny.render.resolution) == (24, (64, 36))
    # the camera intrinsics follow the resolution (principal point at the centre)
    assert tiny.camera.K[0][2] == 32.0 and tiny.camera.K[1][2] == 18.0


def test_bad_profile_and_resolution_are_one_line_errors():
    with pytest.raises(S2RError, match="unknown profile 'kitti'"):
        load_plans([SPEC], profile="kitti")
    with pytest.raises(S2RError, match="not WIDTHxHEIGHT"):
        parse_resolution("1920by1080")
    assert parse_resolution("320x180") == (320, 180)
