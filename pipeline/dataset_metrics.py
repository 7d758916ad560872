"""The seven dataset statistics of the S2R-HDR paper on arrays: FHLP, EHL, SI, CF, stdL, ALL, DR.

Primary sources of the definitions (the paper, arXiv 2504.07667, never published its script):

- FHLP, EHL: Guo, Fan, Liao, Xu, Chen, "Learning a Practical SDR-to-HDRTV Up-conversion using
  New Dataset and Degradation Models", CVPR 2023 (HDRTV4K), function ``HDRdegreeAssessment``:
  every RGB channel value ``v`` is truncated at ``t = diffuse white / peak`` (100 / 1000 nit);
  FHLP = share of values ``>= t``, EHL = ``mean(max(v - t, 0)) / (1 - t)``; 1.0 = the peak.
- SI: ITU-T Rec. P.910 (2008, 2022) section 7.1 "Spatial information": Sobel-filter the
  luminance plane, take the standard deviation over the pixels, (video: the max over time).
  The 3x3 kernels are the unnormalised ones ([1 2 1] x [-1 0 1], as ``scipy.ndimage.sobel``);
  the one-pixel border the filter cannot see is dropped, population std (VQEG siti-tools).
- CF: Hasler & Suesstrunk, "Measuring colourfulness in natural images", SPIE Human Vision and
  Electronic Imaging VIII, 2003: ``sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2)``,
  ``rg = R - G``, ``yb = (R + G) / 2 - B``.
- ALL, stdL: mean and standard deviation of the luminance in % of full scale (Guo et al.
  2023 as used by Real-HDRV, Shu et al. CVPR 2024, and HDRVD2K, Tian et al. CVPR 2025).
- DR: Hu, Zhang, Lin et al., "Luminance-aware HDR video" (LA-HDR), IEEE TMM 2022: "log10
  difference between the highest 2% and the lowest 2% luminance" = log10 P98(Y) - log10 P2(Y)
  of *linear* luminance. It is a ratio, so it is computed on the frame as decoded, before any
  normalisation: an offset (the official P1 subtraction) or a clip would change it.

Domains: FHLP, EHL, ALL and stdL need a "1.0 = peak" scale and are computed after the chosen
normalisation; SI and CF after the normalisation in their 0-255 domain (mu-law by default);
DR on un-normalised linear luminance. :func:`metric_domains` states this for every output.
"""

from __future__ import annotations

import functools
import math
import sys
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from s2rhdr_loader.core.errors import OptionError

LABEL = "re-implemented; definitions per HDRTV4K / P.910 / Hasler-Suesstrunk / LA-HDR " \
        "(not calibrated: the paper's script is unpublished)"
METRICS = ("FHLP", "EHL", "SI", "CF", "stdL", "ALL", "DR")
UNITS = {"FHLP": "%", "EHL": "%", "ALL": "%", "stdL": "%", "SI": "0-255 domain",
         "CF": "0-255 domain", "DR": "log10"}
LUMA_WEIGHTS = {"bt709": (0.2126, 0.7152, 0.0722), "bt601": (0.299, 0.587, 0.114)}
NORMALISATIONS = ("auto", "native", "official_p1p99", "max", "p99")
FHLP_UNITS = ("rgb_elements", "luminance")
SI_DOMAINS = ("mu_law255", "linear255_clip", "gamma22_255", "pq1000_255")
DR_MODES = ("p98_p2", "mean_top_bottom_2pct", "p99_p1")
DR_ZERO_POLICIES = ("eps", "drop_zeros")
# Log10 luminance histogram shared by every frame so histograms add up across a dataset.
HIST_LO, HIST_HI, HIST_BINS = -6.0, 5.0, 220
_PQ = (2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128)  # m1, m2, c1, c2, c3


@dataclass(frozen=True)
class StatsOptions:
    """Every open choice of the metric definitions; defaults per hdr-metrics.md section 3.

    ``normalisation="auto"`` resolves to ``native`` for real benchmark labels (already
    ~[0, 1], 1.0 = saturation of the shortest exposure: hypothesis H1) and to
    ``official_p1p99`` for everything whose absolute scale says nothing about the peak
    (rendered sequences, plain folders of HDR images). ``eps`` is a *relative* floor of the
    DR zero policy (``Y' = max(Y, eps * P98)``), so it caps DR at ``log10(1 / eps)`` and keeps
    DR scale-invariant.
    """

    normalisation: str = "auto"
    fhlp_unit: str = "rgb_elements"
    threshold: float = 0.1
    si_domain: str = "mu_law255"
    cf_domain: str = "follow_si"
    luma_weights: str = "bt709"
    dr_mode: str = "p98_p2"
    dr_zero_policy: str = "eps"
    eps: float = 1e-6
    mu: float = 5000.0
    frames: str = "all"  # all | every:K | random:N
    seed: int = 0
    percent: bool = True

    def __post_init__(self) -> None:
        checks = (("normalisation", NORMALISATIONS), ("fhlp_unit", FHLP_UNITS),
                  ("si_domain", SI_DOMAINS), ("cf_domain", SI_DOMAINS + ("follow_si",)),
                  ("luma_weights", tuple(LUMA_WEIGHTS)), ("dr_mode", DR_MODES),
                  ("dr_zero_policy", DR_ZERO_POLICIES))
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise OptionError(f"stats option {name}={getattr(self, name)!r} is not valid",
                                  hint=f"use one of {', '.join(allowed)}")
        if not 0.0 < self.threshold < 1.0:
            raise OptionError(f"stats option threshold={self.threshold} must be in (0, 1)",
                              hint="0.1 = 100 nit diffuse white over a 1000 nit peak")
        if not 0.0 < self.eps < 1.0:
            raise OptionError(f"stats option eps={self.eps} must be in (0, 1)",
                              hint="a floor relative to P98; default 1e-6 caps DR at 6")
        if not self.mu > 0:
            raise OptionError(f"stats option mu={self.mu} must be > 0", hint="default 5000")
        parse_sampling(self.frames)

    @property
    def cf_resolved(self) -> str:
        return self.si_domain if self.cf_domain == "follow_si" else self.cf_domain

    def resolve_normalisation(self, kind: str) -> str:
        if self.normalisation != "auto":
            return self.normalisation
        return "native" if kind == "real" else "official_p1p99"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatsOptions:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def parse_sampling(spec: str) -> tuple[str, int]:
    """``all`` | ``every:K`` | ``random:N`` -> (mode, number)."""
    text = str(spec).strip().lower()
    if text == "all":
        return "all", 0
    mode, _, num = text.partition(":")
    if mode in ("every", "random") and num.isdigit() and int(num) > 0:
        return mode, int(num)
    raise OptionError(f"frame sampling {spec!r} is not valid", hint="use all, every:K or random:N")


def sample_frames(n: int, spec: str, seed: int, sequence: str) -> list[int]:
    """Which of a sequence's ``n`` frames to measure; random:N is seeded per sequence name."""
    mode, k = parse_sampling(spec)
    if mode == "all":
        return list(range(n))
    if mode == "every":
        return list(range(0, n, k))
    rng = np.random.default_rng([seed, zlib.crc32(sequence.encode("utf-8"))])
    return sorted(int(i) for i in rng.choice(n, size=min(k, n), replace=False))


def metric_domains(opts: StatsOptions, norm: str) -> dict[str, str]:
    """In words, the values each metric was computed on (written next to every result)."""
    after = f"after {norm} normalisation" if norm != "native" else "at native scale"
    unit = "RGB channel values" if opts.fhlp_unit == "rgb_elements" else "luminance"
    luma = f"{opts.luma_weights} luminance"
    return {
        "FHLP": f"{unit} {after}; share >= t={opts.threshold:g} (1.0 = peak)",
        "EHL": f"{unit} {after}; mean(max(v - t, 0)) / (1 - t), t={opts.threshold:g}",
        "SI": f"{opts.si_domain} of {luma} {after}; 3x3 Sobel, 1-px border dropped, "
              "population std",
        "CF": f"{opts.cf_resolved} of RGB {after}",
        "stdL": f"{luma} {after}, % of full scale",
        "ALL": f"{luma} {after}, % of full scale",
        "DR": f"linear {luma} as decoded (no normalisation, no offset); {opts.dr_mode}; "
              + (f"zeros floored at {opts.eps:g} x the upper statistic"
                 if opts.dr_zero_policy == "eps" else "zeros dropped"),
    }


# ---- luminance and exact order statistics ---------------------------------------------------

def luminance(rgb: np.ndarray, weights: str = "bt709") -> np.ndarray:
    """Linear luminance (H, W) float32 from linear RGB (H, W, 3), RGB channel order.

    cv2.transform with a 1x3 matrix is half the cost of ``rgb @ w`` on a 1080p frame.
    """
    import cv2

    w = np.asarray(LUMA_WEIGHTS[weights], dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        return rgb @ w
    return cv2.transform(np.ascontiguousarray(rgb, dtype=np.float32), w.reshape(1, 3))


_HIGH_HALF = 1 if sys.byteorder == "little" else 0


def _prefix_histogram(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(top 16 bits of each float32, 65536-bin histogram of them).

    The high 16-bit half of each value is gathered in one strided copy (cheaper than a
    shift and a narrowing cast of the whole plane).
    """
    import cv2

    top = np.ascontiguousarray(v.view(np.uint16)[_HIGH_HALF::2])
    hist = cv2.calcHist([top.reshape(1, -1)], [0], None, [65536], [0, 65536])
    return top, hist.ravel()


class Quantiles:
    """Exact order statistics of non-negative float32 data without a full sort.

    Why: ``np.sort`` of a 1080p plane costs ~70 ms on CPUs where numpy's AVX-512 sort is not
    used (7 ms where it is). Non-negative IEEE floats order like their bit patterns, so a
    65536-bin histogram of the top 16 bits (cv2.calcHist, ~2 ms) locates the bin of any
    rank; only that bin's few values are then partitioned. The same histogram gives the log
    luminance histogram (bin width 2^-7 relative) for free.
    """

    def __init__(self, values: np.ndarray):
        v = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        top, hist = _prefix_histogram(v)
        if hist[0x8000:].any():  # sign bit set: -0.0 (or a negative) sorts after +inf by bits
            v = v + np.float32(0.0)  # -0.0 -> +0.0 so the bit order is the value order
            top, hist = _prefix_histogram(v)
        self.values = v  # may alias ``values``: callers do not modify it while measuring
        self.n = int(v.size)
        self.top = top
        self.counts = hist.astype(np.int64)
        self.cum = np.cumsum(self.counts)
        self._bins: dict[int, np.ndarray] = {}
        self._zeros: int | None = None

    @property
    def zeros(self) -> int:
        if self._zeros is None:
            self._zeros = int(np.count_nonzero(self.values == 0)) if self.counts[0] else 0
        return self._zeros

    def kth(self, rank: int) -> float:
        """The ``rank``-th smallest value (0-based)."""
        rank = min(max(int(rank), 0), self.n - 1)
        b = int(np.searchsorted(self.cum, rank, side="right"))
        start = int(self.cum[b - 1]) if b else 0
        sel = self._bins.get(b)
        if sel is None:
            sel = np.sort(self.values[self.top == b])
            self._bins[b] = sel
        return float(sel[rank - start])

    def percentiles(self, qs: Sequence[float], skip: int = 0) -> list[float]:
        """``np.percentile`` (linear) of the values, ignoring the ``skip`` smallest."""
        m = self.n - skip
        out = []
        for q in qs:
            pos = q / 100.0 * (m - 1)
            lo = int(math.floor(pos))
            frac = pos - lo
            a = self.kth(skip + lo)
            b = self.kth(skip + min(lo + 1, m - 1)) if frac > 0 else a
            out.append(a + (b - a) * frac)
        return out

    def smallest(self, k: int, skip: int = 0) -> np.ndarray:
        """The ``k`` smallest values after the ``skip`` smallest, sorted."""
        edge = self.kth(skip + k - 1)
        v = self.values
        return np.sort(v[v <= edge])[skip:skip + k]

    def tail_means(self, k: int, skip: int = 0) -> tuple[float, float]:
        """Means of the ``k`` smallest and ``k`` largest values (after ``skip`` smallest)."""
        v = self.values
        lo_v = self.kth(skip + k - 1)
        below = v < lo_v
        n_below = int(np.count_nonzero(below)) - skip
        s_below = float(v[below].sum(dtype=np.float64))  # skipped values are zeros
        lo = (s_below + (k - n_below) * lo_v) / k
        hi_v = self.kth(self.n - k)
        above = v > hi_v
        n_above = int(np.count_nonzero(above))
        hi = (float(v[above].sum(dtype=np.float64)) + (k - n_above) * hi_v) / k
        return lo, hi


# ---- the SI / CF domains --------------------------------------------------------------------

def mu_law(x: np.ndarray, mu: float = 5000.0) -> np.ndarray:
    """T(x) = log(1 + mu x) / log(1 + mu); x assumed in [0, 1], no clipping (section 2.7)."""
    return (np.log1p(np.asarray(x, dtype=np.float32) * np.float32(mu))
            / np.float32(math.log1p(mu))).astype(np.float32)


def pq_encode(nits: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 inverse EOTF: absolute luminance (cd/m^2) -> code value in [0, 1]."""
    m1, m2, c1, c2, c3 = _PQ
    y = np.clip(nits, 0.0, 10000.0).astype(np.float32) / np.float32(10000.0)
    p = np.power(y, np.float32(m1))
    return np.power((c1 + c2 * p) / (1.0 + c3 * p), np.float32(m2)).astype(np.float32)


def to_domain(x: np.ndarray, domain: str, mu: float = 5000.0) -> np.ndarray:
    """Map linear values to the 8-bit-scaled plane SI / CF are computed on."""
    plane, scale = domain_unscaled(x, domain, mu)
    plane *= np.float32(scale)
    return plane


def domain_unscaled(x: np.ndarray, domain: str, mu: float = 5000.0
                    ) -> tuple[np.ndarray, float]:
    """(plane, k) with ``to_domain(x) == k * plane``.

    Why: SI and CF are positively homogeneous (metric(k F) = k metric(F)), so the constant
    factor is applied to the final number instead of to millions of values.
    """
    import cv2

    if domain == "mu_law255":
        if x.ndim == 3 and x.shape[2] == 3:
            m = np.array([[mu, 0, 0, 1], [0, mu, 0, 1], [0, 0, mu, 1]], dtype=np.float32)
            t = cv2.transform(np.ascontiguousarray(x, dtype=np.float32), m)
        else:
            t = np.multiply(x, np.float32(mu), dtype=np.float32)
            t += np.float32(1.0)
        flat = t.reshape(t.shape[0], -1)
        cv2.log(flat, dst=flat)  # ln(1 + mu x); cv2.log abs error ~1e-6
        return t, 255.0 / math.log1p(mu)
    if domain == "linear255_clip":
        return np.clip(x, 0.0, 1.0).astype(np.float32, copy=False), 255.0
    if domain == "gamma22_255":
        return np.power(np.clip(x, 0.0, 1.0), np.float32(1 / 2.2)).astype(np.float32), 255.0
    if domain == "pq1000_255":
        return pq_encode(x * np.float32(1000.0)), 255.0
    raise OptionError(f"unknown domain {domain!r}", hint=f"use one of {', '.join(SI_DOMAINS)}")


# ---- the metrics ----------------------------------------------------------------------------

def spatial_information(plane: np.ndarray) -> float:
    """P.910 SI of one plane: population std of the Sobel magnitude, 1-px border dropped.

    cv2.Sobel (ksize 3, scale 1) is the same unnormalised kernel as ``scipy.ndimage.sobel``;
    the border pixels, where the two differ by their padding rule, are the ones dropped.
    """
    import cv2

    if plane.shape[0] < 3 or plane.shape[1] < 3:
        return 0.0
    f = np.ascontiguousarray(plane, dtype=np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.magnitude(gx, gy)[1:-1, 1:-1]
    _, std = cv2.meanStdDev(mag)
    return float(std[0, 0])


def colourfulness(rgb_domain: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003: sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2)."""
    import cv2

    # 3x4 matrix: cv2's fast path for 3-channel affine transforms (2-row matrices are ~5x
    # slower); the third output plane is unused zeros.
    m = np.array([[1.0, -1.0, 0.0, 0.0], [0.5, 0.5, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
                 dtype=np.float32)
    opp = cv2.transform(np.ascontiguousarray(rgb_domain, dtype=np.float32), m)
    mean, std = cv2.meanStdDev(opp)
    mean, std = mean.ravel()[:2], std.ravel()[:2]
    return float(math.hypot(std[0], std[1]) + 0.3 * math.hypot(mean[0], mean[1]))


def highlight_metrics(values: np.ndarray, t: float) -> tuple[float, float]:
    """HDRTV4K (FHLP, EHL) as fractions of 2-D ``values``: share >= t, mean excess / (1 - t).

    One pass: ``cv2.threshold`` keeps the values above the float32 just below ``t``, i.e.
    exactly the values ``>= t`` (t > 0, so every kept value counts as non-zero); values equal
    to ``t`` add nothing to the EHL sum.
    """
    import cv2

    n = values.size
    below = float(np.nextafter(np.float32(t), np.float32(-np.inf)))
    over = cv2.threshold(values, below, 0, cv2.THRESH_TOZERO)[1]
    count = cv2.countNonZero(over)
    above_sum = float(cv2.sumElems(over)[0])
    return count / n, (above_sum - float(np.float32(t)) * count) / n / (1.0 - t)


def dynamic_range(q: Quantiles, mode: str, zero_policy: str, eps: float) -> float:
    """LA-HDR DR in log10 units (orders of magnitude) of linear luminance; NaN if undefined.

    ``eps``: ``Y' = max(Y, eps * hi)`` with ``hi`` the upper statistic (P98, P99 or the top-2%
    mean), so DR <= log10(1 / eps) and the floor scales with the data; ``drop_zeros``: Y > 0
    only. Order statistics commute with ``max(., floor)``, so the floor is applied to them.
    """
    skip = q.zeros if zero_policy == "drop_zeros" else 0
    m = q.n - skip
    if m <= 0:
        return float("nan")
    if mode == "mean_top_bottom_2pct":
        k = max(1, int(round(0.02 * m)))
        lo, hi = q.tail_means(k, skip)
        floor = eps * hi if zero_policy == "eps" else 0.0
        if floor > 0 and q.kth(skip + k - 1) < floor:  # exact mean of max(Y, floor)
            lo = float(np.maximum(q.smallest(k, skip), np.float32(floor)).mean(
                dtype=np.float64))
    else:
        qlo, qhi = (2.0, 98.0) if mode == "p98_p2" else (1.0, 99.0)
        lo, hi = q.percentiles((qlo, qhi), skip)
        if zero_policy == "eps":
            lo = max(lo, eps * hi)
    if lo <= 0 or hi <= 0:
        return float("nan")
    return math.log10(hi) - math.log10(lo)


@functools.lru_cache(maxsize=1)
def _prefix_log10() -> tuple[np.ndarray, np.ndarray]:
    """log10 of each 16-bit float prefix (lower bin edge), and which prefixes are >= 0."""
    prefixes = (np.arange(65536, dtype=np.uint32) << 16).view(np.float32)
    valid = np.isfinite(prefixes) & (prefixes > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(valid, np.log10(np.where(valid, prefixes, 1).astype(np.float64)), 0.0)
    return logs, valid


def log_histogram(q: Quantiles, scale: float = 1.0) -> tuple[np.ndarray, int]:
    """Counts of ``log10(scale * Y)`` in the shared bins (clamped at the ends) + zeros.

    Derived from the 16-bit-prefix histogram: a prefix bin is assigned by its lower edge
    (error <= 2^-7 relative, invisible in a plot). ``scale`` is the normalisation's gain,
    so histograms of differently scaled datasets line up without the normalisation offset.
    """
    logs, valid = _prefix_log10()
    shift = math.log10(scale) if scale > 0 else 0.0
    pos = (logs + shift - HIST_LO) * (HIST_BINS / (HIST_HI - HIST_LO))
    idx = np.clip(pos, 0, HIST_BINS - 1).astype(np.intp)
    zeros = q.zeros
    hist = np.bincount(idx[valid], weights=q.counts[valid], minlength=HIST_BINS)
    hist = hist.astype(np.int64)
    hist[0] += int(q.counts[0]) - zeros  # positive values below ~1e-40 (prefix 0)
    return hist, zeros


# ---- normalisation --------------------------------------------------------------------------

def reference_params(frame0: np.ndarray, method: str) -> dict[str, float]:
    """Per-sequence parameters: official_p1p99 uses P1/P99 of frame 0 (all channel values)."""
    if method != "official_p1p99":
        return {}
    lo, hi = Quantiles(np.maximum(frame0, 0.0)).percentiles((1.0, 99.0))
    if not hi > lo:
        raise OptionError("frame 0 has P1 == P99, official_p1p99 normalisation is undefined",
                          hint="use --normalisation max or native for flat sequences")
    return {"p1": lo, "p99": hi}


def normalisation_map(rgb: np.ndarray, method: str, params: dict[str, float]
                      ) -> tuple[float, float, bool]:
    """(offset, gain, clip): the normalised frame is ``gain * (rgb - offset)``, clipped to
    [0, 1] when ``clip`` (the official preprocessing clips both ends, ``p99`` the top)."""
    if method == "native":
        return 0.0, 1.0, False
    if method == "official_p1p99":
        lo, hi = params["p1"], params["p99"]
        return lo, 1.0 / (hi - lo), True
    if method == "max":
        m = float(rgb.max())
        return 0.0, (1.0 / m if m > 0 else 1.0), False
    if method == "p99":
        p = Quantiles(rgb).percentiles((99.0,))[0]
        return 0.0, (1.0 / p if p > 0 else 1.0), True
    raise OptionError(f"unknown normalisation {method!r}",
                      hint=f"use one of {', '.join(NORMALISATIONS[1:])}")


def apply_map(rgb: np.ndarray, offset: float, gain: float, clip: bool) -> np.ndarray:
    """Apply a :func:`normalisation_map` in place (input already >= 0).

    Two passes: cv2's ``gain * v - gain * offset``, then numpy's clip to [0, 1] with float32
    bounds (one pass; numpy's clip / subtract / multiply / clip took twice as long).
    """
    import cv2

    if offset or gain != 1.0:
        flat = rgb.reshape(rgb.shape[0], -1)
        cv2.addWeighted(flat, gain, flat, 0.0, -gain * offset, dst=flat)
    if clip:
        np.clip(rgb, np.float32(0.0), np.float32(1.0), out=rgb)
    return rgb


def normalise(rgb: np.ndarray, method: str, params: dict[str, float],
              weights: str = "bt709") -> np.ndarray:
    """Apply the chosen normalisation in place (input already >= 0); returns ``rgb``."""
    return apply_map(rgb, *normalisation_map(rgb, method, params))


def sanitize(rgb: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Make a decoded frame measurable, in place; returns it and the (non-finite, negative)
    counts.

    NaN and -inf -> 0, +inf -> the largest finite value of the frame (an overflowed highlight
    stays the brightest value instead of turning black), negatives -> 0 (as the official
    reader's clip to [0, inf)).
    """
    import cv2

    nonfinite = 0
    if not all(math.isfinite(v) for v in cv2.sumElems(rgb)[:3]):
        bad = ~np.isfinite(rgb)
        nonfinite = int(np.count_nonzero(bad))
        hot = np.isposinf(rgb)
        rgb[bad] = 0.0
        if hot.any():
            rgb[hot] = float(rgb.max())
    negative = int(np.count_nonzero(rgb < 0)) if float(rgb.min()) < 0 else 0
    if negative:
        np.maximum(rgb, 0.0, out=rgb)
    return rgb, nonfinite, negative


# ---- one frame ------------------------------------------------------------------------------

@dataclass
class FrameMeasure:
    """The metrics of one frame, its linear-luminance quantiles, and the normalisation gain."""

    metrics: dict[str, float]
    quantiles: Quantiles
    gain: float


def measure_frame(rgb: np.ndarray, opts: StatsOptions, norm: str = "native",
                  params: dict[str, float] | None = None, *, inplace: bool = False
                  ) -> FrameMeasure:
    """All seven metrics of one sanitised linear RGB frame (H, W, 3), RGB order.

    DR comes from the linear luminance before normalisation; the others from the frame
    normalised by ``norm`` (``params`` from :func:`reference_params`). ``inplace`` lets the
    normalisation overwrite ``rgb`` (saves a copy per frame).
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    y_lin = luminance(rgb, opts.luma_weights)
    q = Quantiles(y_lin)
    dr = dynamic_range(q, opts.dr_mode, opts.dr_zero_policy, opts.eps)
    offset, gain, clip = normalisation_map(rgb, norm, params or {})
    if offset or clip:
        if not inplace:
            rgb = rgb.copy()
        apply_map(rgb, offset, gain, clip)
        y = luminance(rgb, opts.luma_weights)
    else:  # a pure gain: the luminance scales with it, the RGB is scaled only if needed
        y = y_lin if gain == 1.0 else y_lin * np.float32(gain)
        if gain != 1.0:
            rgb = rgb * np.float32(gain) if not inplace else apply_map(rgb, 0.0, gain, False)
    metrics = frame_metrics_normalised(rgb, y, opts)
    metrics["DR"] = dr
    return FrameMeasure(metrics, q, gain)


def frame_metrics_normalised(rgb: np.ndarray, y: np.ndarray, opts: StatsOptions
                             ) -> dict[str, float]:
    """FHLP, EHL, SI, CF, stdL, ALL of a normalised frame ``rgb`` with luminance ``y``."""
    import cv2

    pct = 100.0 if opts.percent else 1.0
    values = rgb.reshape(rgb.shape[0], -1) if opts.fhlp_unit == "rgb_elements" else y
    fhlp, ehl = highlight_metrics(values, float(opts.threshold))
    mean, std = cv2.meanStdDev(y)
    plane, k = domain_unscaled(y, opts.si_domain, opts.mu)
    si = k * spatial_information(plane)
    planes, k = domain_unscaled(rgb, opts.cf_resolved, opts.mu)
    cf = k * colourfulness(planes)
    return {"FHLP": pct * fhlp, "EHL": pct * ehl, "SI": si, "CF": cf,
            "stdL": pct * float(std[0, 0]), "ALL": pct * float(mean[0, 0])}


def frame_metrics(rgb: np.ndarray, opts: StatsOptions, norm: str = "native",
                  params: dict[str, float] | None = None) -> tuple[dict[str, float], Quantiles]:
    """(metrics, linear-luminance quantiles) of one frame; ``rgb`` is left unchanged."""
    m = measure_frame(rgb, opts, norm, params)
    return {k: m.metrics[k] for k in METRICS}, m.quantiles
