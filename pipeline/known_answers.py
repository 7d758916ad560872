"""Known-answer suite of the dataset statistics (``s2rhdr-render stats --self-check``).

Every check builds a tiny image whose metric value follows *by hand* from the definition
(two-level images for DR, a known share of values above the threshold for FHLP/EHL, step
edges and stripes with a closed-form Sobel response for SI, constant-chroma patches for CF),
or an invariance the definition implies (DR unchanged by a global gain and by every
normalisation, FHLP/EHL unchanged by a gain under a scale-free normalisation, SI = 0 on a
constant frame). Expected values are written as the arithmetic that derives them, never as
a call of the code under test. Definitions: ITU-T P.910 (SI), Hasler & Suesstrunk 2003 (CF),
Guo et al. CVPR 2023 HDRTV4K (FHLP, EHL), Hu et al. TMM 2022 LA-HDR (DR), SMPTE ST 2084 (PQ).
The pytest suite (``tests/test_stats_known_answers.py``) runs the same checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline import dataset_metrics as M

Y709 = (0.2126, 0.7152, 0.0722)


@dataclass
class Check:
    """One named check: a list of (label, got, expected, absolute tolerance)."""

    name: str
    source: str
    rows: list[tuple[str, float, float, float]] = field(default_factory=list)
    skipped: str = ""

    def expect(self, label: str, got: float, want: float, tol: float = 1e-5) -> None:
        self.rows.append((label, float(got), float(want), float(tol)))

    @property
    def failures(self) -> list[str]:
        out = []
        for label, got, want, tol in self.rows:
            same_nan = math.isnan(got) and math.isnan(want)
            if not same_nan and not abs(got - want) <= tol:
                out.append(f"{label}: got {got:.8g}, expected {want:.8g} (tol {tol:g})")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures


def _grey(h: int, w: int, v: float) -> np.ndarray:
    return np.full((h, w, 3), v, np.float32)


def _metrics(img: np.ndarray, norm: str = "native", **kw) -> dict[str, float]:
    params = M.reference_params(img, norm) if norm == "official_p1p99" else {}
    return M.frame_metrics(img, M.StatsOptions(**kw), norm, params)[0]


def _lognormal_frame(seed: int = 7, h: int = 40, w: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.lognormal(-2.0, 2.0, (h, w, 3)).astype(np.float32)


# ---- DR (LA-HDR: log10 P98 - log10 P2 of linear luminance) ---------------------------------

def dr_two_level() -> Check:
    c = Check("DR two-level image", "half the pixels at a = 0.001, half at b = 2: P2 = a, "
              "P98 = b, every bottom/top 2% is a/b -> DR = log10(b / a) in every mode")
    img = _grey(40, 50, 0.001)
    img[:, 25:] = 2.0
    for mode in M.DR_MODES:
        c.expect(mode, _metrics(img, dr_mode=mode)["DR"], math.log10(2.0 / 0.001))
    return c


def dr_modes_tails() -> Check:
    c = Check("DR modes see different tails", "100x100 grey pixels: 150 at 1e-4, 150 at 100, "
              "the rest half 0.01 / half 1; np.percentile ranks 0.02*9999 and 0.98*9999 fall "
              "in the middle levels, 0.01*9999 and 0.99*9999 in the outer ones")
    vals = np.full(10000, 0.01, np.float32)
    vals[5000:] = 1.0
    vals[:150], vals[-150:] = 1e-4, 100.0
    img = np.repeat(vals.reshape(100, 100, 1), 3, axis=2)
    c.expect("p98_p2", _metrics(img, dr_mode="p98_p2")["DR"], math.log10(1.0 / 0.01))
    c.expect("p99_p1", _metrics(img, dr_mode="p99_p1")["DR"], math.log10(100.0 / 1e-4))
    k = 200  # 2% of 10000
    lo, hi = (150 * 1e-4 + 50 * 0.01) / k, (150 * 100.0 + 50 * 1.0) / k
    c.expect("mean_top_bottom_2pct", _metrics(img, dr_mode="mean_top_bottom_2pct")["DR"],
             math.log10(hi / lo))
    return c


def dr_zero_policies() -> Check:
    c = Check("DR zero policies", "20% exact zeros, 40% at 0.01, 40% at 1: eps floors P2 = 0 "
              "at 1e-6 x P98 -> DR = 6; drop_zeros leaves 0.01 / 1 -> DR = 2")
    img = _grey(50, 40, 0.01)
    img[:, 20:] = 1.0
    img[:10] = 0.0
    c.expect("eps 1e-6", _metrics(img, dr_zero_policy="eps")["DR"], 6.0)
    c.expect("eps 1e-3", _metrics(img, dr_zero_policy="eps", eps=1e-3)["DR"], 3.0)
    c.expect("drop_zeros", _metrics(img, dr_zero_policy="drop_zeros")["DR"], 2.0)
    c.expect("all black (drop_zeros) is undefined",
             _metrics(_grey(8, 8, 0.0), dr_zero_policy="drop_zeros")["DR"], float("nan"))
    return c


def dr_invariances() -> Check:
    c = Check("DR invariances", "DR is a luminance ratio: unchanged by a global gain x k of "
              "linear data (also with zeros and the relative eps floor) and by every "
              "normalisation, whose offsets and clips act on the other metrics only")
    img = _lognormal_frame()
    img[:3] = 0.0
    for policy in M.DR_ZERO_POLICIES:
        for mode in M.DR_MODES:
            ref = _metrics(img, dr_mode=mode, dr_zero_policy=policy)["DR"]
            for k in (1e-3, 1e3):
                got = _metrics(img * np.float32(k), dr_mode=mode, dr_zero_policy=policy)["DR"]
                c.expect(f"{mode}/{policy} x{k:g}", got, ref, 1e-4)
            for norm in M.NORMALISATIONS[1:]:
                got = _metrics(img, norm, dr_mode=mode, dr_zero_policy=policy)["DR"]
                c.expect(f"{mode}/{policy} --normalisation {norm}", got, ref, 1e-9)
    return c


# ---- FHLP / EHL (HDRTV4K) -------------------------------------------------------------------

def fhlp_ehl_known_share() -> Check:
    c = Check("FHLP / EHL known share", "3600 channel values: 30% at 0.5, 60 exactly at t = 0.1, "
              "the rest 0.05 -> FHLP = 100 (1080 + 60) / 3600, EHL = 100 x 0.3 x 0.4 / 0.9")
    vals = np.full(30 * 40 * 3, 0.05, np.float32)
    vals[:1080] = 0.5
    vals[-60:] = np.float32(0.1)
    img = np.random.default_rng(0).permutation(vals).reshape(30, 40, 3)
    m = _metrics(img)
    c.expect("FHLP %", m["FHLP"], 100 * 1140 / 3600)
    c.expect("EHL %", m["EHL"], 100 * 0.3 * 0.4 / 0.9)
    frac = _metrics(img, percent=False)
    c.expect("FHLP fraction", frac["FHLP"], 1140 / 3600)
    c.expect("EHL unbounded above 1 (every value 2)", _metrics(_grey(4, 4, 2.0))["EHL"],
             100 * (2.0 - 0.1) / 0.9, 1e-4)
    c.expect("threshold 0.203: 0.2 is below", _metrics(_grey(4, 4, 0.2), threshold=0.203)["FHLP"],
             0.0)
    return c


def fhlp_luminance_unit() -> Check:
    c = Check("FHLP luminance unit", "grey 0.05 with the red channel at 1 on half the rows: "
              "1/6 of the channel values are >= 0.1, and half the pixels have "
              "Y = 0.2126 + 0.05 (0.7152 + 0.0722) >= 0.1")
    img = _grey(10, 10, 0.05)
    img[:5, :, 0] = 1.0
    c.expect("rgb_elements", _metrics(img)["FHLP"], 100 / 6)
    c.expect("luminance", _metrics(img, fhlp_unit="luminance")["FHLP"], 50.0)
    return c


def official_normalisation() -> Check:
    c = Check("official P1/P99 normalisation", "frame 0 = channel values 0..299: np.percentile "
              "P1 = 0.01 x 299 = 2.99, P99 = 296.01; clip((v - P1) / (P99 - P1), 0, 1) puts 0, 1, "
              "2 at 0 and 297..299 at 1; v >= 2.99 + 0.1 x 293.02 = 32.292 are highlights")
    img = np.arange(300, dtype=np.float32).reshape(10, 10, 3)
    params = M.reference_params(img, "official_p1p99")
    c.expect("P1", params["p1"], 2.99, 1e-4)
    c.expect("P99", params["p99"], 296.01, 1e-3)
    out = M.normalise(img.copy(), "official_p1p99", params)
    c.expect("values at exactly 0", np.count_nonzero(out == 0), 3, 0)
    c.expect("values at exactly 1", np.count_nonzero(out == 1), 3, 0)
    c.expect("FHLP %", _metrics(img, "official_p1p99")["FHLP"], 100 * 267 / 300)
    return c


def highlight_invariances() -> Check:
    c = Check("FHLP / EHL / SI invariant to a gain under scale-free normalisations",
              "official_p1p99, max and p99 divide by a statistic of the data, so x1000 of linear "
              "data gives the same normalised frame; native does not (its 1.0 is absolute)")
    img = _lognormal_frame(3)
    for norm in ("official_p1p99", "max", "p99"):
        ref = _metrics(img, norm)
        big = _metrics(img * np.float32(1000.0), norm)
        for m in ("FHLP", "EHL", "SI", "CF", "ALL", "stdL"):
            c.expect(f"{norm} {m}", big[m], ref[m], 1e-3 * max(1.0, abs(ref[m])))
    c.expect("native FHLP x1000 (every value >= 0.1 once x1000 >= 1e-4 x 1000)",
             _metrics(np.maximum(img, 1e-4) * np.float32(1000.0))["FHLP"], 100.0)
    return c


# ---- SI (ITU-T P.910) -----------------------------------------------------------------------

def si_closed_forms() -> Check:
    c = Check("SI closed forms (P.910 Sobel)", "the 3x3 Sobel kernel [1 2 1]^T [-1 0 1] sums "
              "to 4: a step of height h gives |G| = 4h on the two columns beside it; stripes "
              "0,0,h repeating give 4h, 4h, 0; a ramp gives a constant |G| -> SI = 0")
    h, w, step = 24, 32, 0.2  # linear255_clip: plane = 255 v
    img = _grey(h, w, 0.0)
    img[:, 16:] = step
    p = 2 / (w - 2)
    c.expect("step edge", _metrics(img, si_domain="linear255_clip")["SI"],
             4 * step * 255 * math.sqrt(p * (1 - p)), 1e-3)
    stripes = _grey(20, 32, 0.0)  # 30 inner columns = 10 periods of (0, 0, h)
    stripes[:, 2::3] = step
    c.expect("period-3 stripes", _metrics(stripes, si_domain="linear255_clip")["SI"],
             4 * step * 255 * math.sqrt(2 / 9), 1e-3)
    ramp = np.repeat((np.arange(32, dtype=np.float32) / 64.0)[None, :, None], 20, 0)
    c.expect("ramp", _metrics(np.repeat(ramp, 3, 2), si_domain="linear255_clip")["SI"], 0.0,
             1e-3)
    a, b = 0.01, 0.5  # mu-law: the step height is 255 (T(b) - T(a))
    img2 = _grey(h, w, a)
    img2[:, 16:] = b
    t = [math.log1p(5000 * v) / math.log1p(5000) for v in (a, b)]
    c.expect("step edge, mu_law255", _metrics(img2)["SI"],
             4 * 255 * (t[1] - t[0]) * math.sqrt(p * (1 - p)), 1e-3)
    for dom in M.SI_DOMAINS:
        c.expect(f"constant frame, {dom}", _metrics(_grey(16, 16, 0.3), si_domain=dom)["SI"], 0.0,
                 1e-6)
    return c


def si_against_scipy() -> Check:
    c = Check("SI equals scipy.ndimage.sobel (siti-tools)", "std(hypot(sobel(F, 0), sobel(F, "
              "1))[1:-1, 1:-1]) as VQEG siti-tools computes it")
    try:
        from scipy import ndimage
    except ImportError:
        c.skipped = "scipy is not installed"
        return c
    f = np.random.default_rng(5).random((23, 31)).astype(np.float64) * 255
    want = float(np.hypot(ndimage.sobel(f, axis=0), ndimage.sobel(f, axis=1))[1:-1, 1:-1].std())
    c.expect("random plane", M.spatial_information(f.astype(np.float32)), want, 1e-3)
    return c


# ---- CF (Hasler & Suesstrunk 2003), ALL / stdL, domains ------------------------------------

def cf_constant_chroma() -> Check:
    c = Check("CF constant-chroma patches", "rg = R - G, yb = (R + G)/2 - B on 255 v; a constant "
              "patch has no spread -> CF = 0.3 |mean|; two equal halves c1 / c2 have "
              "std = |c1 - c2| / 2 and mean (c1 + c2) / 2 per opponent channel")
    red = _grey(6, 6, 0.0)
    red[:, :, 0] = 1.0
    c.expect("pure red", _metrics(red, si_domain="linear255_clip")["CF"],
             0.3 * math.hypot(255.0, 127.5), 1e-3)
    c.expect("grey", _metrics(_grey(6, 6, 0.3), si_domain="linear255_clip")["CF"], 0.0, 1e-4)
    c1, c2 = (0.8, 0.2, 0.1), (0.1, 0.3, 0.9)
    img = _grey(8, 8, 0.0)
    img[:, :4], img[:, 4:] = c1, c2

    def opp(col: tuple[float, float, float]) -> tuple[float, float]:
        r, g, b = (255 * v for v in col)
        return r - g, (r + g) / 2 - b

    (rg1, yb1), (rg2, yb2) = opp(c1), opp(c2)
    want = math.hypot((rg1 - rg2) / 2, (yb1 - yb2) / 2) + 0.3 * math.hypot(
        (rg1 + rg2) / 2, (yb1 + yb2) / 2)
    c.expect("two patches", _metrics(img, si_domain="linear255_clip")["CF"], want, 1e-3)
    return c


def all_stdl_two_level() -> Check:
    c = Check("ALL / stdL two-level luminance", "half the pixels black, half pure green 0.5: "
              "Y = 0.5 w_G on half -> mean = std = 0.25 w_G (population std of two equal halves)")
    img = _grey(10, 10, 0.0)
    img[5:, :, 1] = 0.5
    m709 = _metrics(img)
    c.expect("ALL bt709", m709["ALL"], 100 * 0.7152 * 0.25)
    c.expect("stdL bt709", m709["stdL"], 100 * 0.7152 * 0.25)
    c.expect("ALL bt601", _metrics(img, luma_weights="bt601")["ALL"], 100 * 0.587 * 0.25)
    return c


def domain_endpoints() -> Check:
    c = Check("SI / CF domains", "mu-law T(1) = 1 (255), T(0) = 0; ST 2084 PQ code of 100 / 1000 "
              "/ 10000 nit = 0.5081 / 0.7518 / 1.0 (published BT.2100 values)")
    one = np.ones((1, 1), np.float32)
    c.expect("mu_law255(1)", M.to_domain(one, "mu_law255")[0, 0], 255.0, 1e-3)
    c.expect("mu_law255(0)", M.to_domain(one * 0, "mu_law255")[0, 0], 0.0, 1e-4)
    c.expect("gamma22_255(0.5)", M.to_domain(one * 0.5, "gamma22_255")[0, 0],
             255 * 0.5 ** (1 / 2.2), 1e-3)
    for nits, code in ((100.0, 0.5081), (1000.0, 0.7518), (10000.0, 1.0)):
        c.expect(f"PQ {nits:g} nit", M.pq_encode(one * nits)[0, 0], code, 1e-4)
    return c


CHECKS: tuple[Callable[[], Check], ...] = (
    dr_two_level, dr_modes_tails, dr_zero_policies, dr_invariances, fhlp_ehl_known_share,
    fhlp_luminance_unit, official_normalisation, highlight_invariances, si_closed_forms,
    si_against_scipy, cf_constant_chroma, all_stdl_two_level, domain_endpoints)


def run_checks() -> list[Check]:
    """Run every known-answer check (a crash inside one is reported as its failure)."""
    out = []
    for fn in CHECKS:
        try:
            out.append(fn())
        except Exception as exc:  # noqa: BLE001 - a broken metric must show as FAIL
            c = Check(fn.__name__, "crashed")
            c.rows.append((f"{type(exc).__name__}: {exc}", float("nan"), 0.0, 0.0))
            out.append(c)
    return out


def report_lines(checks: list[Check]) -> list[str]:
    """One line per check (PASS / FAIL / SKIP), failures indented below it."""
    lines = []
    for c in checks:
        verdict = "SKIP" if c.skipped else ("PASS" if c.passed else "FAIL")
        lines.append(f"{verdict}  {c.name} ({len(c.rows)} values)"
                     + (f": {c.skipped}" if c.skipped else ""))
        lines += [f"      {f}" for f in c.failures]
    n_fail = sum(not c.passed for c in checks)
    lines.append(f"{len(checks) - n_fail} of {len(checks)} known-answer checks passed"
                 + (f", {n_fail} FAILED" if n_fail else ""))
    return lines
