"""User meshes: confined paths checked before rendering, glTF placed where the plan says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends import mitsuba as mb
from pipeline.batch import load_plans
from pipeline.errors import SpecError
from pipeline.geometry import project
from pipeline.spec import load_spec
from s2rhdr_loader.core import exr, layout
from tests.helpers.mitsuba_plans import make_plan

trimesh = pytest.importorskip("trimesh")

BASE = """\
name: props
frames: 2
camera: {path: [[0, 0, 1.6]], look_at: [10, 0, 1]}
exposure: {ev100: 12}
environment:
  mitsuba:
    preset: none
    props:
      - {mesh: %s, position: [8, 0, 0]}
"""


def _box_glb(path: Path, size=(0.6, 1.5, 0.4), lift: float = 0.75) -> Path:
    """A box in glTF axes (+Y up): tall along Y, lifted so it stands on the ground."""
    box = trimesh.creation.box(extents=size)
    box.apply_translation((0.0, lift, 0.0))
    box.export(path)
    return path


@pytest.mark.parametrize("mesh, fragment", [
    ("missing.glb", "mesh file"),
    ("../outside.obj", "outside the spec's folder"),
    ("junk.ply", "is not a valid ply file"),
    ("model.fbx", "must be a .ply / .obj / .gltf / .glb file"),
])
def test_bad_asset_fails_at_load_with_file_and_line(tmp_path, mesh, fragment):
    folder = tmp_path / "specs"
    folder.mkdir()
    (tmp_path / "outside.obj").write_text("v 0 0 0\n")
    (folder / "junk.ply").write_bytes(b"\x00\x01garbage")
    spec = folder / "s.yaml"
    spec.write_text(BASE % mesh)
    with pytest.raises(SpecError) as err:
        load_plans([str(spec)])  # what the batch calls before any rendering
    assert str(err.value).startswith(f"{spec}:9:") and fragment in str(err.value)


def test_asset_root_allows_a_shared_folder(tmp_path, monkeypatch):
    shared = tmp_path / "assets"
    shared.mkdir()
    _box_glb(shared / "box.glb")
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "s.yaml"
    spec.write_text(BASE % "../assets/box.glb")
    with pytest.raises(SpecError, match="outside the spec's folder"):
        load_spec(spec)
    monkeypatch.setenv("S2RHDR_ASSET_ROOT", str(shared))
    assert load_spec(spec).environment.mitsuba.props[0].mesh == "../assets/box.glb"


def test_gltf_actor_renders_where_the_plan_says(tmp_path):
    glb = _box_glb(tmp_path / "box.glb")
    locs = [(8.0, 1.0, 0.0), (8.0, 1.3, 0.0)]
    plan = make_plan("glb", frames=2, size=(64, 48), spp=4, actors=[("pedestrian", locs)],
                     target=(8.0, 0.0, 0.8), passes=("img", "mask"), preset="street")
    actor = dataclasses.replace(plan.actors[0], backends={"mitsuba": {"mesh": str(glb)}})
    plan = dataclasses.replace(plan, actors=(actor,))
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    for i in (0, 1):
        mask = exr.read_exr(layout.frame_path(tmp_path / "out", "mask", i))[..., 0] == 1
        cp = layout.read_json(layout.camera_params_path(tmp_path / "out", i))
        x, y, _ = plan.frame(i).actors[0].location
        u, v, _ = project(cp["K"], cp["world_to_camera"], (x, y, 0.75))  # box centre
        ys, xs = np.nonzero(mask)
        assert abs(xs.mean() + 0.5 - u) < 1.0 and abs(ys.mean() + 0.5 - v) < 1.0
        assert np.ptp(ys) > 2 * np.ptp(xs)  # glTF +Y is up: the box stands upright


def test_textured_gltf_keeps_its_texture_the_right_way_up(tmp_path):
    from PIL import Image

    quad = trimesh.Trimesh(vertices=[[-1, 0, 0], [1, 0, 0], [1, 2, 0], [-1, 2, 0]],
                           faces=[[0, 1, 2], [0, 2, 3]], process=False)
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:4] = (255, 0, 0)  # top half red
    tex[4:] = (0, 0, 255)  # bottom half blue
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)  # glTF-as-trimesh: v up
    quad.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(tex))
    quad.export(tmp_path / "quad.glb")
    plan = make_plan("tex", frames=1, size=(48, 48), spp=8, preset="none", sun=None,
                     sky=3000.0, target=(5.0, 0.0, 1.0), cam_path=[(0.0, 0.0, 1.0)],
                     passes=("img",), pixel_type="float",
                     mitsuba={"props": [{"mesh": str(tmp_path / "quad.glb"),
                                         "position": (5.0, 0.0, 0.0), "rotation": (0, 0, 180.0),
                                         "scale": 1.0, "color": None, "material": "diffuse"}]})
    mb.render(plan, tmp_path / "out", quality="final", verbose=False)
    img = exr.read_exr(layout.frame_path(tmp_path / "out", "img", 0))
    top, bottom = img[19:23, 21:27].mean(axis=(0, 1)), img[25:29, 21:27].mean(axis=(0, 1))
    assert top[0] > 3 * top[2] and bottom[2] > 3 * bottom[0]
