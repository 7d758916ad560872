"""The adaptive stop of indoor presets: its noise estimate and where it stops.

The estimator is checked against images whose noise we set (Gaussian, relative sigma
``c / sqrt(spp)``, the law of a Monte-Carlo mean), and on a real render against an
independent measurement: a second render with other seeds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.backends import mitsuba as mb
from pipeline.backends.mitsuba_sampling import Sampling, frame_noise, render_image, sampling_for
from pipeline.plan_model import SunPlan
from s2rhdr_loader.core import exr, layout
from tests.helpers.mitsuba_plans import make_plan

LUMA = np.array([0.2126, 0.7152, 0.0722])


def fake_renderer(c: float, shape=(64, 96), calls: list | None = None):
    """A scene with a smooth image and relative noise c / sqrt(spp) per pixel."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    truth = (0.2 + 0.8 * xs / shape[1] + 0.3 * ys / shape[0])[..., None].repeat(3, axis=2)

    def render(spp: int, seed: int) -> np.ndarray:
        if calls is not None:
            calls.append((spp, seed))
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(shape)[..., None] * c / np.sqrt(spp)
        return (truth * (1 + noise)).astype(np.float32)

    return render, truth


@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.3])
def test_two_buffer_estimate_recovers_the_per_pixel_noise(sigma):
    render, _ = fake_renderer(sigma)
    a, b = render(1, 1), render(1, 2)
    # the average of two buffers of relative sigma s has relative sigma s / sqrt(2)
    assert frame_noise(a, b) == pytest.approx(sigma / np.sqrt(2), rel=0.15)


def test_adaptive_stop_ends_at_the_first_doubling_that_meets_the_target():
    calls: list = []
    render, truth = fake_renderer(0.3, calls=calls)  # relative noise 0.3 / sqrt(spp)
    img, spp, noise = render_image(render, Sampling(16, 1024, 0.05), seed=7)
    # 0.3 / sqrt(32) = 0.053 > 0.05 >= 0.3 / sqrt(64) = 0.0375: stop at 64
    assert spp == 64
    assert sum(n for n, _ in calls) == 64  # no sample is thrown away
    assert len({s for _, s in calls}) == len(calls)  # every round has its own seed
    assert noise <= 0.05
    measured = np.std(img[..., 1] / truth[..., 1] - 1)
    assert measured == pytest.approx(0.3 / np.sqrt(64), rel=0.1)


def test_adaptive_stop_respects_the_cap_and_fixed_sampling_is_one_render():
    calls: list = []
    render, _ = fake_renderer(3.0, calls=calls)
    _, spp, noise = render_image(render, Sampling(16, 128, 0.01), seed=1)
    assert spp == 128 and noise > 0.01
    calls.clear()
    _, spp, noise = render_image(render, Sampling(16, 16, None), seed=1)
    assert (spp, noise, calls) == (16, None, [(16, 1)])


def test_only_indoor_default_and_final_are_adaptive_and_forced_spp_is_fixed():
    assert sampling_for(64, "default", True, False).adaptive
    assert sampling_for(64, "final", True, False).max_spp == 1024
    assert not sampling_for(16, "preview", True, False).adaptive
    assert not sampling_for(16, "default", False, False).adaptive
    assert not sampling_for(64, "default", True, True).adaptive


def test_sunlit_room_render_stops_where_an_independent_render_agrees(tmp_path):
    plan = make_plan("room", frames=1, size=(48, 32), spp=8, preset="interior",
                     sun=SunPlan(35.0, -70.0, 80000.0, visible=False), sky=6000.0,
                     cam_path=[(-5.0, 3.0, 1.5)], target=(12.0, -3.0, 1.0),
                     passes=("img",), pixel_type="float")
    mb.render(plan, tmp_path / "a", quality="default", verbose=False)
    meta = layout.read_json(tmp_path / "a" / "meta.json")
    s = meta["sampling"]
    assert s["adaptive"] and s["first_spp"] == 8 and s["max_spp"] == 64
    spp = s["spp_per_frame"]["0000"]
    assert spp > 8 and meta["spp"] == spp  # this room needs more than its first round
    # independent check: the same frame with other seeds at the same fixed spp
    mb.render(dataclasses.replace(plan, seed=plan.seed + 1), tmp_path / "b", quality="default",
              options={"spp": spp}, verbose=False)
    a = exr.read_exr(layout.frame_path(tmp_path / "a", "img", 0))
    b = exr.read_exr(layout.frame_path(tmp_path / "b", "img", 0))
    # relative noise of one image = frame_noise(a, b) * sqrt(2); the estimate within 35 %
    independent = frame_noise(a, b) * np.sqrt(2)
    assert independent == pytest.approx(s["noise_per_frame"]["0000"], rel=0.35)
