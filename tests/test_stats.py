"""Statistics pinned to hand-computed values (hdr-metrics.md section 2 and 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import stats as S
from pipeline.errors import S2RError

LIN = S.StatsOptions(si_domain="linear255_clip")


def grey(h: int, w: int, v: float) -> np.ndarray:
    return np.full((h, w, 3), v, np.float32)


def test_constant_image_has_zero_si_cf_std_and_dr():
    m, _ = S.frame_metrics(grey(24, 32, 0.5), S.StatsOptions())
    assert m["SI"] == 0.0 and m["CF"] == 0.0 and m["stdL"] == pytest.approx(0.0, abs=1e-6)
    assert m["DR"] == pytest.approx(0.0, abs=1e-9)
    assert m["ALL"] == pytest.approx(50.0, rel=1e-6)
    # every element 0.5 >= t: FHLP 100 %, EHL = (0.5 - 0.1) / 0.9
    assert m["FHLP"] == pytest.approx(100.0)
    assert m["EHL"] == pytest.approx(100 * 0.4 / 0.9, rel=1e-6)


def test_step_edge_sobel_magnitude_is_4h_and_si_matches():
    h, w, step = 24, 32, 0.2
    plane = np.zeros((h, w), np.float32)
    plane[:, 16:] = step * 255
    import cv2

    gx = cv2.Sobel(plane, cv2.CV_32F, 1, 0, ksize=3)
    assert np.abs(gx).max() == pytest.approx(4 * step * 255, rel=1e-6)
    # inner (h-2) x (w-2) map: two columns at 4h, the rest 0 -> population std
    p = 2 / (w - 2)
    expect = 4 * step * 255 * math.sqrt(p * (1 - p))
    assert S.spatial_information(plane) == pytest.approx(expect, rel=1e-5)
    img = np.zeros((h, w, 3), np.float32)
    img[:, 16:] = step
    assert S.frame_metrics(img, LIN)[0]["SI"] == pytest.approx(expect, rel=1e-5)


def test_si_domain_mu_law_maps_one_to_255():
    assert float(S.to_domain(np.ones((3, 3), np.float32), "mu_law255")[0, 0]) == \
        pytest.approx(255.0, rel=1e-5)
    x = np.array([[0.01, 0.5]], np.float32)
    expect = np.log1p(5000 * x) / np.log1p(5000) * 255
    assert np.allclose(S.to_domain(x, "mu_law255"), expect, rtol=1e-5)
    assert np.allclose(S.to_domain(x, "gamma22_255"), x ** (1 / 2.2) * 255, rtol=1e-5)
    # PQ: 1000 nit peak -> code ~0.7518 (ST 2084)
    assert float(S.to_domain(np.ones((1, 1), np.float32), "pq1000_255")[0, 0]) == \
        pytest.approx(0.7518 * 255, rel=1e-3)


def test_two_level_image_has_known_dr_for_every_mode():
    a, b = 0.001, 2.0
    img = grey(40, 50, a)
    img[:, 25:] = b
    for mode in S.DR_MODES:
        m, _ = S.frame_metrics(img, S.StatsOptions(dr_mode=mode))
        assert m["DR"] == pytest.approx(math.log10(b / a), rel=1e-5), mode


def test_zero_policy_eps_vs_drop_zeros():
    img = grey(50, 40, 0.01)
    img[:, 20:] = 1.0
    img[:10] = 0.0  # 20 % exact zeros -> P2 is 0 -> floor at eps
    eps = S.frame_metrics(img, S.StatsOptions(dr_zero_policy="eps", eps=1e-6))[0]["DR"]
    drop = S.frame_metrics(img, S.StatsOptions(dr_zero_policy="drop_zeros"))[0]["DR"]
    assert eps == pytest.approx(math.log10(1.0 / 1e-6), rel=1e-6)
    assert drop == pytest.approx(2.0, rel=1e-5)
    black = S.frame_metrics(grey(8, 8, 0.0), S.StatsOptions(dr_zero_policy="drop_zeros"))[0]
    assert math.isnan(black["DR"])


def test_fhlp_ehl_known_share_of_elements_above_threshold():
    rng = np.random.default_rng(0)
    vals = np.full(30 * 40 * 3, 0.05, np.float32)
    vals[: int(0.3 * vals.size)] = 0.5  # 30 % of the channel values at 0.5
    vals[-60:] = 0.1  # exactly t: counts for FHLP, adds nothing to EHL
    img = rng.permutation(vals).reshape(30, 40, 3)
    m, _ = S.frame_metrics(img, S.StatsOptions())
    assert m["FHLP"] == pytest.approx(100 * (0.3 * vals.size + 60) / vals.size)
    assert m["EHL"] == pytest.approx(100 * 0.3 * (0.5 - 0.1) / 0.9, rel=1e-5)
    frac = S.frame_metrics(img, S.StatsOptions(percent=False))[0]
    assert frac["FHLP"] == pytest.approx(m["FHLP"] / 100)


def test_fhlp_luminance_unit_counts_pixels_not_channels():
    img = grey(10, 10, 0.05)
    img[:5, :, 0] = 1.0  # red only: Y = 0.2126 + 0.05 * 0.7874 > 0.1 on half the pixels
    rgb = S.frame_metrics(img, S.StatsOptions())[0]["FHLP"]
    lum = S.frame_metrics(img, S.StatsOptions(fhlp_unit="luminance"))[0]["FHLP"]
    assert rgb == pytest.approx(100 / 6) and lum == pytest.approx(50.0)


def test_luma_weights_and_all_stdl():
    img = grey(10, 10, 0.0)
    img[:, :, 1] = 0.5
    img[:5] = 0.0
    m709 = S.frame_metrics(img, S.StatsOptions())[0]
    m601 = S.frame_metrics(img, S.StatsOptions(luma_weights="bt601"))[0]
    assert m709["ALL"] == pytest.approx(100 * 0.7152 * 0.25, rel=1e-5)
    assert m709["stdL"] == pytest.approx(100 * 0.7152 * 0.25, rel=1e-5)  # two levels 0 / y
    assert m601["ALL"] == pytest.approx(100 * 0.587 * 0.25, rel=1e-5)


def test_colourfulness_of_pure_red_and_grey():
    red = grey(6, 6, 0.0)
    red[:, :, 0] = 1.0
    cf = S.frame_metrics(red, S.StatsOptions(si_domain="linear255_clip"))[0]["CF"]
    assert cf == pytest.approx(0.3 * math.hypot(255.0, 127.5), rel=1e-5)
    assert S.frame_metrics(grey(6, 6, 0.3), S.StatsOptions())[0]["CF"] == pytest.approx(0)


def test_quantiles_match_numpy_percentile_and_tail_means():
    rng = np.random.default_rng(3)
    y = rng.lognormal(-3, 3, (37, 53)).astype(np.float32)
    y[rng.random(y.shape) < 0.05] = 0.0
    y[:3] = 0.25  # duplicates
    q = S.Quantiles(y)
    qs = [0.1, 1, 2, 50, 98, 99, 99.9]
    assert np.allclose(q.percentiles(qs), np.percentile(y, qs), rtol=1e-6, atol=0)
    pos = y[y > 0]
    assert q.zeros == y.size - pos.size
    assert np.allclose(q.percentiles(qs, q.zeros), np.percentile(pos, qs), rtol=1e-6)
    s = np.sort(y.ravel())
    lo, hi = q.tail_means(20)
    assert lo == pytest.approx(s[:20].mean()) and hi == pytest.approx(s[-20:].mean(), rel=1e-6)
    hist, zeros = S.log_histogram(q)
    assert hist.sum() + zeros == y.size


def test_quantiles_order_negative_zero_with_zero():
    # -0.0 has the sign bit set: ordered by raw bits it would sort after +inf
    y = np.array([[-0.0, 0.0, 1.0, 2.0], [-0.0, 4.0, 8.0, 16.0]], np.float32)
    q = S.Quantiles(y)
    assert q.zeros == 3
    assert np.allclose(q.percentiles([0, 25, 50, 100]), np.percentile(y, [0, 25, 50, 100]))
    assert S.Quantiles(np.full(6, -0.0, np.float32)).percentiles([99])[0] == 0.0


def test_official_p1p99_matches_reference_preprocessing():
    rng = np.random.default_rng(1)
    f0 = rng.lognormal(0, 2, (20, 30, 3)).astype(np.float32)
    f1 = rng.lognormal(0, 2, (20, 30, 3)).astype(np.float32)
    params = S.reference_params(f0, "official_p1p99")
    lo, hi = np.percentile(f0, [1, 99])
    assert params["p1"] == pytest.approx(lo, rel=1e-6) and params["p99"] == pytest.approx(hi)
    ref = np.clip((np.clip(f1, lo, hi) - lo) / (hi - lo), 0, 1)
    assert np.allclose(S.normalise(f1.copy(), "official_p1p99", params), ref, atol=1e-6)
    with pytest.raises(S2RError, match="P1 == P99"):
        S.reference_params(grey(4, 4, 1.0), "official_p1p99")
    x = f1.copy()
    assert S.normalise(x, "max", {}).max() == pytest.approx(1.0)
    assert S.normalise(f1.copy(), "p99", {}).max() == pytest.approx(1.0)


def test_sanitize_counts_and_zeroes_bad_values():
    img = grey(4, 4, 0.5)
    img[0, 0, 0], img[0, 1, 1], img[1, 1, 2] = np.nan, np.inf, -2.0
    img[2, 2] = 3.0
    out, nonfinite, negative = S.sanitize(img)
    assert (nonfinite, negative) == (2, 1) and np.isfinite(out).all() and out.min() == 0.0
    # NaN -> 0, but an overflowed highlight (+inf) stays the brightest value, not black
    assert out[0, 0, 0] == 0.0 and out[0, 1, 1] == 3.0


def test_frame_sampling_modes_are_deterministic():
    assert S.sample_frames(10, "all", 0, "a") == list(range(10))
    assert S.sample_frames(10, "every:3", 0, "a") == [0, 3, 6, 9]
    r1 = S.sample_frames(24, "random:5", 7, "seq")
    assert r1 == S.sample_frames(24, "random:5", 7, "seq") and len(set(r1)) == 5
    assert r1 != S.sample_frames(24, "random:5", 8, "seq")
    assert S.sample_frames(3, "random:5", 0, "x") == [0, 1, 2]
    for bad in ("some", "every:0", "random:x"):
        with pytest.raises(S2RError, match="frame sampling"):
            S.parse_sampling(bad)


def test_invalid_options_are_one_line_errors():
    with pytest.raises(S2RError, match="si_domain='srgb' is not valid"):
        S.StatsOptions(si_domain="srgb")
    with pytest.raises(S2RError, match="threshold"):
        S.StatsOptions(threshold=1.5)
    assert S.StatsOptions().resolve_normalisation("real") == "native"
    assert S.StatsOptions().resolve_normalisation("rendered") == "official_p1p99"
    assert S.StatsOptions(normalisation="max").resolve_normalisation("real") == "max"
