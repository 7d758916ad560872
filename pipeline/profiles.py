"""Dataset profiles: one flag that makes every shot of a batch what a known consumer expects.

``s2rhdr``: the official S2R-HDR release's shape -- 24 output frames per sequence at
1920x1080 (its training code, ``dataset_render.py``, samples frames from 24-frame sequences, and
its preprocessing reads ``img/HDR/0003.exr .. 0026.exr``; ``s2rhdr-loader export-official``
writes that naming). A profile overrides the spec *before* planning, so the camera path, shake
and actor motion are planned for the profile's frame count, and the spec hash (hence the
manifest's "is this shot complete?" check) changes with it.

Standard library only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pipeline.errors import S2RError
from pipeline.spec import SceneSpec


@dataclass(frozen=True)
class Profile:
    name: str
    frames: int
    resolution: tuple[int, int]  # width, height
    description: str


PROFILES: dict[str, Profile] = {
    "s2rhdr": Profile("s2rhdr", 24, (1920, 1080),
                      "the official S2R-HDR release: 24 frames at 1920x1080"),
}


def parse_resolution(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> ``(1920, 1080)``; a one-line error otherwise."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise S2RError(f"resolution {text!r} is not WIDTHxHEIGHT", hint="e.g. 1920x1080") \
            from None
    if not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise S2RError(f"resolution {text!r} outside 1..16384", hint="e.g. 1920x1080")
    return w, h


def apply_profile(spec: SceneSpec, profile: str | None = None,
                  resolution: tuple[int, int] | None = None) -> SceneSpec:
    """``spec`` with the profile's frame count and resolution; ``resolution`` overrides both
    (a tiny render of a release-shaped dataset for a test or a preview)."""
    if profile is None and resolution is None:
        return spec
    out = spec
    if profile is not None:
        p = PROFILES.get(profile)
        if p is None:
            raise S2RError(f"unknown profile {profile!r}",
                           hint=f"use one of {', '.join(sorted(PROFILES))}")
        out = dataclasses.replace(out, frames=p.frames,
                                  render=dataclasses.replace(out.render, resolution=p.resolution))
    if resolution is not None:
        out = dataclasses.replace(out, render=dataclasses.replace(out.render,
                                                                  resolution=tuple(resolution)))
    return out
