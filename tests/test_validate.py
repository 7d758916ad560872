"""Validation: every check fires on a crafted bad input and stays quiet on good input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.validate import ValidateOptions, frame_checks, validate_dataset
from s2rhdr_loader.core import layout
from s2rhdr_loader.core.exr import write_exr
from tests.helpers.stats_scenes import (
    gamma_clipped,
    hdr_scene,
    official_normalised,
    run_cli,
    write_sequence,
)

OPTS = ValidateOptions()


def checks(img, **kw) -> set[str]:
    return {i.check for i in frame_checks(img, OPTS, **kw).issues}


def seq_checks(root, **kw) -> dict[str, list[dict]]:
    res = validate_dataset(root, ValidateOptions(**kw), progress=False)
    out: dict[str, list[dict]] = {}
    for i in res.all_issues():
        out.setdefault(i["check"], []).append(i)
    return out


def bright_sky(seed: int) -> np.ndarray:
    """A frame that is ~60% sky: once normalised to [0, 1] its median is high (~0.46)."""
    x = hdr_scene(96, 64, seed=seed)
    return np.concatenate([x[:20], x[:20], x[20:]], 0)[:64]


def test_good_linear_frames_pass_every_frame_check():
    for seed in range(3):
        assert checks(hdr_scene(seed=seed)) == set()
        assert checks(official_normalised(hdr_scene(seed=seed))) == set()  # linear in [0, 1]
        assert checks(official_normalised(bright_sky(seed))) == set()


def test_gamma_encoded_clipped_copy_fails_as_tonemapped():
    for seed in range(3):
        rep = frame_checks(gamma_clipped(hdr_scene(seed=seed)), OPTS, path="x.exr")
        found = {i.check: i for i in rep.issues}
        assert "tonemapped" in found and found["tonemapped"].severity == "error"
        assert found["tonemapped"].message.startswith("x.exr: ")
    # gamma applied to the officially normalised frame: still display-referred
    assert "tonemapped" in checks(official_normalised(hdr_scene(96, 64)) ** (1 / 2.2))
    assert "tonemapped" in checks(gamma_clipped(bright_sky(0)))
    # a Reinhard curve never reaches 1.0 (no clip) but leaves ~1 stop of headroom
    x = hdr_scene(96, 64)
    assert "tonemapped" in checks(((0.5 * x / (1 + 0.5 * x)) ** (1 / 2.2)).astype(np.float32))


def test_flat_linear_frames_below_one_are_not_tonemapped():
    """Like Mitsuba previews: a sunlit street (max 0.92, median 0.23, 2 stops headroom) and an
    overcast plaza (max 0.46, median 0.19, 1.2 stops headroom: no white, so no ceiling)."""
    rng = np.random.default_rng(5)
    for median, top in ((0.23, 0.92), (0.19, 0.46)):
        y = np.minimum(np.exp(rng.normal(np.log(median), 0.55, (64, 96))), top)
        img = (y[..., None] * np.array([1.0, 1.0, 0.9])).astype(np.float32)
        assert "tonemapped" not in checks(img)
    # an 8-bit export stored as integers 0..255
    eight = np.round(gamma_clipped(hdr_scene(96, 64)) * 255).astype(np.float32)
    assert "tonemapped" in checks(eight)


def test_value_checks_fire_on_crafted_frames():
    img = hdr_scene()
    bad = img.copy()
    bad[0, 0, 0] = np.nan
    bad[1, 1, 1] = np.inf
    assert "nonfinite" in checks(bad)
    neg = img.copy()
    neg[2, 2] = -0.5
    assert "negative" in checks(neg)
    hot = img.copy()
    hot[0, :4] = 65504.0
    assert "half_overflow" in checks(hot, is_half=True)
    assert "half_overflow" not in checks(hot, is_half=False)
    assert checks(np.zeros_like(img)) == {"black_frame"}
    assert checks(np.full_like(img, 0.3)) == {"constant_frame"}
    flat = np.exp(np.random.default_rng(0).uniform(0, np.log(8), img.shape)).astype(np.float32)
    assert "low_dynamic_range" in checks(flat)  # 3 stops
    assert "low_dynamic_range" not in {
        i.check for i in frame_checks(flat, ValidateOptions(min_dr_stops=2)).issues}


def test_good_dataset_passes_quietly(tmp_path):
    write_sequence(tmp_path / "a", [hdr_scene(seed=i) for i in range(3)])
    res = validate_dataset(tmp_path, OPTS, progress=False)
    assert res.passed and res.all_issues() == [] and res.summary()["frames"] == 3
    assert res.text().startswith("PASS")


def test_official_hdr_layout_is_validated(tmp_path):
    write_sequence(tmp_path / "scene_0_FM", [hdr_scene(seed=i) for i in range(3)], first=3,
                   official=True, passes=(), plan=False)
    res = validate_dataset(tmp_path, OPTS, progress=False)
    assert res.passed and res.sequences[0]["variant"] == "official_hdr"
    (tmp_path / "scene_0_FM/img/HDR/0004.exr").unlink()
    found = seq_checks(tmp_path)
    assert "0004" in found["missing_frames"][0]["message"]


def test_sequence_checks_missing_frames_passes_and_resolution(tmp_path):
    seq = write_sequence(tmp_path / "s", [hdr_scene(seed=i) for i in range(4)])
    plan = json.loads((seq / "plan.json").read_text())
    plan["frames"], plan["render"]["passes"] = 6, ["img", "depth", "normal"]
    (seq / "plan.json").write_text(json.dumps(plan))
    (seq / "img/0002.exr").unlink()
    write_exr(seq / "depth/0001.exr", np.ones((16, 16), np.float32), channels=("Z",))
    found = seq_checks(tmp_path)
    msgs = " | ".join(i["message"] for i in found["missing_frames"])
    assert "missing frames 0002" in msgs and "plan/meta says 6" in msgs
    assert "'normal'" in found["missing_passes"][0]["message"]
    (res,) = found["resolution_mismatch"]
    assert res["path"].endswith("depth/0001.exr") and "16x16" in res["message"]
    # resolution against the plan
    plan["render"]["resolution"] = [64, 48]
    (seq / "plan.json").write_text(json.dumps(plan))
    assert "plan.json render.resolution" in seq_checks(tmp_path)["resolution_mismatch"][0][
        "message"]


def test_exposure_drift_is_a_warning(tmp_path):
    frames = [hdr_scene(seed=i) for i in range(4)]
    frames[2] = frames[2] * 8  # +3 stops
    write_sequence(tmp_path / "d", frames)
    res = validate_dataset(tmp_path, OPTS, progress=False)
    drift = [i for i in res.all_issues() if i["check"] == "exposure_drift"]
    assert drift and drift[0]["severity"] == "warning" and drift[0]["frame"] == 2
    assert res.passed  # warnings do not fail


@pytest.mark.parametrize("content,expect", [
    (b"", "empty file"), (b"P6\n4 4\n255\n" + bytes(48), "not an OpenEXR"), (None, "cannot")])
def test_unreadable_files_reported_with_path(tmp_path, content, expect):
    seq = write_sequence(tmp_path / "u", [hdr_scene(seed=i) for i in range(3)])
    bad = seq / "img/0001.exr"
    bad.write_bytes(bad.read_bytes()[:300] if content is None else content)
    found = seq_checks(tmp_path)
    (issue,) = found["unreadable"]
    assert issue["path"] == str(bad) and str(bad) in issue["message"] and expect in \
        issue["message"]


def test_bad_plan_json_reported(tmp_path):
    seq = write_sequence(tmp_path / "p", [hdr_scene(seed=i) for i in range(2)])
    (seq / "plan.json").write_text("{broken")
    assert "plan.json" in seq_checks(tmp_path)["bad_metadata"][0]["message"]


def test_cli_exit_status_and_json(tmp_path, capsys):
    good = tmp_path / "good"
    write_sequence(good / "a", [hdr_scene(seed=i) for i in range(2)])
    assert run_cli(["validate", str(good), "-q"]) == 0
    assert run_cli(["validate", str(good), "-q", "--no-json", "--mode", "quick"]) == 0
    assert run_cli(["validate", str(good), "-q", "--no-json", "--mode", "slow"]) == 2
    doc = json.loads((layout.work_dir(good) / "validation.json").read_text())
    assert not (good / "validation.json").exists()  # nothing but sequences in a root
    assert doc["passed"] and doc["summary"]["errors"] == 0 and doc["options"]["min_dr_stops"] == 4
    bad = tmp_path / "bad"
    write_sequence(bad / "a", [gamma_clipped(hdr_scene(seed=i)) for i in range(2)],
                   pixel_type="float")
    out = tmp_path / "v.json"
    assert run_cli(["validate", str(bad), "-q", "--json", str(out)]) == 1
    doc = json.loads(out.read_text())
    assert not doc["passed"] and doc["summary"]["by_check"]["tonemapped"] == 2
    assert "FAIL" in capsys.readouterr().out
    # a lower threshold silences the DR check but not the tonemap check
    assert run_cli(["validate", str(bad), "-q", "--no-json", "--min-dr-stops", "1"]) == 1
    assert run_cli(["validate", str(tmp_path / "missing"), "-q"]) == 2
    assert run_cli(["validate", str(tmp_path / "good"), "-q", "--drift-stops", "0"]) == 2
    flat = tmp_path / "flat"  # low dynamic range is a warning: passes unless --strict
    rng = np.random.default_rng(0)
    write_sequence(flat / "a", [np.exp(rng.uniform(0, np.log(8), (32, 48, 3))).astype(
        np.float32) for _ in range(2)])
    assert run_cli(["validate", str(flat), "-q", "--no-json"]) == 0
    assert run_cli(["validate", str(flat), "-q", "--no-json", "--strict"]) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(["validate", str(empty), "-q", "--no-json"]) == 1
