"""Known answers of every statistic (values derived by hand) and cross-checks against numpy /
scipy on random frames; the same checks back ``s2rhdr-render stats --self-check``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import dataset_metrics as M
from pipeline import known_answers as K
from tests.helpers.stats_scenes import run_cli

W709 = np.array(K.Y709, np.float32)


@pytest.mark.parametrize("check", K.CHECKS, ids=lambda f: f.__name__)
def test_known_answer(check):
    result = check()
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.rows, "a check without values proves nothing"
    assert result.passed, "\n".join(result.failures)


def _random_frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.lognormal(-1.5, 1.8, (37, 53, 3)).astype(np.float32)
    img[rng.random((37, 53)) < 0.03] = 0.0
    return img


@pytest.mark.parametrize("seed", [0, 1])
def test_dr_equals_numpy_percentiles_of_linear_luminance(seed):
    img = _random_frame(seed)
    y = (img @ W709).astype(np.float64)
    pos = y[y > 0]
    for norm in M.NORMALISATIONS[1:]:
        params = M.reference_params(img, norm)
        got = {(mode, pol): M.frame_metrics(img, M.StatsOptions(dr_mode=mode, dr_zero_policy=pol),
                                            norm, params)[0]["DR"]
               for mode in ("p98_p2", "p99_p1") for pol in M.DR_ZERO_POLICIES}
        for lo_q, hi_q, mode in ((2, 98, "p98_p2"), (1, 99, "p99_p1")):
            lo, hi = np.percentile(y, [lo_q, hi_q])
            assert got[(mode, "eps")] == pytest.approx(
                math.log10(hi) - math.log10(max(lo, 1e-6 * hi)), rel=1e-5)
            lo, hi = np.percentile(pos, [lo_q, hi_q])
            assert got[(mode, "drop_zeros")] == pytest.approx(math.log10(hi / lo), rel=1e-5)


def test_si_matches_scipy_sobel_in_every_domain():
    ndimage = pytest.importorskip("scipy.ndimage")
    img = np.clip(_random_frame(2), 0, 1)
    y = (img @ W709).astype(np.float64)
    planes = {"mu_law255": 255 * np.log1p(5000 * y) / np.log1p(5000),
              "linear255_clip": 255 * np.clip(y, 0, 1),
              "gamma22_255": 255 * np.clip(y, 0, 1) ** (1 / 2.2)}
    for dom, f in planes.items():
        want = np.hypot(ndimage.sobel(f, axis=0), ndimage.sobel(f, axis=1))[1:-1, 1:-1].std()
        got = M.frame_metrics(img, M.StatsOptions(si_domain=dom))[0]["SI"]
        assert got == pytest.approx(want, rel=1e-4), dom


def test_fhlp_ehl_cf_all_stdl_match_plain_numpy():
    img = np.clip(_random_frame(3) / 2, 0, 1.5)
    m = M.frame_metrics(img, M.StatsOptions(si_domain="linear255_clip"))[0]
    v = img.astype(np.float64)
    assert m["FHLP"] == pytest.approx(100 * np.mean(v >= np.float32(0.1)), rel=1e-9)
    assert m["EHL"] == pytest.approx(100 * np.mean(np.maximum(v - 0.1, 0)) / 0.9, rel=1e-5)
    y = v @ W709.astype(np.float64)
    assert m["ALL"] == pytest.approx(100 * y.mean(), rel=1e-5)
    assert m["stdL"] == pytest.approx(100 * y.std(), rel=1e-5)
    d = 255 * np.clip(v, 0, 1)
    rg, yb = d[..., 0] - d[..., 1], 0.5 * (d[..., 0] + d[..., 1]) - d[..., 2]
    cf = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    assert m["CF"] == pytest.approx(cf, rel=1e-4)


def test_self_check_cli_prints_each_check_and_fails_on_a_broken_metric(capsys, monkeypatch):
    assert run_cli(["stats", "--self-check"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") >= len(K.CHECKS) - 1 and "FAIL " not in out
    assert f"{len(K.CHECKS)} of {len(K.CHECKS)} known-answer checks passed" in out
    # the DR of the issue: computed after the official P1 offset (P2 hits the floor)
    real = M.dynamic_range
    monkeypatch.setattr(M, "dynamic_range", lambda q, mode, pol, eps: real(q, mode, pol, eps)
                        + 0.5)
    assert run_cli(["stats", "--self-check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  DR two-level image" in out and "FAILED" in out
