"""A reader that behaves as the official S2R-HDR release's code does (a helper: no tests here).

Written from the release's documented behaviour (OpenImagingLab/S2R-HDR@9020499,
reference/s2rhdr-format.md sections 1-4), not from our layout code, and run in its own process
because OpenCV reads EXR only when ``OPENCV_IO_ENABLE_OPENEXR`` is set before ``import cv2``:

* raw roots (``preprocess_s2r_hdr_data.py``): every folder of the root (``os.listdir`` minus
  files) is a scene; frames ``<scene>/img/HDR/{i:04d}.exr`` for ``i in range(3, 3 + 24)``
  read with ``cv2.imread(path, -1)``, BGR -> RGB, clipped at 0 (its ``read_hdr``); the
  commented-out ``read_flow`` reads ``flow/HDR/NNNN.exr`` with ``IMREAD_ANYDEPTH |
  IMREAD_COLOR``, BGR -> RGB, float64;
* processed roots (``dataset_render.py::RenderFlowDataset``): the scenes of ``trainlist.txt``
  and ``testlist.txt`` (``f.read().splitlines()``), each ``<entry>/img/0000..0023.exr``.

Usage: ``python release_reader.py raw|processed ROOT OUT.npz``; arrays are saved under
``<scene>/<pass>/<i>`` and the scene list under ``__scenes__`` / ``__<listfile>__``.
"""

from __future__ import annotations

import os
import sys

os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"  # before cv2 is imported, as the release does

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def read_hdr(path: str) -> np.ndarray:
    img = cv2.imread(path, -1)
    if img is None:
        raise SystemExit(f"cv2.imread returned None for {path}")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.clip(img, 0.0, float("inf"))


def read_any(path: str, flags: int) -> np.ndarray:
    img = cv2.imread(path, flags)
    if img is None:
        raise SystemExit(f"cv2.imread returned None for {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else img


def raw(root: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    scenes = [s for s in os.listdir(root) if not os.path.isfile(os.path.join(root, s))]
    out["__scenes__"] = np.array(sorted(scenes))
    for scene in scenes:
        d = os.path.join(root, scene)
        for i in range(3, 3 + 24):
            out[f"{scene}/img/{i}"] = read_hdr(os.path.join(d, "img", "HDR", f"{i:04d}.exr"))
            flow = os.path.join(d, "flow", "HDR", f"{i:04d}.exr")
            if os.path.isfile(flow):  # read_flow: ANYDEPTH | COLOR, BGR -> RGB, float64
                out[f"{scene}/flow/{i}"] = read_any(
                    flow, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR).astype(np.float64)
            for name in ("depth", "normal", "diffuse", "mask"):
                p = os.path.join(d, name, "HDR", f"{i:04d}.exr")
                if os.path.isfile(p):
                    out[f"{scene}/{name}/{i}"] = read_any(p, -1)
    for name in ("trainlist.txt", "testlist.txt"):
        p = os.path.join(root, name)
        if os.path.isfile(p):
            with open(p) as f:
                text = f.read()
            out[f"__{name}__"] = np.array(text.splitlines())
            out[f"__{name}_trailing_newline__"] = np.array(text.endswith("\n"))
    return out


def processed(root: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in ("trainlist.txt", "testlist.txt"):
        p = os.path.join(root, name)
        if not os.path.isfile(p):
            continue
        with open(p) as f:
            entries = f.read().splitlines()
        out[f"__{name}__"] = np.array(entries)
        for entry in entries:
            for i in range(24):
                out[f"{entry}/img/{i}"] = read_hdr(os.path.join(root, entry, "img",
                                                                f"{i:04d}.exr"))
    return out


if __name__ == "__main__":
    mode, root, dest = sys.argv[1:4]
    np.savez(dest, **(raw(root) if mode == "raw" else processed(root)))
