"""Facts of the official S2R-HDR release's code that our exports must match.

Read from OpenImagingLab/S2R-HDR at commit 9020499 (reference/s2rhdr-format.md sections 1-4),
never copied:

* ``preprocess_s2r_hdr_data.py::create_hdr_data_pyexr`` reads ``<scene>/img/HDR/{i:04d}.exr``
  for ``i in range(3, 3 + 24)`` with ``cv2.imread(path, -1)`` (BGR -> RGB, clipped at 0) and
  takes every *folder* of the root for a scene (``os.listdir`` minus ``os.path.isfile``).
* ``create_scene_list`` writes ``trainlist.txt``: one name per line, no trailing newline.
* ``dataset/dataset_render.py::RenderFlowDataset`` reads ``trainlist.txt`` (``task="train"``)
  or ``testlist.txt`` (any other task) with ``f.read().splitlines()``, each line a folder of
  its root holding ``img/0000.exr ... img/0023.exr`` (24 frames, ``self.frames = 24``).
* ``crop_dataset_pyexr`` names patches with a quirk, see :func:`patch_grid`.

Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from s2rhdr_loader.core.atomic import atomic_write_text
from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.core.layout import LayoutError

FIRST_FRAME = 3  # ``begin_frame = 3`` of the preprocessing script
FRAMES = 24  # ``end_frame = 3 + 24``; RenderFlowDataset's ``self.frames``
TRAINLIST, VALLIST, TESTLIST = "trainlist.txt", "vallist.txt", "testlist.txt"
# our split -> the list file; the release reads only trainlist (train) and testlist (val/test)
LIST_FILES = {"train": TRAINLIST, "val": VALLIST, "test": TESTLIST}
PATCH_NAMINGS = ("release", "grid")


def raw_frame_name(i: int) -> str:
    """File name of frame ``i`` (0-based) in the release's raw form: 0 -> ``0003.exr``."""
    return f"{FIRST_FRAME + i:04d}.exr"


def write_list(path: str | os.PathLike, names: Iterable[str]) -> Path:
    """A scene list as ``create_scene_list`` writes it: ``\\n``-separated, no trailing newline."""
    names = list(names)
    bad = [n for n in names if not n or "\n" in n or "\r" in n]
    if bad:
        raise LayoutError(f"{path}: scene names must be non-empty single lines, got {bad[:3]}")
    return atomic_write_text(Path(path), "\n".join(names))


def read_list(path: str | os.PathLike) -> list[str]:
    """A scene list as ``RenderFlowDataset`` reads it (``f.read().splitlines()``)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LayoutError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: unreadable scene list ({exc})") from None


def patch_grid(height: int, width: int, patch: int = 640, stride: int = 512,
               naming: str = "release") -> list[tuple[str, int, int]]:
    """``(name suffix, x, y)`` of the release's patches, in the order its loops make them.

    ``crop_dataset_pyexr`` loops x over ``range(0, W, stride)``, y over ``range(0, H,
    stride)``, skips a corner when ``x + 256 > W or y + 256 > H`` (256 = stride / 2 at its
    stride 512; we use ``stride // 2``), names the folder ``<scene>_<x>_<y>``, and only *then*
    clamps ``x`` to ``W - patch`` and ``y`` to ``H - patch``. Quirk: the clamped ``x`` is
    assigned to the outer loop variable, so it carries into the following ``y`` steps, both in
    the next name and in the skip test. At 1920x1080 that gives ``_1536_0`` (crop x=1280) then
    ``_1280_512`` (crop x=1280, y=440). ``naming="release"`` (default) reproduces this, so our
    folder names equal the release's and a ``trainlist.txt`` made by either matches the other's
    files; ``naming="grid"`` names every patch by its un-clamped grid corner (``_1536_512``).
    The crops themselves are the same either way. Should two corners get one name, the later
    crop is kept under it, as the release overwrites the folder.
    """
    if naming not in PATCH_NAMINGS:
        raise OptionError(f"patch naming must be one of {PATCH_NAMINGS}, got {naming!r}")
    if height < patch or width < patch:
        raise OptionError(f"frame {width}x{height} is smaller than the {patch}px patch "
                          "(use --patch-size)")
    margin = stride // 2
    out: dict[str, tuple[int, int]] = {}
    for gx in range(0, width, stride):
        x = gx  # the release's loop variable, clamped in place below
        for gy in range(0, height, stride):
            if x + margin > width or gy + margin > height:
                continue
            name = f"{x}_{gy}" if naming == "release" else f"{gx}_{gy}"
            if x + patch > width:
                x = width - patch
            y = height - patch if gy + patch > height else gy
            out[name] = (x, y)
            if naming == "grid":
                x = gx
    return [(name, x, y) for name, (x, y) in out.items()]
