"""Statistics over datasets: aggregation, real labels, skipped files, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import stats as S
from s2rhdr_loader.core.hdr import write_hdr
from tests.helpers.stats_scenes import hdr_scene, run_cli, write_sequence


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "render"
    for s in range(2):
        write_sequence(root / f"seq_{s}", [hdr_scene(seed=10 * s + i) for i in range(3)])
    return root


def real_labels(root, n=2, name="HDRImg.hdr"):
    for i in range(n):
        write_hdr(root / f"Test/{i:03d}" / name, np.clip(hdr_scene(seed=i) / 20, 0, 1.2))
    return root


def test_run_stats_aggregates_frames_sequences_and_dataset(dataset, tmp_path):
    run = S.run_stats([dataset], S.StatsOptions(), progress=False)
    (ds,) = run.doc["datasets"]
    assert ds["kind"] == "rendered" and ds["normalisation"] == "official_p1p99"
    assert ds["num_frames_measured"] == 6 and len(ds["sequences"]) == 2
    frames = [f for s in ds["sequences"] for f in s["frames"]]
    for m in S.METRICS:
        vals = [f[m] for f in frames]
        assert ds["metrics"][m]["mean"] == pytest.approx(np.mean(vals), rel=1e-6)
        seq_means = [np.mean([f[m] for f in s["frames"]]) for s in ds["sequences"]]
        assert ds["sequence_metrics"][m]["mean"] == pytest.approx(np.mean(seq_means), rel=1e-6)
    # frame values equal the pure function on the officially normalised frame
    from s2rhdr_loader.core.exr import read_exr

    seq0 = ds["sequences"][0]
    f0, f1 = (read_exr(dataset / "seq_0/img" / f"{i:04d}.exr") for i in (0, 1))
    params = S.reference_params(f0, "official_p1p99")
    expect, _ = S.frame_metrics(f1, S.StatsOptions(), "official_p1p99", params)
    for m in S.METRICS:
        assert seq0["frames"][1][m] == pytest.approx(expect[m], rel=1e-5, abs=1e-6)
    # DR: numpy's percentiles of the frame's own (un-normalised) Rec.709 luminance
    y = f1 @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert seq0["frames"][1]["DR"] == pytest.approx(
        np.log10(np.percentile(y, 98)) - np.log10(np.percentile(y, 2)), rel=1e-5)
    assert "no normalisation" in ds["domains"]["DR"] and "official_p1p99" in ds["domains"]["SI"]
    assert sum(ds["histogram"]["counts"]) + ds["histogram"]["zeros"] == 6 * 48 * 32
    assert ("render", "seq_0") in run.thumbnails
    assert run.doc["options"]["si_domain"] == "mu_law255" and "re-implemented" in run.doc["label"]


def test_real_labels_use_native_scale_and_both_names(tmp_path):
    real_labels(tmp_path / "kal")
    real_labels(tmp_path / "c123", name="hdr_img.hdr")
    run = S.run_stats([tmp_path / "kal", tmp_path / "c123"], S.StatsOptions(), progress=False)
    kal, c123 = run.doc["datasets"]
    assert kal["kind"] == c123["kind"] == "real" and kal["normalisation"] == "native"
    assert kal["num_frames_measured"] == c123["num_frames_measured"] == 2
    assert [s["name"] for s in kal["sequences"]] == ["Test/000", "Test/001"]
    img = np.clip(hdr_scene(seed=0) / 20, 0, 1.2)
    from s2rhdr_loader.core.hdr import read_hdr

    expect, _ = S.frame_metrics(read_hdr(tmp_path / "kal/Test/000/HDRImg.hdr"),
                                S.StatsOptions())
    assert kal["sequences"][0]["frames"][0]["FHLP"] == pytest.approx(expect["FHLP"], rel=1e-6)
    assert expect["FHLP"] == pytest.approx(100 * np.mean(img >= 0.1), abs=1.0)  # RGBE rounding


def test_unreadable_files_are_reported_and_skipped(dataset):
    (dataset / "seq_1/img/0001.exr").write_bytes(b"")
    p = dataset / "seq_1/img/0002.exr"
    p.write_bytes(p.read_bytes()[:200])
    run = S.run_stats([dataset], S.StatsOptions(), progress=False)
    (ds,) = run.doc["datasets"]
    assert ds["num_frames_measured"] == 4
    msgs = {e["path"]: e["message"] for e in ds["errors"]}
    assert "empty file" in msgs[str(dataset / "seq_1/img/0001.exr")]
    assert str(p) in msgs[str(p)]
    (dataset / "broken/img").mkdir(parents=True)  # a sequence folder without frames
    (ds,) = S.run_stats([dataset], S.StatsOptions(), progress=False).doc["datasets"]
    assert ds["num_frames_measured"] == 4
    assert "no frames" in {e["path"]: e["message"] for e in ds["errors"]}[
        str(dataset / "broken")]


def test_stats_resume_from_cache_and_invalidate_on_change(dataset, tmp_path, monkeypatch):
    cache = tmp_path / "out/.cache"
    first = S.run_stats([dataset], S.StatsOptions(), cache_dir=cache, progress=False)
    assert len(list(cache.glob("*.json"))) == 2  # one unit per sequence

    def boom(unit):
        raise AssertionError("recomputed a cached unit")

    monkeypatch.setattr(S, "compute_unit", boom)
    again = S.run_stats([dataset], S.StatsOptions(), cache_dir=cache, progress=False)
    assert again.doc["datasets"] == first.doc["datasets"]
    # a changed frame invalidates its sequence only; the failing unit is reported, not raised
    from s2rhdr_loader.core.exr import write_exr

    write_exr(dataset / "seq_1/img/0000.exr", hdr_scene(seed=99))
    third = S.run_stats([dataset], S.StatsOptions(), cache_dir=cache, progress=False)
    (ds,) = third.doc["datasets"]
    assert [s["name"] for s in ds["sequences"]] == ["seq_0"]
    assert "recomputed a cached unit" in ds["errors"][0]["message"]


def test_sampling_and_chunking_keep_results(dataset):
    opts = S.StatsOptions(frames="every:2")
    units = S.plan_units(S.open_source(dataset), opts, jobs=4)
    assert len(units) == 4  # 2 sequences x 2 frames, split so 4 workers stay busy
    whole = S.run_stats([dataset], opts, progress=False).doc["datasets"][0]
    assert whole["num_frames_measured"] == 4
    assert [f["index"] for f in whole["sequences"][0]["frames"]] == [0, 2]


def test_cli_stats_writes_json_csv_and_rejects_bad_input(dataset, tmp_path, capsys):
    out = tmp_path / "st"
    assert run_cli(["stats", str(dataset), "-o", str(out), "-q", "--si-domain", "gamma22_255",
                    "--frames", "every:2"]) == 0
    doc = json.loads((out / "stats.json").read_text())
    assert doc["options"]["si_domain"] == "gamma22_255" and doc["options"]["frames"] == "every:2"
    lines = (out / "stats.csv").read_text().splitlines()
    assert lines[0].startswith("dataset,sequence,index,path") and len(lines) == 1 + 4
    for argv, msg in ((["stats", str(tmp_path / "nope"), "-o", str(out)], "not found"),
                      (["stats", str(dataset), "-o", str(out), "--frames", "some"],
                       "frame sampling")):
        assert run_cli(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and msg in err[-1] and len(err) == 1


def test_two_worker_processes_give_identical_results(dataset):
    """Units are picklable top-level work; process results equal the in-process ones."""
    from pipeline.validate import ValidateOptions, validate_dataset

    one = S.run_stats([dataset], S.StatsOptions(), progress=False).doc["datasets"]
    two = S.run_stats([dataset], S.StatsOptions(), jobs=2, progress=False).doc["datasets"]
    # cv2 sums in a different order with 1 thread per worker: equal up to float rounding
    frames = [[f for s in d[0]["sequences"] for f in s["frames"]] for d in (one, two)]
    assert [(f["path"], f["index"]) for f in frames[0]] == \
        [(f["path"], f["index"]) for f in frames[1]]
    for a, b in zip(*frames):
        assert [a[m] for m in S.METRICS] == pytest.approx([b[m] for m in S.METRICS], rel=1e-5)
    assert one[0]["histogram"] == two[0]["histogram"]
    res = validate_dataset(dataset, ValidateOptions(), jobs=2, progress=False)
    assert res.passed and [s["name"] for s in res.sequences] == ["seq_0", "seq_1"]


def test_decode_prefetch_changes_nothing_but_speed(dataset, monkeypatch):
    """The prefetch thread must keep frame order, values and per-file error reports."""
    (dataset / "seq_0/img/0001.exr").write_bytes(b"not an exr")
    on = S.run_stats([dataset], S.StatsOptions(), progress=False).doc["datasets"][0]
    monkeypatch.setenv("S2RHDR_STATS_PREFETCH", "0")
    off = S.run_stats([dataset], S.StatsOptions(), progress=False).doc["datasets"][0]
    frames = [[f for s in d["sequences"] for f in s["frames"]] for d in (on, off)]
    assert [(f["path"], f["index"]) for f in frames[0]] == \
        [(f["path"], f["index"]) for f in frames[1]]
    for a, b in zip(*frames):  # cv2's threaded sums may round differently in the last digit
        assert [a[m] for m in S.METRICS] == pytest.approx([b[m] for m in S.METRICS], rel=1e-5)
    assert on["errors"] == off["errors"] and len(on["errors"]) == 1
    assert on["num_frames_measured"] == 5


def _scaled_copy(src, dst, k: float):
    from s2rhdr_loader.core.exr import read_exr, write_exr

    for p in sorted(src.rglob("*.exr")):
        write_exr(dst / p.relative_to(src), read_exr(p) * np.float32(k), pixel_type="float")


def _frames(doc, i=0):
    return [f for s in doc["datasets"][i]["sequences"] for f in s["frames"]]


def test_dr_fhlp_ehl_are_unchanged_when_linear_data_is_scaled_by_1000(tmp_path):
    """Default normalisation: official_p1p99 (renders, plain image folders) divides by a
    statistic of the data, and DR is a ratio; so x1000 changes none of the three."""
    base, big = tmp_path / "base", tmp_path / "big"
    for s in range(2):
        write_sequence(base / f"seq_{s}", [hdr_scene(seed=10 * s + i) for i in range(2)],
                       pixel_type="float")
    _scaled_copy(base, big, 1000.0)
    imgs, imgs_big = tmp_path / "imgs", tmp_path / "imgs_big"
    from s2rhdr_loader.core.exr import write_exr

    for i in range(2):
        write_exr(imgs / f"photo_{i}.exr", hdr_scene(seed=i), pixel_type="float")
        write_hdr(imgs / f"pano_{i}.hdr", hdr_scene(seed=5 + i))
    _scaled_copy(imgs, imgs_big, 1000.0)
    for i in range(2):
        write_hdr(imgs_big / f"pano_{i}.hdr", hdr_scene(seed=5 + i) * np.float32(1024.0))
    doc = S.run_stats([base, big, imgs, imgs_big], S.StatsOptions(), progress=False).doc
    assert [d["kind"] for d in doc["datasets"]] == ["rendered", "rendered", "images", "images"]
    assert {d["normalisation"] for d in doc["datasets"]} == {"official_p1p99"}
    for a, b in ((0, 1), (2, 3)):
        fa, fb = _frames(doc, a), _frames(doc, b)
        assert len(fa) == len(fb) == 4
        for x, y in zip(fa, fb):
            for m in ("DR", "FHLP", "EHL"):
                assert y[m] == pytest.approx(x[m], rel=1e-3, abs=1e-4), (m, x["path"])


def test_benchmark_labels_at_native_scale_are_not_scale_free(tmp_path):
    """Real labels keep their native 1.0 (= the shortest exposure's saturation, hypothesis
    H1): x1000 moves FHLP/EHL by definition, DR stays."""
    real_labels(tmp_path / "kal")
    for i in range(2):
        write_hdr(tmp_path / f"kal_big/Test/{i:03d}/HDRImg.hdr",
                  np.clip(hdr_scene(seed=i) / 20, 0, 1.2) * np.float32(1024.0))
    doc = S.run_stats([tmp_path / "kal", tmp_path / "kal_big"], S.StatsOptions(),
                      progress=False).doc
    small, big = _frames(doc, 0), _frames(doc, 1)
    assert all(b["FHLP"] > a["FHLP"] for a, b in zip(small, big))
    assert [b["DR"] for b in big] == pytest.approx([a["DR"] for a in small], rel=1e-4)


def test_dr_is_the_same_for_every_normalisation_in_the_output(dataset, tmp_path):
    drs = {}
    for norm in S.NORMALISATIONS:
        out = tmp_path / norm
        assert run_cli(["stats", str(dataset), "-o", str(out), "-q", "--normalisation", norm]) \
            == 0
        doc = json.loads((out / "stats.json").read_text())
        drs[norm] = [f["DR"] for f in _frames(doc)]
        assert "no normalisation" in doc["datasets"][0]["domains"]["DR"]
        header = (out / "stats.csv").read_text().splitlines()[0]
        assert header.endswith("normalisation,domains")
    first = drs["auto"]
    assert all(v == first for v in drs.values()), drs
    # ... while the normalisation does change the metrics defined on "1.0 = peak"
    fhlp = {n: _frames(json.loads((tmp_path / n / "stats.json").read_text()))[0]["FHLP"]
            for n in ("native", "max")}
    assert fhlp["native"] != fhlp["max"]


def test_plain_folders_of_exr_and_hdr_images_are_measured(tmp_path):
    from s2rhdr_loader.core.exr import write_exr

    root = tmp_path / "photos"
    write_exr(root / "a/one.exr", hdr_scene(seed=1), pixel_type="float")
    write_exr(root / "grey.exr", (hdr_scene(seed=2) @ np.array([0.2, 0.7, 0.1], np.float32)),
              channels=("Y",))
    write_hdr(root / "b/two.hdr", hdr_scene(seed=3))
    write_exr(root / "depth.exr", np.ones((8, 8), np.float32), channels=("Z",))
    (root / ".hidden").mkdir()
    write_hdr(root / ".hidden/skip.hdr", hdr_scene(seed=4))
    run = S.run_stats([root], S.StatsOptions(), progress=False)
    (ds,) = run.doc["datasets"]
    assert ds["kind"] == "images" and ds["normalisation"] == "official_p1p99"
    assert [s["name"] for s in ds["sequences"]] == ["a/one", "b/two", "grey"]
    (err,) = ds["errors"]
    assert "depth.exr" in err["path"] and "no R,G,B (or Y) channels" in err["message"]
    assert ("photos", "b/two") in run.thumbnails


HDRIS = Path("/usr/share/blender/datafiles/studiolights/world")


@pytest.mark.skipif(not any(HDRIS.glob("*.exr")), reason="blender-data HDRIs not installed")
def test_stats_on_real_hdr_captures_match_numpy_dr():
    from s2rhdr_loader.core.exr import read_exr

    doc = S.run_stats([HDRIS], S.StatsOptions(), progress=False).doc
    (ds,) = doc["datasets"]
    assert ds["kind"] == "images" and ds["num_frames_measured"] == len(list(HDRIS.glob("*.exr")))
    w = np.array([0.2126, 0.7152, 0.0722], np.float32)
    for f in _frames(doc):
        y = read_exr(f["path"], channels=("R", "G", "B")) @ w
        lo, hi = np.percentile(y, [2, 98])
        assert f["DR"] == pytest.approx(np.log10(hi) - np.log10(max(lo, 1e-6 * hi)), rel=1e-5)
        assert 0 < f["FHLP"] < 100 and f["SI"] > 0
