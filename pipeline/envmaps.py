"""Named HDR environment maps: where they are found, their licence and default calibration.

The default set is the eight CC0 HDRIs by Greg Zaal (HDRI Haven, now Poly Haven) that
Debian's ``blender-data`` package installs under
``/usr/share/blender/datafiles/studiolights/world/`` (1024x512 OpenEXR; ``license.txt``
there: "All HDRIs are licenses as CC0"). Their pixel values are relative (camera exposure
unknown), so each named map gets a *photometric* calibration: the horizontal illuminance of
the map without its sun (typical values for the scene type: clear-sky diffuse 15 klux at a
48 deg sun, lit interiors 500 lux, lit streets at night 10 lux; CIE/IES handbook orders of
magnitude). Suns are *extracted* from the maps where they are real suns, because at 1024x512
the maps' suns are clipped: the measured direct/diffuse ratio of ``city`` is 0.56 where a clear
day has ~5. The extracted sun gets the clear-sky illuminance of its elevation
(``pipeline.plan.sun_illuminance_lux``, Kasten-Young air mass).

Standard library only (the spec validator imports the names; vendored into Unreal).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "S2RHDR_ENVMAP_PATH"  # extra folders (os.pathsep-separated) searched first
SYSTEM_DIRS = ("/usr/share/blender/datafiles/studiolights/world",)
SUFFIXES = (".exr", ".hdr")
LICENCE = "CC0 1.0 (Greg Zaal, HDRI Haven; Debian package blender-data)"


@dataclass(frozen=True)
class NamedMap:
    name: str
    illuminance_lux: float  # horizontal illuminance of the map without its sun
    sun: str  # extract (a real sun: replaced by a 0.53 deg disk) | keep (left in the map)
    scene: str  # what it shows (dataset card)


NAMED = {m.name: m for m in (
    NamedMap("city", 15000.0, "extract", "sunny city square, sun at 48 deg"),
    NamedMap("courtyard", 12000.0, "keep", "courtyard in soft daylight"),
    NamedMap("forest", 15000.0, "keep", "forest with sun through the canopy"),
    NamedMap("interior", 500.0, "keep", "lit interior with windows"),
    NamedMap("night", 10.0, "keep", "street at night under lamps"),
    NamedMap("studio", 1000.0, "keep", "photo studio with softboxes"),
    NamedMap("sunrise", 5000.0, "extract", "open land at sunrise, sun at 8 deg"),
    NamedMap("sunset", 2500.0, "extract", "open land at sunset, sun at 3 deg"),
)}


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return extra + [Path(p) for p in SYSTEM_DIRS]


def find_named(name: str) -> Path | None:
    """The file of a named map, or None when no search folder has it."""
    for folder in search_dirs():
        for suffix in SUFFIXES:
            path = folder / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


def is_named(value: str) -> bool:
    return value in NAMED
