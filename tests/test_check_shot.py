"""check_shot: the one verdict "complete and linear" (batch and Unreal host: quick mode;
``s2rhdr-render validate``: full mode). Each defect class fails quick mode with a message
that names the file and the defect."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.validate import ValidateOptions, check_shot, validate_dataset
from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.core.exr import write_exr
from tests.helpers.stats_scenes import gamma_clipped, hdr_scene, write_shot


@pytest.fixture()
def shot(tmp_path):
    return write_shot(tmp_path / "shot", [hdr_scene(seed=i) for i in range(3)])


def _bad_frame(seq, name="img/0001.exr", **kw):
    img = hdr_scene(seed=1)
    for key in kw:
        if key == "nan":
            img[0, 0, 0] = np.nan
        elif key == "gamma":
            img = gamma_clipped(img)
        elif key == "dark_gamma":  # white at P99: median far below display grey
            img = np.clip(img / np.percentile(img, 99), 0, 1) ** (1 / 2.2)
    write_exr(seq / name, img.astype(np.float32), pixel_type="float")


def test_a_good_shot_is_complete_and_linear(shot):
    check = check_shot(shot, passes=("img", "depth"), mode="quick")
    assert check.ok and check.frames == 3 and check.errors == ()
    assert check.summary().endswith("complete and linear (3 frames)")


DEFECTS = {
    "missing frame": (lambda s: (s / "img/0001.exr").unlink(), "missing frames 0001"),
    "missing pass": (lambda s: None, "the backend reports pass 'normal' but wrote no files"),
    "missing camera record": (lambda s: (s / "camera_params/0002.json").unlink(),
                              "no record for frame(s) 0002"),
    "bad resolution": (lambda s: write_exr(s / "img/0002.exr", np.ones((8, 8, 3), np.float32)),
                       "8x8 but plan.json render.resolution is 48x32"),
    "non-finite": (lambda s: _bad_frame(s, nan=True), "1 NaN and 0 inf values"),
    "tone-curved": (lambda s: _bad_frame(s, gamma=True), "looks tonemapped"),
    "dark tone-curved frame": (lambda s: _bad_frame(s, dark_gamma=True),
                               "evidence: clip across the sequence"),
    "missing meta": (lambda s: (s / "meta.json").unlink(), "meta.json: missing"),
    "unreadable": (lambda s: (s / "depth/0000.exr").write_bytes(b""), "empty file"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_each_defect_fails_quick_mode_with_a_clear_message(shot, defect):
    damage, phrase = DEFECTS[defect]
    damage(shot)
    check = check_shot(shot, passes=("img", "depth", "normal") if defect == "missing pass"
                       else ("img", "depth"), mode="quick")
    assert not check.ok
    assert any(phrase in e for e in check.errors), check.errors
    hit = next(e for e in check.errors if phrase in e)
    assert str(shot) in hit  # names the shot / file
    assert "\n" not in check.summary()


def test_full_mode_also_decodes_the_auxiliary_passes(shot):
    depth = np.full((32, 48), 4.0, np.float32)
    depth[3, 3] = np.inf
    write_exr(shot / "depth/0001.exr", depth, channels=("Z",))
    assert check_shot(shot, passes=("img", "depth"), mode="quick").ok
    full = check_shot(shot, passes=("img", "depth"), mode="full")
    assert not full.ok and "NaN/inf values in the depth pass" in full.errors[0]
    with pytest.raises(OptionError, match="check mode"):
        check_shot(shot, mode="thorough")


def test_validate_gives_every_sequence_the_check_shot_verdict(shot, tmp_path):
    """validate runs check_shot's core in full mode: the same defects, the same messages."""
    _bad_frame(shot, gamma=True)
    depth = np.full((32, 48), 4.0, np.float32)
    depth[0, 0] = np.nan
    write_exr(shot / "depth/0002.exr", depth, channels=("Z",))
    res = validate_dataset(tmp_path, ValidateOptions(), progress=False)
    errors = {i["message"] for i in res.all_issues() if i["severity"] == "error"}
    assert errors == set(check_shot(shot, passes=("img", "depth"), mode="full").errors)
    quick = validate_dataset(tmp_path, ValidateOptions(mode="quick"), progress=False)
    assert not any("depth pass" in i["message"] for i in quick.all_issues())
    doc = res.to_dict()
    assert doc["options"]["mode"] == "full" and json.dumps(doc)
