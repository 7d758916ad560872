"""The self-test's host-side analysis on synthetic calibration frames, and its verdict.

The frames are what the calibration plan predicts (tests/helpers/selftest_frames.py: HALF,
anti-aliased card edges); each fault is a known transform of them. Nothing ran in Unreal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import unreal_calibration as cal
from pipeline.backends import unreal_selftest as st
from pipeline.errors import RenderError
from tests.helpers import selftest_frames as sf


@pytest.fixture(scope="module")
def frames():
    return sf.render()


def test_calibration_plan_covers_minus_six_to_plus_six_ev_and_fits_the_frame():
    plan = cal.calibration_plan()
    targets = cal.targets()
    pixels = sorted(t.luminance * plan.exposure.scale for t in targets if t.kind == "emitter")
    assert pixels == [2.0 ** k for k in range(-6, 7)]
    assert plan.exposure.scale == 2.0 ** -cal.EV100  # the plan's convention: 2^-EV100
    w, h = plan.render.resolution
    rects = [cal.pixel_rect(plan, t) for t in targets]
    for u0, v0, u1, v1 in rects:
        assert 0 < u0 < u1 < w and 0 < v0 < v1 < h and u1 - u0 > 15  # >= 15 px per card
    for a in rects:  # cards never overlap, with a gap for the halo ring
        for b in rects:
            if a is not b:
                assert a[2] + 12 < b[0] or b[2] + 12 < a[0] or a[3] + 12 < b[1] or \
                    b[3] + 12 < a[1]
    sun = next(t for t in targets if t.kind == "sun_card")
    s = cal.sun().direction()
    assert sun.luminance == pytest.approx(cal.SUN_LUX * 0.8 * -s[0] / math.pi)
    assert plan.environment.backends["unreal"]["sky_light"] is False


def test_linear_frames_pass(frames):
    a = st.analyze(frames)
    assert a.ok, a.line()
    assert a.checks["slope"] == pytest.approx(1.0, abs=1e-3)
    assert a.checks["median_ratio"] == pytest.approx(1.0, abs=1e-3)


def _fails(frames, match):
    a = st.analyze(frames)
    assert not a.ok
    line = a.line()
    assert "\n" not in line and match in line, line
    return a


def test_a_tone_curve_fails_on_the_slope(frames):
    a = _fails([f / (1.0 + f) for f in frames], "log-log slope")
    assert a.checks["slope"] < 0.98


def test_a_1_2x_exposure_error_fails_on_the_scale(frames):
    a = _fails([f / 1.2 for f in frames], "pixels are 0.833 x L x scale (-0.26 EV)")
    assert "slope" not in a.line()  # still linear: only the scale is off


def test_depth_of_field_blur_fails_on_the_halo(frames):
    _fails([sf.blur(f, 3.0) for f in frames], "depth of field")


def test_clipping_below_half_max_fails(frames):
    a = _fails([np.minimum(f, 4.0) for f in frames], "clipped at 4")
    assert "slope" not in a.line()  # the clipped cards are left out of the fit
    _fails([np.minimum(f, 40.0) for f in frames], "emitter_+6 should read 64")


def test_non_finite_frames_and_drift_fail(frames):
    _fails([np.where(f > 60, np.inf, f) for f in frames], "non-finite")
    _fails([f * (1.0 + 0.03 * i) for i, f in enumerate(frames)], "between frames")


def test_wrong_sun_fails_only_the_sun_card(frames):
    plan = cal.calibration_plan()
    rows, cols = st._pixels(plan, next(t for t in cal.targets() if t.id == "sun_card"), 1.2)
    dim = [f.copy() for f in frames]
    for f in dim:
        f[rows, cols] *= 0.7
    a = _fails(dim, "sun-lit card reads 0.700")
    assert len(a.reasons) == 1


def test_verdict_required_for_this_plugin_and_editor(tmp_path):
    project = tmp_path / "P" / "P.uproject"
    project.parent.mkdir()
    project.write_text("{}")
    with pytest.raises(RenderError, match=r"no Unreal linearity self-test verdict"):
        st.require_verdict(project, editor="/e", plugin_digest="d1")
    bad = st.Analysis(False, ["log-log slope 0.5"])
    st.write_verdict(project, bad, editor="/e", engine_version="5.6", plugin_digest="d1",
                     source="x")
    with pytest.raises(RenderError, match=r"self-test failed: log-log slope 0.5"):
        st.require_verdict(project, editor="/e", plugin_digest="d1")
    st.write_verdict(project, st.Analysis(True), editor="/e", engine_version="5.6",
                     plugin_digest="d1", source="x")
    assert st.require_verdict(project, editor="/e", plugin_digest="d1")["ok"] is True
    with pytest.raises(RenderError, match=r"another version of the S2RHDR plugin"):
        st.require_verdict(project, editor="/e", plugin_digest="d2")
    with pytest.raises(RenderError, match=r"ran with /e, not /other"):
        st.require_verdict(project, editor="/other", plugin_digest="d1")
