"""Dataset statistics of the S2R-HDR paper: FHLP, EHL, SI, DR, plus CF, stdL and ALL.

Definitions follow ``reference/hdr-metrics.md`` section 2 (HDRTV4K for FHLP/EHL, ITU-T P.910
for SI, Hasler & Suesstrunk for CF, LA-HDR for DR). The paper never published its script, so
every open choice (normalisation, FHLP unit, SI domain, luma weights, DR variant, zero policy,
frame sampling) is an explicit :class:`StatsOptions` field that is recorded next to the
numbers; the output is labelled "re-implemented" until calibrated on the real datasets.

Pure functions work on arrays (``frame_metrics``); :func:`compute_unit` is the picklable unit
of work that reads files (one sequence or a chunk of frames) for ``pipeline.executors``.
Speed (``reference/measurements.md`` section 6): one 16-bit-prefix histogram of the luminance
(:class:`Quantiles`) serves every percentile and the log histogram without a full sort; Sobel,
moments and thresholds come from cv2 in float32.
"""

from __future__ import annotations

import base64
import functools
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import S2RError
from s2rhdr_loader.core.errors import OptionError

LABEL = "re-implemented; definitions per HDRTV4K / P.910 / LA-HDR (not calibrated)"
METRICS = ("FHLP", "EHL", "SI", "CF", "stdL", "ALL", "DR")
LUMA_WEIGHTS = {"bt709": (0.2126, 0.7152, 0.0722), "bt601": (0.299, 0.587, 0.114)}
NORMALISATIONS = ("auto", "native", "official_p1p99", "max", "p99")
FHLP_UNITS = ("rgb_elements", "luminance")
SI_DOMAINS = ("mu_law255", "linear255_clip", "gamma22_255", "pq1000_255")
DR_MODES = ("p98_p2", "mean_top_bottom_2pct", "p99_p1")
DR_ZERO_POLICIES = ("eps", "drop_zeros")
# Log10 luminance histogram shared by every frame so histograms add up across a dataset.
HIST_LO, HIST_HI, HIST_BINS = -6.0, 5.0, 220
THUMB_WIDTH = 192
_PQ = (2610 / 16384, 2523 / 32, 3424 / 4096, 2413 / 128, 2392 / 128)  # m1, m2, c1, c2, c3


@dataclass(frozen=True)
class StatsOptions:
    """Every open choice of the metric definitions; defaults per hdr-metrics.md section 3.

    ``normalisation="auto"`` resolves to ``official_p1p99`` for rendered sequences (absolute
    radiance) and ``native`` for real benchmark labels (already ~[0, 1], hypothesis H1).
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
                raise S2RError(f"stats option {name}={getattr(self, name)!r} is not valid",
                               hint=f"use one of {', '.join(allowed)}")
        if not 0.0 < self.threshold < 1.0:
            raise S2RError(f"stats option threshold={self.threshold} must be in (0, 1)",
                           hint="0.1 = 100 nit diffuse white over a 1000 nit peak")
        if not self.eps > 0:
            raise S2RError(f"stats option eps={self.eps} must be > 0", hint="default 1e-6")
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


# ---- frame sampling -----------------------------------------------------------------------

def parse_sampling(spec: str) -> tuple[str, int]:
    """``all`` | ``every:K`` | ``random:N`` -> (mode, number)."""
    text = str(spec).strip().lower()
    if text == "all":
        return "all", 0
    mode, _, num = text.partition(":")
    if mode in ("every", "random") and num.isdigit() and int(num) > 0:
        return mode, int(num)
    raise S2RError(f"frame sampling {spec!r} is not valid", hint="use all, every:K or random:N")


def sample_frames(n: int, spec: str, seed: int, sequence: str) -> list[int]:
    """Which of a sequence's ``n`` frames to measure; random:N is seeded per sequence name."""
    mode, k = parse_sampling(spec)
    if mode == "all":
        return list(range(n))
    if mode == "every":
        return list(range(0, n, k))
    rng = np.random.default_rng([seed, zlib.crc32(sequence.encode("utf-8"))])
    return sorted(int(i) for i in rng.choice(n, size=min(k, n), replace=False))


# ---- pure metric helpers ------------------------------------------------------------------

def luminance(rgb: np.ndarray, weights: str = "bt709") -> np.ndarray:
    """Linear luminance (H, W) float32 from linear RGB (H, W, 3), RGB channel order."""
    w = np.asarray(LUMA_WEIGHTS[weights], dtype=np.float32)
    return rgb @ w


class Quantiles:
    """Exact order statistics of non-negative float32 data without a full sort.

    Why: ``np.sort`` of a 1080p plane costs ~70 ms on CPUs where numpy's AVX-512 sort is not
    used (7 ms where it is). Non-negative IEEE floats order like their bit patterns, so a
    65536-bin histogram of the top 16 bits (cv2.calcHist, ~2 ms) locates the bin of any
    rank; only that bin's few values are then partitioned. The same histogram gives the log
    luminance histogram (bin width 2^-7 relative) for free.
    """

    def __init__(self, values: np.ndarray):
        import cv2

        v = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        v = v + np.float32(0.0)  # -0.0 -> +0.0 so the bit order is the value order
        self.values = v
        self.n = int(v.size)
        self.top = (v.view(np.uint32) >> 16).astype(np.uint16)
        hist = cv2.calcHist([self.top.reshape(1, -1)], [0], None, [65536], [0, 65536])
        self.counts = hist.ravel().astype(np.int64)
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
    raise OptionError(f"unknown domain {domain!r}")


def spatial_information(plane: np.ndarray) -> float:
    """P.910 SI: population std of the Sobel magnitude, 1-px border dropped."""
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


def dynamic_range(q: Quantiles, mode: str, zero_policy: str, eps: float) -> float:
    """DR in log10 units (orders of magnitude) of linear luminance; NaN if nothing is left.

    ``eps``: Y = max(Y, eps) (order statistics commute with max); ``drop_zeros``: Y > 0 only.
    """
    skip = q.zeros if zero_policy == "drop_zeros" else 0
    m = q.n - skip
    if m <= 0:
        return float("nan")
    floor = eps if zero_policy == "eps" else 0.0
    if mode == "mean_top_bottom_2pct":
        k = max(1, int(round(0.02 * m)))
        lo, hi = q.tail_means(k, skip)
        if zero_policy == "eps":  # exact mean of max(Y, eps) over the tails
            lo, hi = max(lo, eps), max(hi, eps)
            if q.kth(k - 1) < eps:
                v = q.values
                bottom = np.sort(v[v <= q.kth(k - 1)])[:k]
                lo = float(np.maximum(bottom, np.float32(eps)).mean(dtype=np.float64))
    else:
        qlo, qhi = (2.0, 98.0) if mode == "p98_p2" else (1.0, 99.0)
        lo, hi = q.percentiles((qlo, qhi), skip)
        lo, hi = max(lo, floor), max(hi, floor)
    if lo <= 0 or hi <= 0:
        return float("nan")
    return math.log10(hi) - math.log10(lo)


@functools.lru_cache(maxsize=1)
def _prefix_bins() -> tuple[np.ndarray, np.ndarray]:
    """Log-histogram bin of each 16-bit float prefix (lower edge), and which are >= 0."""
    prefixes = (np.arange(65536, dtype=np.uint32) << 16).view(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = (np.log10(prefixes.astype(np.float64)) - HIST_LO) / (HIST_HI - HIST_LO)
    idx = np.clip(np.nan_to_num(pos * HIST_BINS, nan=0.0, neginf=0.0, posinf=HIST_BINS - 1),
                  0, HIST_BINS - 1).astype(np.intp)
    return idx, np.isfinite(prefixes) & (prefixes >= 0)


def log_histogram(q: Quantiles) -> tuple[np.ndarray, int]:
    """Counts of log10 luminance in the shared bins (clamped at the ends) + count of zeros.

    Derived from the 16-bit-prefix histogram: a prefix bin is assigned by its lower edge
    (error <= 2^-7 relative, invisible in a plot).
    """
    idx, valid = _prefix_bins()
    counts = q.counts.copy()
    zeros = q.zeros
    counts[0] -= zeros
    hist = np.bincount(idx[valid], weights=counts[valid], minlength=HIST_BINS)
    return hist.astype(np.int64), zeros


def frame_metrics(rgb: np.ndarray, opts: StatsOptions) -> tuple[dict[str, float], Quantiles]:
    """All seven metrics of one normalised linear RGB frame, plus its luminance quantiles.

    FHLP/EHL/ALL/stdL are in % of full scale when ``opts.percent``; SI and CF on the 0-255
    scale of their domain; DR in log10 units.
    """
    import cv2

    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    t = float(opts.threshold)
    pct = 100.0 if opts.percent else 1.0
    y = luminance(rgb, opts.luma_weights)
    if opts.fhlp_unit == "rgb_elements":
        values = rgb.reshape(rgb.shape[0], -1)
    else:
        values = y
    n = values.size
    fhlp = pct * np.count_nonzero(values >= np.float32(t)) / n
    over = cv2.threshold(values, t, 0, cv2.THRESH_TOZERO)[1]
    above_sum = float(cv2.sumElems(over)[0])
    above_cnt = cv2.countNonZero(over)
    ehl = pct * (above_sum - t * above_cnt) / n / (1.0 - t)
    mean, std = cv2.meanStdDev(y)
    plane, k = domain_unscaled(y, opts.si_domain, opts.mu)
    si = k * spatial_information(plane)
    planes, k = domain_unscaled(rgb, opts.cf_resolved, opts.mu)
    cf = k * colourfulness(planes)
    q = Quantiles(y)
    dr = dynamic_range(q, opts.dr_mode, opts.dr_zero_policy, opts.eps)
    out = {"FHLP": float(fhlp), "EHL": float(ehl), "SI": si, "CF": cf,
           "stdL": pct * float(std[0, 0]), "ALL": pct * float(mean[0, 0]), "DR": dr}
    return out, q


# ---- normalisation --------------------------------------------------------------------------

def reference_params(frame0: np.ndarray, method: str) -> dict[str, float]:
    """Per-sequence parameters: official_p1p99 uses P1/P99 of frame 0 (all channel values)."""
    if method != "official_p1p99":
        return {}
    lo, hi = Quantiles(np.maximum(frame0, 0.0)).percentiles((1.0, 99.0))
    if not hi > lo:
        raise S2RError("frame 0 has P1 == P99, official_p1p99 normalisation is undefined",
                       hint="use --normalisation max or native for flat sequences")
    return {"p1": lo, "p99": hi}


def normalise(rgb: np.ndarray, method: str, params: dict[str, float],
              weights: str = "bt709") -> np.ndarray:
    """Apply the chosen normalisation in place where possible (input already >= 0)."""
    if method == "native":
        return rgb
    if method == "official_p1p99":
        lo, hi = params["p1"], params["p99"]
        np.clip(rgb, lo, hi, out=rgb)
        rgb -= np.float32(lo)
        rgb *= np.float32(1.0 / (hi - lo))
        return rgb
    if method == "max":
        m = float(rgb.max())
        if m > 0:
            rgb *= np.float32(1.0 / m)
        return rgb
    if method == "p99":
        p = Quantiles(rgb).percentiles((99.0,))[0]
        if p > 0:
            rgb *= np.float32(1.0 / p)
            np.minimum(rgb, 1.0, out=rgb)
        return rgb
    raise OptionError(f"unknown normalisation {method!r}")


def sanitize(rgb: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Clip negatives to 0 and zero non-finite values (as the official reader); counts both."""
    import cv2

    nonfinite = 0
    if not all(math.isfinite(v) for v in cv2.sumElems(rgb)[:3]):
        bad = ~np.isfinite(rgb)
        nonfinite = int(np.count_nonzero(bad))
        rgb[bad] = 0.0
    negative = int(np.count_nonzero(rgb < 0)) if float(rgb.min()) < 0 else 0
    if negative:
        np.maximum(rgb, 0.0, out=rgb)
    return rgb, nonfinite, negative


# ---- file readers ---------------------------------------------------------------------------

def read_linear_rgb(path: str | Path) -> np.ndarray:
    """Linear RGB float32 (H, W, 3) from an EXR frame or an RGBE .hdr label."""
    p = Path(path)
    if p.suffix.lower() == ".hdr":
        from s2rhdr_loader.core.hdr import read_hdr

        return read_hdr(p)
    from s2rhdr_loader.core.exr import read_exr

    img = read_exr(p)
    if img.shape[2] < 3:
        img = np.repeat(img[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def thumbnail_png(rgb: np.ndarray, width: int = THUMB_WIDTH) -> str:
    """Base64 PNG of a tonemapped thumbnail (P99 luminance -> white, sRGB-like gamma)."""
    import cv2

    h, w = rgb.shape[:2]
    tw = max(1, min(width, w))
    th = max(1, int(round(h * tw / w)))
    small = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA)
    white = Quantiles(np.maximum(luminance(small), 0.0)).percentiles((99.0,))[0]
    disp = np.clip(small / max(white, 1e-12), 0.0, 1.0) ** (1 / 2.2)
    bgr = np.ascontiguousarray((disp[:, :, ::-1] * 255.0 + 0.5).astype(np.uint8))
    ok, buf = cv2.imencode(".png", bgr)
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


# ---- the unit of work -----------------------------------------------------------------------

@dataclass(frozen=True)
class SeqChunk:
    """Some frames of one sequence; ``frame0`` is the normalisation reference."""

    sequence: str
    frame0: str
    frames: tuple[tuple[int, str], ...]  # (frame index in the sequence, path)
    thumbnail: bool = False


@dataclass(frozen=True)
class StatsUnit:
    """One picklable unit for ``run_tasks``: a sequence, a chunk of one, or many stills."""

    dataset: str
    key: str
    normalisation: str  # resolved
    chunks: tuple[SeqChunk, ...]
    options: StatsOptions


def _frame_record(index: int, path: str, rgb: np.ndarray, norm: str, params: dict[str, float],
                  opts: StatsOptions) -> tuple[dict[str, Any], Quantiles]:
    rgb, nonfinite, negative = sanitize(rgb)
    normalise(rgb, norm, params, opts.luma_weights)
    metrics, q = frame_metrics(rgb, opts)
    rec: dict[str, Any] = {"index": index, "path": path, "width": int(rgb.shape[1]),
                           "height": int(rgb.shape[0])}
    rec.update({k: (None if math.isnan(v) else round(v, 6)) for k, v in metrics.items()})
    if nonfinite or negative:
        rec["nonfinite"], rec["negative"] = nonfinite, negative
    return rec, q


def _read_or_error(path: str) -> np.ndarray | Exception:
    try:
        return read_linear_rgb(path)
    except (ValueError, OSError) as exc:
        return exc


def _prefetched(frames: Sequence[tuple[int, str]], cache: dict[int, np.ndarray]
                ) -> Iterator[tuple[int, tuple[int, str], np.ndarray | Exception]]:
    """Yield decoded frames while the next one decodes in a thread.

    Why: OpenEXR releases the GIL while it decompresses, so decoding frame t+1 overlaps the
    statistics of frame t and a single process costs about max(decode, compute) per frame
    instead of their sum. At most two frames are in memory. ``S2RHDR_STATS_PREFETCH=0``
    turns it off (to measure process scaling alone).
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    if os.environ.get("S2RHDR_STATS_PREFETCH", "1") == "0":
        for pos, frame in enumerate(frames):
            yield pos, frame, cache.pop(pos) if pos in cache else _read_or_error(frame[1])
        return

    def load(pos: int) -> Any:
        if pos in cache:
            return _Ready(cache.pop(pos))
        return pool.submit(_read_or_error, frames[pos][1])

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats-decode") as pool:
        nxt = load(0) if frames else None
        for pos, frame in enumerate(frames):
            cur = nxt
            nxt = load(pos + 1) if pos + 1 < len(frames) else None
            yield pos, frame, cur.result()


class _Ready:
    """A finished 'future' for frames already in memory."""

    def __init__(self, value: np.ndarray):
        self.value = value

    def result(self) -> np.ndarray:
        return self.value


def compute_chunk(chunk: SeqChunk, norm: str, opts: StatsOptions) -> dict[str, Any]:
    """Metrics of one chunk; unreadable files are reported in ``errors``, never raised."""
    out: dict[str, Any] = {"sequence": chunk.sequence, "frames": [], "errors": [],
                           "hist": [0] * HIST_BINS, "zeros": 0, "params": {}, "thumbnail": None}
    hist = np.zeros(HIST_BINS, dtype=np.int64)
    params: dict[str, float] = {}
    cache: dict[int, np.ndarray] = {}
    if norm == "official_p1p99":
        try:
            f0 = read_linear_rgb(chunk.frame0)
            f0, _, _ = sanitize(f0)
            params = reference_params(f0, norm)
            if chunk.frames and chunk.frames[0][1] == chunk.frame0:
                cache[0] = f0
        except (S2RError, ValueError, OSError) as exc:
            msg = exc.one_line() if isinstance(exc, S2RError) else str(exc)
            for _, path in chunk.frames:
                out["errors"].append({"path": path, "message":
                                      f"normalisation reference {chunk.frame0}: {msg}"})
            return out
    out["params"] = params
    for pos, (index, path), rgb in _prefetched(chunk.frames, cache):
        if isinstance(rgb, Exception):  # ExrError / HdrError are ValueErrors
            out["errors"].append({"path": path, "message": " ".join(str(rgb).split())})
            continue
        if chunk.thumbnail and pos == 0:
            thumb_src = rgb.copy()
        rec, q = _frame_record(index, path, rgb, norm, params, opts)
        counts, zeros = log_histogram(q)
        hist += counts
        out["zeros"] += zeros
        out["frames"].append(rec)
        if chunk.thumbnail and pos == 0:
            thumb_src, _, _ = sanitize(thumb_src)
            out["thumbnail"] = thumbnail_png(normalise(thumb_src, norm, params))
    out["hist"] = hist.tolist()
    return out


def compute_unit(unit: StatsUnit) -> dict[str, Any]:
    """Run every chunk of a unit (top-level, picklable: the ``run_tasks`` entry point)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        import cv2

        cv2.setNumThreads(1)  # one worker per core: cv2's own threads would oversubscribe
    return {"dataset": unit.dataset, "key": unit.key,
            "chunks": [compute_chunk(c, unit.normalisation, unit.options) for c in unit.chunks]}


# ---- aggregation --------------------------------------------------------------------------

def summarise(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """mean/std/median/min/max over the non-missing values (population std)."""
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "mean": None, "std": None, "median": None, "min": None, "max": None}
    return {"n": int(arr.size), "mean": float(arr.mean()), "std": float(arr.std()),
            "median": float(np.median(arr)), "min": float(arr.min()), "max": float(arr.max())}


def sequence_summary(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-sequence means of each metric; SI also as the video-style max over frames."""
    out: dict[str, Any] = {m: summarise([f.get(m) for f in frames])["mean"] for m in METRICS}
    out["SI_max"] = summarise([f.get("SI") for f in frames])["max"]
    return out


# ---- datasets: discovery, units, cache, run -----------------------------------------------

FORMAT = "s2rhdr.stats"
VERSION = 1
STILLS_PER_UNIT = 16


@dataclass(frozen=True)
class DatasetSource:
    """A dataset to measure: rendered sequences (our/official layout) or real labels."""

    name: str
    root: Path
    kind: str  # "rendered" | "real"
    sequences: tuple[tuple[str, tuple[str, ...]], ...]  # (sequence name, frame paths)
    problems: tuple[dict[str, str], ...] = ()  # sequence folders that could not be listed


def open_source(root: str | Path, name: str | None = None) -> DatasetSource:
    """Recognise a dataset root: layout sequences first, else a folder of RGBE labels."""
    from s2rhdr_loader.core.hdr import find_labels
    from s2rhdr_loader.core.layout import LayoutError, read_sequence

    root = Path(root)
    if not root.is_dir():
        raise S2RError(f"{root}: dataset root not found", hint="pass an existing folder")
    # like layout.discover, but one broken sequence folder is reported, not fatal
    folders = [root] if (root / "img").is_dir() else [
        c for c in sorted(root.iterdir())
        if c.is_dir() and not c.name.startswith((".", "_")) and (c / "img").is_dir()]
    seqs, problems = [], []
    for folder in folders:
        try:
            seqs.append(read_sequence(folder))
        except (LayoutError, OSError) as exc:
            problems.append({"path": str(folder), "message": str(exc)})
    label = name or root.resolve().name
    if seqs or problems:
        return DatasetSource(label, root, "rendered", tuple(
            (s.name, tuple(str(p) for p in s.frames)) for s in seqs), tuple(problems))
    labels = find_labels(root)
    if labels:
        return DatasetSource(label, root, "real", tuple(
            (lab.name, (str(lab.path),)) for lab in labels))
    raise S2RError(f"{root}: no sequences (img/NNNN.exr, img/HDR/NNNN.exr) and no "
                   "HDRImg.hdr / hdr_img.hdr labels found",
                   hint="point at a dataset root, one sequence folder or a benchmark folder")


def plan_units(source: DatasetSource, opts: StatsOptions, jobs: int = 1) -> list[StatsUnit]:
    """Split a dataset into units: stills grouped by 16; a sequence whole, or in chunks when
    there are too few sequences to keep ``jobs`` workers busy."""
    norm = opts.resolve_normalisation(source.kind)
    units: list[StatsUnit] = []
    if source.kind == "real":
        chunks = [SeqChunk(n, paths[0], ((0, paths[0]),), True) for n, paths in source.sequences]
        for i in range(0, len(chunks), STILLS_PER_UNIT):
            group = tuple(chunks[i:i + STILLS_PER_UNIT])
            units.append(StatsUnit(source.name, f"stills:{i}", norm, group, opts))
        return units
    pieces = 1
    if jobs > 1 and len(source.sequences) < 2 * jobs:
        pieces = math.ceil(2 * jobs / max(len(source.sequences), 1))
    for seq, paths in source.sequences:
        picked = sample_frames(len(paths), opts.frames, opts.seed, seq)
        if not picked:
            continue
        size = max(1, math.ceil(len(picked) / pieces))
        for start in range(0, len(picked), size):
            part = picked[start:start + size]
            frames = tuple((i, paths[i]) for i in part)
            chunk = SeqChunk(seq, paths[0], frames, thumbnail=(part[0] == 0))
            units.append(StatsUnit(source.name, f"{seq}:{part[0]}-{part[-1]}", norm,
                                   (chunk,), opts))
    return units


def _fingerprint(unit: StatsUnit) -> list[list[Any]]:
    paths = sorted({c.frame0 for c in unit.chunks} | {p for c in unit.chunks for _, p in c.frames})
    out = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p, None, None])
    return out


def _cache_path(cache_dir: Path, unit: StatsUnit) -> Path:
    import hashlib

    blob = repr((unit.dataset, unit.key, unit.normalisation, sorted(unit.options.to_dict()
                                                                   .items())))
    return cache_dir / (hashlib.sha1(blob.encode("utf-8")).hexdigest() + ".json")


def _load_cached(cache_dir: Path | None, unit: StatsUnit) -> dict[str, Any] | None:
    import json

    if cache_dir is None:
        return None
    path = _cache_path(cache_dir, unit)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != _fingerprint(unit):
        return None
    return data.get("result")


def _store_cached(cache_dir: Path | None, unit: StatsUnit, result: dict[str, Any]) -> None:
    from s2rhdr_loader.core.atomic import atomic_write_json

    if cache_dir is not None:
        atomic_write_json(_cache_path(cache_dir, unit),
                          {"fingerprint": _fingerprint(unit), "result": result})


@dataclass
class StatsRun:
    """The stats document (JSON-ready) plus first-frame thumbnails kept out of stats.json."""

    doc: dict[str, Any]
    thumbnails: dict[tuple[str, str], str]


def _dataset_doc(source: DatasetSource, norm: str, chunks: list[dict[str, Any]],
                 unit_errors: list[dict[str, str]]) -> dict[str, Any]:
    by_seq: dict[str, dict[str, Any]] = {}
    hist = np.zeros(HIST_BINS, dtype=np.int64)
    zeros = 0
    errors = list(unit_errors) + list(source.problems)
    for ch in chunks:
        seq = by_seq.setdefault(ch["sequence"], {"name": ch["sequence"], "frames": [],
                                                 "params": ch["params"]})
        seq["frames"].extend(ch["frames"])
        errors.extend(ch["errors"])
        hist += np.asarray(ch["hist"], dtype=np.int64)
        zeros += int(ch["zeros"])
    order = {name: i for i, (name, _) in enumerate(source.sequences)}
    sequences = sorted(by_seq.values(), key=lambda s: order.get(s["name"], len(order)))
    for seq in sequences:
        seq["frames"].sort(key=lambda f: f["index"])
        seq["metrics"] = sequence_summary(seq["frames"])
    frames = [f for s in sequences for f in s["frames"]]
    return {
        "name": source.name, "root": str(source.root), "kind": source.kind,
        "normalisation": norm,
        "num_sequences": len(source.sequences),
        "num_frames_on_disk": sum(len(p) for _, p in source.sequences),
        "num_frames_measured": len(frames),
        "metrics": {m: summarise([f.get(m) for f in frames]) for m in METRICS},
        "sequence_metrics": {m: summarise([s["metrics"][m] for s in sequences if s["frames"]])
                             for m in METRICS},
        "histogram": {"log10_lo": HIST_LO, "log10_hi": HIST_HI, "bins": HIST_BINS,
                      "counts": hist.tolist(), "zeros": zeros,
                      "domain": f"luminance after {norm} normalisation"},
        "errors": sorted(errors, key=lambda e: e["path"]),
        "sequences": [s for s in sequences if s["frames"]],
    }


def run_stats(roots: Sequence[str | Path], opts: StatsOptions, *,
              names: Sequence[str] | None = None, jobs: int = 1, executor: str = "local",
              cache_dir: str | Path | None = None, progress: bool = True) -> StatsRun:
    """Measure every dataset; resumable through ``cache_dir`` (one JSON per finished unit)."""
    from pipeline import __version__
    from pipeline.executors import run_tasks
    from s2rhdr_loader.core.progress import Progress

    if names and len(names) != len(roots):
        raise S2RError(f"{len(names)} --name values for {len(roots)} roots",
                       hint="give one --name per ROOT or none")
    sources: list[DatasetSource] = []
    seen: dict[str, int] = {}
    for i, root in enumerate(roots):
        src = open_source(root, names[i] if names else None)
        if src.name in seen:
            seen[src.name] += 1
            src = DatasetSource(f"{src.name}_{seen[src.name]}", src.root, src.kind, src.sequences,
                                src.problems)
        else:
            seen[src.name] = 1
        sources.append(src)
    cache = Path(cache_dir) if cache_dir is not None else None
    units = [u for s in sources for u in plan_units(s, opts, jobs)]
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sources}
    unit_errors: dict[str, list[dict[str, str]]] = {s.name: [] for s in sources}
    todo = []
    for u in units:
        cached = _load_cached(cache, u)
        if cached is None:
            todo.append(u)
        else:
            results[u.dataset].extend(cached["chunks"])
    with Progress(len(units), "stats", enabled=progress) as bar:
        bar.update(len(units) - len(todo), note="cached" if len(todo) < len(units) else None)
        for unit, result, err in run_tasks(compute_unit, todo, jobs=jobs, executor=executor):
            if err is not None:
                unit_errors[unit.dataset].append({"path": unit.key, "message": err.message})
            else:
                _store_cached(cache, unit, result)
                results[unit.dataset].extend(result["chunks"])
            bar.update(1, note=unit.key)
    thumbs: dict[tuple[str, str], str] = {}
    datasets = []
    for src in sources:
        for ch in results[src.name]:
            if ch.get("thumbnail"):
                thumbs[(src.name, ch["sequence"])] = ch["thumbnail"]
        datasets.append(_dataset_doc(src, opts.resolve_normalisation(src.kind),
                                     results[src.name], unit_errors[src.name]))
    doc = {"format": FORMAT, "version": VERSION, "tool_version": __version__, "label": LABEL,
           "options": opts.to_dict(), "units": {"FHLP": "%", "EHL": "%", "ALL": "%",
                                                "stdL": "%", "SI": "0-255 domain",
                                                "CF": "0-255 domain", "DR": "log10"},
           "datasets": datasets}
    return StatsRun(doc, thumbs)


CSV_COLUMNS = ("dataset", "sequence", "index", "path", "width", "height") + METRICS


def stats_csv(doc: dict[str, Any]) -> str:
    """One row per measured frame (the per-image values the dataset means come from)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for ds in doc["datasets"]:
        for seq in ds["sequences"]:
            for f in seq["frames"]:
                w.writerow([ds["name"], seq["name"]] + ["" if f.get(c) is None else f.get(c)
                                                        for c in CSV_COLUMNS[2:]])
    return buf.getvalue()


def write_stats(doc: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """stats.json + stats.csv, atomically, inside ``out_dir``."""
    from s2rhdr_loader.core.atomic import atomic_write_json, atomic_write_text
    from s2rhdr_loader.core.layout import safe_child

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [atomic_write_json(safe_child(out, "stats.json"), doc),
            atomic_write_text(safe_child(out, "stats.csv"), stats_csv(doc))]
