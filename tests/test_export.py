"""export-official: our datasets in the release's raw form, read back as the release reads them.

The release-side checks run ``tests/helpers/release_reader.py`` in a subprocess (cv2 reads EXR
only when ``OPENCV_IO_ENABLE_OPENEXR`` is set before ``import cv2``); it was written from the
release's documented behaviour, not from our layout code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from s2rhdr_loader.cli import main
from s2rhdr_loader.core.exr import read_exr, read_header, write_exr
from s2rhdr_loader.core.layout import PASS_CHANNELS, camera_params_path
from s2rhdr_loader.dataset import write_synthetic_dataset
from s2rhdr_loader.export import export_official

ROOT = Path(__file__).resolve().parents[1]
READER = ROOT / "tests" / "helpers" / "release_reader.py"
SPEC = ROOT / "scene_specs" / "street_day_walk.yaml"


def release_read(mode: str, root: Path, tmp: Path) -> dict[str, np.ndarray]:
    dest = tmp / f"read-{mode}-{root.name}.npz"
    run = subprocess.run([sys.executable, str(READER), mode, str(root), str(dest)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:] + run.stdout[-2000:]
    with np.load(dest) as z:
        return {k: z[k] for k in z.files}


def release_patch_names(w: int, h: int, patch: int, stride: int) -> list[str]:
    """The release's crop loop (crop_dataset_pyexr), transcribed: x is clamped in place."""
    names = []
    for x in range(0, w, stride):
        for y in range(0, h, stride):
            if x + stride // 2 > w or y + stride // 2 > h:  # 256 at the release's stride 512
                continue
            names.append(f"{x}_{y}")
            if x + patch > w:
                x = w - patch  # noqa: PLW2901 -- the quirk under test
            if y + patch > h:
                y = h - patch  # noqa: PLW2901
    return list(dict.fromkeys(names))


def test_release_patch_names_transcription_gives_the_documented_1080p_names():
    assert release_patch_names(1920, 1080, 640, 512) == [
        "0_0", "0_512", "512_0", "512_512", "1024_0", "1024_512", "1536_0", "1280_512"]


@pytest.mark.slow
def test_profile_batch_export_and_release_reader_end_to_end(tmp_path):
    """batch --profile s2rhdr (tiny) -> export-official -> the release's layout and lists."""
    from pipeline.batch import load_plans, run_batch

    plans = load_plans([SPEC], profile="s2rhdr", resolution=(96, 54))  # preview: 1/3 of it
    assert plans[0].frames == 24
    data, out = tmp_path / "render", tmp_path / "S2R-HDR"
    outcome = run_batch(plans, data, quality="preview", show_progress=False)
    assert [o.status for o in outcome] == ["rendered"]
    main(["export-official", str(data), "-o", str(out), "--quiet"])

    got = release_read("raw", out, tmp_path)
    scene = plans[0].name
    assert got["__scenes__"].tolist() == [scene]  # nothing else looks like a scene
    for k in range(24):  # frame k of ours is the release's img/HDR/{k+3:04d}.exr
        ours = read_exr(data / scene / "img" / f"{k:04d}.exr")
        np.testing.assert_array_equal(got[f"{scene}/img/{k + 3}"], np.maximum(ours, 0))
        flow = read_exr(data / scene / "flow" / f"{k:04d}.exr", channels=("U", "V"))
        np.testing.assert_array_equal(got[f"{scene}/flow/{k + 3}"][..., :2], flow)
        assert not got[f"{scene}/flow/{k + 3}"][..., 2].any()
        depth = read_exr(data / scene / "depth" / f"{k:04d}.exr", channels=("Z",))
        np.testing.assert_array_equal(got[f"{scene}/depth/{k + 3}"], np.repeat(depth, 3, -1))
        normal = read_exr(data / scene / "normal" / f"{k:04d}.exr", channels=("X", "Y", "Z"))
        np.testing.assert_array_equal(got[f"{scene}/normal/{k + 3}"], normal)
    assert not (out / scene / "img" / "HDR" / "0027.exr").exists()
    assert not (out / scene / "img" / "HDR" / "0002.exr").exists()
    lists = {n: got[f"__{n}__"].tolist() for n in ("trainlist.txt", "testlist.txt")}
    val = (out / "vallist.txt").read_text().splitlines()
    assert sorted(lists["trainlist.txt"] + lists["testlist.txt"] + val) == [scene]
    assert not got["__trainlist.txt_trailing_newline__"]

    # the release's preprocessing on the export: our official-preprocess, names per its loop
    proc = tmp_path / "S2R-HDR-processed-patch"
    h, w = got[f"{scene}/img/3"].shape[:2]
    main(["official-preprocess", str(out), "-o", str(proc), "--patch-size", "12",
          "--stride", "8", "--quiet"])
    names = [f"{scene}_{n}" for n in release_patch_names(w, h, 12, 8)]
    assert len(names) >= 4 and any(int(n.split("_")[-2]) % 8 for n in names)  # a clamped x
    assert sorted(p.name for p in proc.iterdir() if p.is_dir()) == sorted(names)
    listed = (proc / "trainlist.txt").read_text().splitlines() + \
        (proc / "testlist.txt").read_text().splitlines()
    assert sorted(listed) == sorted(names)  # the export's split carried over to the patches
    if (proc / "trainlist.txt").read_text():
        got = release_read("processed", proc, tmp_path)
        first = sorted(got["__trainlist.txt__"].tolist())[0]
        assert got[f"{first}/img/0"].shape == (12, 12, 3)
        assert float(got[f"{first}/img/0"].max()) <= 1.0


# ---- smaller fixtures: one hand-written 24-frame sequence with every pass -------------------

def _sequence(root: Path, name: str, frames: int = 24, h: int = 6, w: int = 8,
              compression: str = "zip") -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(sum(name.encode()))
    written: dict[str, list[np.ndarray]] = {p: [] for p in PASS_CHANNELS}
    seq = root / name
    for k in range(frames):
        for p, chans in PASS_CHANNELS.items():
            img = (rng.random((h, w, len(chans))) * (40 if p == "depth" else 2) - 0.5)
            img = img.astype(np.float32)
            pixel = "float" if p in ("depth", "flow", "mask") else "half"
            write_exr(seq / p / f"{k:04d}.exr", img, channels=chans, pixel_type=pixel,
                      compression=compression)
            written[p].append(img)
        cam = camera_params_path(seq, k)
        cam.parent.mkdir(parents=True, exist_ok=True)
        cam.write_text(json.dumps({"frame": k}))
    (seq / "plan.json").write_text("{}")
    return written


def test_cv2_reads_every_exported_pass_with_the_right_channels(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    written = _sequence(src, "scene_a")
    rep = export_official(src, out, progress=False)
    assert rep.done == ["scene_a"] and rep.files["converted"] == 4 * 24
    got = release_read("raw", out, tmp_path)
    for k in (0, 23):
        i = k + 3
        half = {p: np.asarray(written[p][k], np.float16).astype(np.float32)
                for p in written}
        np.testing.assert_array_equal(got[f"scene_a/img/{i}"], np.maximum(half["img"], 0))
        np.testing.assert_array_equal(got[f"scene_a/diffuse/{i}"], half["diffuse"])
        np.testing.assert_array_equal(got[f"scene_a/normal/{i}"], half["normal"])
        np.testing.assert_array_equal(got[f"scene_a/flow/{i}"][..., :2], written["flow"][k])
        np.testing.assert_array_equal(got[f"scene_a/depth/{i}"],
                                      np.repeat(written["depth"][k], 3, -1))
        np.testing.assert_array_equal(got[f"scene_a/mask/{i}"],
                                      np.repeat(written["mask"][k], 3, -1))
    head = read_header(out / "scene_a" / "flow" / "HDR" / "0003.exr")
    assert head.channels == {"R": "float", "G": "float", "B": "float"}
    assert "chromaticities" not in head.attributes  # not a colour
    assert head.attributes["s2rhdrChannels"] == b"R=U G=V B=0"
    assert "chromaticities" in read_header(out / "scene_a" / "img" / "HDR" / "0003.exr").attributes
    assert json.loads((out / "scene_a" / "camera_params" / "0026.json").read_text()) == \
        {"frame": 23}


def test_our_original_aux_passes_are_what_cv2_cannot_read(tmp_path):
    """Why the export rewrites them: cv2 4.x on U,V / Z / X,Y,Z channels (reference facts)."""
    src = tmp_path / "src"
    _sequence(src, "scene_a", frames=1)
    script = (
        "import os, sys, json\n"
        "os.environ['OPENCV_IO_ENABLE_OPENEXR'] = '1'\n"
        "import cv2\n"
        "d = sys.argv[1]\n"
        "r = lambda p: cv2.imread(os.path.join(d, p, '0000.exr'), cv2.IMREAD_UNCHANGED)\n"
        "f, z, n = r('flow'), r('depth'), r('normal')\n"
        "print(json.dumps([cv2.__version__, f is None, bool(z is not None and not z.any()),"
        " None if n is None else list(n.shape)]))\n")
    run = subprocess.run([sys.executable, "-c", script, str(src / "scene_a")],
                         capture_output=True, text=True, timeout=120)
    version, flow_none, depth_zeros, normal_shape = json.loads(run.stdout)
    assert version.startswith("4.")
    assert flow_none and depth_zeros and normal_shape == [6, 8]  # one plane, not three


def test_cv2_reads_our_rgb_exrs_as_float_bgr(tmp_path):
    """Item 5: our environment runs the release's reader on our files (cv2 4.x pinned)."""
    rgb = np.zeros((4, 5, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.25, 3.0, 1000.5  # exact in half and float
    rgb[0, 0] = (70000.0, 1e-3, 0.0)  # 70000 is clamped to 65504 in HALF
    for pixel in ("half", "float"):
        for comp in ("zip", "piz", "none"):
            write_exr(tmp_path / f"{pixel}_{comp}.exr", rgb, pixel_type=pixel, compression=comp)
    write_exr(tmp_path / "zstd.exr", rgb, compression="zstd")
    script = (
        "import os, sys, json\n"
        "os.environ['OPENCV_IO_ENABLE_OPENEXR'] = '1'\n"
        "import cv2, numpy as np\n"
        "out = {}\n"
        "for p in sorted(os.listdir(sys.argv[1])):\n"
        "    a = cv2.imread(os.path.join(sys.argv[1], p), cv2.IMREAD_UNCHANGED)\n"
        "    out[p] = None if a is None else [str(a.dtype), a.tolist()]\n"
        "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    got = json.loads(run.stdout)
    for pixel in ("half", "float"):
        want = rgb.copy()
        if pixel == "half":
            want[0, 0, 0] = 65504.0
            want = want.astype(np.float16).astype(np.float32)
        for comp in ("zip", "piz", "none"):
            dtype, values = got[f"{pixel}_{comp}.exr"]
            assert dtype == "float32"
            np.testing.assert_array_equal(np.asarray(values, np.float32), want[..., ::-1])  # BGR
    assert got["zstd.exr"] is None  # why export-official re-encodes zstd/htj2k frames


def test_hard_links_copies_transcodes_and_resume(tmp_path, monkeypatch):
    src, out = tmp_path / "src", tmp_path / "out"
    _sequence(src, "scene_a", compression="zstd")
    write_synthetic_dataset(src, ["scene_b"], frames=24, height=6, width=8)
    rep = export_official(src, out, aux="original", progress=False)
    assert sorted(rep.done) == ["scene_a", "scene_b"]
    a0 = out / "scene_a" / "img" / "HDR" / "0003.exr"
    assert read_header(a0).compression == "zip"  # zstd: cv2 cannot read it, re-encoded
    np.testing.assert_array_equal(read_exr(a0), read_exr(src / "scene_a" / "img" / "0000.exr"))
    b0 = out / "scene_b" / "img" / "HDR" / "0003.exr"
    assert b0.stat().st_ino == (src / "scene_b" / "img" / "0000.exr").stat().st_ino
    assert (out / "scene_a" / "depth" / "HDR" / "0026.exr").stat().st_ino == \
        (src / "scene_a" / "depth" / "0023.exr").stat().st_ino  # aux="original": linked
    assert sorted(os.listdir(out)) == ["scene_a", "scene_b", "testlist.txt", "trainlist.txt",
                                       "vallist.txt"]

    mtime = b0.stat().st_mtime_ns
    again = export_official(src, out, aux="original", progress=False)
    assert again.done == [] and sorted(again.skipped) == ["scene_a", "scene_b"]
    assert b0.stat().st_mtime_ns == mtime
    # a changed source frame re-exports its scene only; hard links fail -> copies
    write_synthetic_dataset(src, ["scene_b"], frames=24, height=6, width=8, seed=5)

    def no_link(a, b):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    redo = export_official(src, out, aux="original", progress=False)
    assert redo.done == ["scene_b"] and redo.files["copied"] > 0 and redo.files["linked"] == 0
    assert b0.stat().st_ino != (src / "scene_b" / "img" / "0000.exr").stat().st_ino
    np.testing.assert_array_equal(read_exr(b0), read_exr(src / "scene_b" / "img" / "0000.exr"))


def test_a_failure_half_way_leaves_nothing_and_a_rerun_finishes(tmp_path, monkeypatch):
    import s2rhdr_loader.export as export

    src, out = tmp_path / "src", tmp_path / "out"
    _sequence(src, "scene_a")
    real_convert, calls = export.convert_aux, []

    def dies_on_the_fifth(a, b, name):
        calls.append(a)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        real_convert(a, b, name)

    monkeypatch.setattr(export, "convert_aux", dies_on_the_fifth)
    rep = export_official(src, out, progress=False)
    assert "No space left" in rep.failed["scene_a"]
    assert not (out / "scene_a").exists()  # no half-written scene where the release looks
    assert not (tmp_path / "out.s2rhdr-work" / "staging").exists()
    monkeypatch.setattr(export, "convert_aux", real_convert)
    assert export_official(src, out, progress=False).done == ["scene_a"]


def test_non_sequences_are_ignored_and_bad_input_is_one_line(tmp_path, capsys):
    src = tmp_path / "src"
    _sequence(src, "scene_a")
    write_synthetic_dataset(src, ["short"], frames=8, height=6, width=8)
    write_synthetic_dataset(src, [".tmp-scene_c-123"], frames=24, height=6, width=8)
    (src / "reports").mkdir()
    (src / "validation.json").write_text("{}")
    with pytest.raises(SystemExit) as ex:
        main(["export-official", str(src), "-o", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert ex.value.code == 1
    assert "short" in err and "8 frames, the release reads 24" in err and "--profile s2rhdr" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["scene_a"]
    with pytest.raises(SystemExit) as ex:  # an export inside its own source
        main(["export-official", str(src), "-o", str(src / "export"), "--quiet"])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and err.startswith("error: ") and "outside the source root" in err
    assert err.count("\n") == 1
