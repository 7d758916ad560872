"""The shipped specs render what HDR fusion needs: highlights above the reference exposure.

Every daylight spec (a sun above the horizon, or a zenith sky of at least 1000 cd/m^2) must
have more than 0.5 % of its reference-exposure pixels above 1.0 (diffuse white is ~0.2-0.9
there, so these are sun, sky and specular highlights). Rendered tiny and at few samples:
the fraction of bright pixels is a property of the scene, not of the resolution.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline import envmaps
from pipeline.backends import mitsuba as mb
from pipeline.plan import make_plan
from pipeline.spec import load_specs
from s2rhdr_loader.core import exr, layout

SPECS = Path(__file__).resolve().parents[1] / "scene_specs"
SIZE, SPP = (96, 54), 4


def is_daylight(plan) -> bool:
    sun = plan.environment.sun
    return (sun is not None and sun.elevation_deg > 0) or plan.environment.sky.luminance >= 1000


def tiny(plan, size=SIZE, spp=SPP):
    """Frame 0 only, img only, ``size`` pixels (K scaled), ``spp`` samples."""
    w, h = size
    k = w / plan.render.resolution[0]
    kk = tuple(tuple(v * (k if i < 2 else 1.0) for v in row) for i, row in enumerate(plan.camera.K))
    return dataclasses.replace(
        plan, frames=1, warmup_frames=0, timeline=(plan.frame(0),),
        camera=dataclasses.replace(plan.camera, K=kk),
        render=dataclasses.replace(plan.render, resolution=(w, h), passes=("img",),
                                   exr_pixel_type="float", quality={"mitsuba": {"spp": spp}}))


DAYLIGHT = [s for s in load_specs(SPECS) if is_daylight(make_plan(s))]


def test_there_are_daylight_and_envmap_specs():
    assert len(DAYLIGHT) >= 8
    maps = [s for s in load_specs(SPECS) if s.environment.mitsuba.envmap is not None]
    assert len(maps) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("spec", DAYLIGHT, ids=lambda s: s.name)
def test_daylight_spec_has_highlights_above_reference_exposure(spec, tmp_path):
    m = spec.environment.mitsuba
    if m.envmap is not None and envmaps.find_named(m.envmap.map) is None:
        pytest.skip(f"environment map {m.envmap.map!r} not installed (make envmaps)")
    # spp forced: the highlights are what is tested here, not the indoor adaptive stop
    mb.render(tiny(make_plan(spec)), tmp_path, quality="final", options={"spp": SPP},
              verbose=False)
    img = exr.read_exr(layout.frame_path(tmp_path, "img", 0))
    bright = float((img.max(axis=-1) > 1.0).mean())
    assert bright > 0.005, f"{spec.name}: only {100 * bright:.2f}% of pixels above 1.0"
