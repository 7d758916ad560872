"""LDR synthesis: turn three linear HDR crops into the network's inputs and label.

Two recipes share one output convention (inputs ``[LDR**2.2 / t, LDR]``, exposures ``t`` with
the shortest at 1, label in the short exposure's radiance scale):

* ``official`` reproduces ``dataset/dataset_render.py::RenderFlowDataset`` of the S2R-HDR
  release (reference/s2rhdr-format.md section 4), distribution for distribution::

      LDR_i = Q16(clip((clip(H_i + n_i, 0, 1) * t_i) ** (1/2.2), 0, 1))

  exposure sets (1,4,16) p=2/3 and (1,8,64) p=1/3; training re-exposure
  ``H <- clip(U(0.25,4) * H, 0, 1)`` applied to every frame *and the label*; additive noise
  whose sigma is drawn per pixel and channel from [1e-4,1e-3] (short), [1e-5,1e-4] (medium),
  none (long); ``Q16(x) = floor(x * 65535) / 65535``; label = noise-free HDR of list position 1.
* ``sensor`` is ours: Poisson photon noise + Gaussian read noise from a sensor with a full-well
  capacity and analog gain, one of several camera response curves, no clipping of the label
  (highlights above 1 stay in the ground truth, defect #2 of the release).

All functions are pure: randomness comes from the ``numpy.random.Generator`` passed in.
Arrays are (..., H, W, 3) float32, channels last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2rhdr_loader.core.errors import OptionError

GAMMA = 2.2
EXPOSURE_SETS = ((1.0, 4.0, 16.0), (1.0, 4.0, 16.0), (1.0, 8.0, 64.0))  # drawn uniformly
OFFICIAL_SIGMA = ((1e-4, 1e-3), (1e-5, 1e-4), None)  # per list position; long frame: none
REEXPOSURE_RANGE = (0.25, 4.0)
Q16_LEVELS = 65535


_CHUNK = 32768  # torch's parallel grain size: smaller copies stay on the calling thread


def _torch_copy(src: np.ndarray, via_half: bool) -> np.ndarray:
    # torch converts float16 <-> float32 ~10x faster than numpy (F16C) and bit-identically;
    # chunks keep it single-threaded (a 2-thread pool on a busy CPU costs 100x more)
    import torch

    flat = np.ascontiguousarray(src).reshape(-1)
    out = np.empty(flat.shape, np.float32)
    dst, s = torch.from_numpy(out), torch.from_numpy(flat)
    for k in range(0, flat.size, _CHUNK):
        part = s[k:k + _CHUNK]
        dst[k:k + _CHUNK].copy_(part.half() if via_half else part)
    return out.reshape(src.shape)


def half_to_float(a: np.ndarray) -> np.ndarray:
    """float16 -> float32, bit-identical to ``astype`` (fast path for crops and the cache)."""
    a = np.asarray(a)
    if a.dtype != np.float16:
        return a.astype(np.float32)
    return _torch_copy(a, via_half=False)


def round_to_half(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to float16 precision (kept as float32), as ``astype`` would."""
    return _torch_copy(np.asarray(a, dtype=np.float32), via_half=True)


# ---- per-sequence normalisation (before any recipe) -------------------------------------------

NORMALIZE = ("preserve", "official", "none")


def frame_stats(frame0: np.ndarray) -> dict[str, float]:
    """Per-sequence normalisation statistics of frame 0 (all pixels and channels).

    Negative, NaN and inf values count as 0, as the release clips at 0 after reading.
    """
    flat = np.nan_to_num(np.maximum(frame0, 0.0), nan=0.0, posinf=0.0).ravel()
    p1, p99, p999 = np.percentile(flat, [1, 99, 99.9])
    return {"p1": float(p1), "p99": float(p99), "p999": float(p999), "max": float(flat.max())}


def normalize(h: np.ndarray, stats: dict[str, float], mode: str) -> np.ndarray:
    """Map raw radiance to the recipe's range, one map per sequence (temporally consistent).

    ``official``: ``clip((clip(H, p1, p99) - p1) / (p99 - p1), 0, 1)`` with the percentiles of
    frame 0, exactly the release's preprocessing (``preprocess_data_range``); known flaw: the
    top 1% of frame 0 is clipped to 1.0 and a black level is subtracted. ``preserve``
    (default): a pure radiance scale ``H / p99.9(frame 0)``; nothing is clipped, values above 1
    stay in the label. ``none``: the data is already normalised.
    """
    if mode == "none":
        return h
    if mode == "official":
        lo, hi = stats["p1"], stats["p99"]
        span = hi - lo if hi > lo else 1.0
        return np.clip((np.clip(h, lo, hi) - lo) / np.float32(span), 0.0, 1.0).astype(np.float32)
    if mode == "preserve":
        s = stats["p999"] if stats["p999"] > 0 else (stats["max"] if stats["max"] > 0 else 1.0)
        return (h / np.float32(s)).astype(np.float32)
    raise OptionError(f"normalize must be one of {NORMALIZE}, got {mode!r}")


# ---- the official recipe -------------------------------------------------------------------

def choose_exposures(rng: np.random.Generator) -> np.ndarray:
    """One of the official exposure sets: (1,4,16) with p=2/3, (1,8,64) with p=1/3."""
    return np.asarray(EXPOSURE_SETS[int(rng.integers(len(EXPOSURE_SETS)))], np.float32)


def q16(x: np.ndarray) -> np.ndarray:
    """Official 16-bit quantisation ``floor(x * 65535) / 65535`` (real data uses /65536)."""
    return (np.floor(x * np.float32(Q16_LEVELS)) / np.float32(Q16_LEVELS)).astype(np.float32)


def to_inputs(ldr: np.ndarray, t: float, gamma: float = GAMMA) -> np.ndarray:
    """Network input for one exposure: ``[LDR**gamma / (t + 1e-8), LDR]`` -> (..., 6)."""
    lin = np.power(ldr, np.float32(gamma)) / np.float32(t + 1e-8)
    return np.concatenate([lin.astype(np.float32), ldr.astype(np.float32)], axis=-1)


@dataclass
class Synthesis:
    """What a recipe produces for one sample (channels last); ``sample.make_sample`` turns it
    into the network's dict."""

    ldr: np.ndarray  # (3, H, W, 3) the LDR images, in [0, 1]
    label: np.ndarray  # (H, W, 3)
    exposures: np.ndarray  # (3,)
    linear: np.ndarray | None = None  # (3, H, W, 3) linear half if not LDR**2.2 / t

    @property
    def inputs(self) -> np.ndarray:
        """(3, H, W, 6) ``[linear, LDR]`` as the network sees it (for inspection and tests)."""
        if self.linear is not None:
            return np.concatenate([self.linear, self.ldr], axis=-1).astype(np.float32)
        return np.stack([to_inputs(self.ldr[i], float(self.exposures[i])) for i in range(3)])


def official(hdr: np.ndarray, rng: np.random.Generator, *, train: bool) -> Synthesis:
    """The release recipe on three normalised HDR crops (3, H, W, 3), list order = exposure order.

    Order of random draws follows the release: exposure set, re-exposure factor (training only),
    then per-position noise. The label is position 1 (the medium/reference exposure).
    Precision follows the release too: HDR as float16 (pyexr HALF) through re-exposure, the
    LDR path (noise sum, gamma, Q16) in float64 as the release's float64 noise makes it
    (the noise values themselves are drawn in float32), float32 at the end; the linear input
    part (``make_sample``) is computed from the float32 LDR (<= 1 ulp apart).
    """
    exps = choose_exposures(rng)
    # float16 values held in float32: numpy's float16 multiply is exactly "float32 product
    # (exact for two halves) rounded to half", done here with fast float32 arithmetic
    h = half_to_float(hdr) if hdr.dtype == np.float16 else round_to_half(hdr)
    if train:
        factor = float(rng.uniform(*REEXPOSURE_RANGE))
        h = round_to_half(h * np.float32(np.float16(factor)))
        np.clip(h, 0.0, 1.0, out=h)
    label = h[1].copy()
    shape = h.shape[1:]
    ldr = np.empty((3, *shape), np.float32)
    x = np.empty(shape, np.float64)
    for i in range(3):
        x[...] = h[i]
        sig = OFFICIAL_SIGMA[i]
        if sig is not None:  # sigma and N(0,1) drawn in float32 (2x faster), summed in float64
            noise = rng.uniform(sig[0], sig[1], size=shape).astype(np.float32)
            noise *= rng.standard_normal(size=shape, dtype=np.float32)
            x += noise
            np.clip(x, 0.0, 1.0, out=x)
        x *= float(exps[i])
        np.power(x, 1 / GAMMA, out=x)
        np.minimum(x, 1.0, out=x)
        x *= Q16_LEVELS
        np.floor(x, out=x)
        x /= Q16_LEVELS
        ldr[i] = x
    return Synthesis(ldr, label, exps)


# ---- the sensor recipe -----------------------------------------------------------------------

def _filmic(x: np.ndarray) -> np.ndarray:
    # Narkowicz's ACES fit of a filmic tone curve, rescaled so 1 -> 1, then display gamma.
    def f(v: np.ndarray) -> np.ndarray:
        return (v * (2.51 * v + 0.03)) / (v * (2.43 * v + 0.59) + 0.14)

    k = 4.0
    return np.power(np.clip(f(x * k) / f(np.asarray(k)), 0.0, 1.0), 1 / GAMMA)


def _srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


CRFS = {
    "gamma2.2": lambda x: np.power(x, 1 / GAMMA),
    "srgb": _srgb,
    "filmic": _filmic,
}


def apply_crf(name: str, x: np.ndarray) -> np.ndarray:
    """Camera response: linear [0, 1] -> encoded [0, 1], monotone, 0 -> 0 and 1 -> 1."""
    if name not in CRFS:
        raise OptionError(f"unknown camera response {name!r}; choose one of {sorted(CRFS)}")
    return CRFS[name](np.clip(x, 0.0, 1.0)).astype(np.float32)


def invert_crf(name: str, y: np.ndarray, lut_size: int = 4096) -> np.ndarray:
    """Numerical inverse of :func:`apply_crf` through a dense lookup table."""
    xs = np.linspace(0.0, 1.0, lut_size, dtype=np.float64) ** 3  # dense near black
    ys = apply_crf(name, xs).astype(np.float64)
    return np.interp(y, ys, xs).astype(np.float32)


@dataclass(frozen=True)
class SensorModel:
    """A photon-counting sensor, drawn per sample.

    Linear scene value ``H * t = 1`` fills the well. With analog ``gain`` g the saturation
    charge is ``full_well / g`` electrons, so higher gain means fewer electrons per level and
    more visible shot noise. Observed value = (Poisson(electrons) + N(0, read_noise)) / charge,
    clipped to [0, 1], passed through the camera response and quantised to ``bits``.
    Ranges are (low, high): ``full_well`` and ``gain`` log-uniform, ``read_noise`` uniform.
    """

    full_well: tuple[float, float] = (6000.0, 40000.0)  # electrons
    read_noise: tuple[float, float] = (1.5, 8.0)  # electrons rms
    gain: tuple[float, float] = (1.0, 8.0)
    crfs: tuple[str, ...] = ("gamma2.2", "srgb", "filmic")
    bits: int = 16
    reexposure: tuple[float, float] = REEXPOSURE_RANGE
    linearize: str = "gamma"  # network input: "gamma" (LDR**2.2, as real data) or "crf" (inverse)
    exposure_sets: tuple[tuple[float, float, float], ...] = field(default=EXPOSURE_SETS)

    def __post_init__(self) -> None:
        for name in self.crfs:
            if name not in CRFS:
                raise OptionError(f"unknown camera response {name!r}; choose from {sorted(CRFS)}")
        if self.linearize not in ("gamma", "crf"):
            raise OptionError(f"linearize must be 'gamma' or 'crf', got {self.linearize!r}")
        if not 8 <= self.bits <= 16:
            raise OptionError(f"bits must be in [8, 16], got {self.bits}")


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def sensor(hdr: np.ndarray, rng: np.random.Generator, *, train: bool,
           model: SensorModel | None = None) -> Synthesis:
    """Our recipe: Poisson-Gaussian noise, a random camera response, unclipped label."""
    m = model or SensorModel()
    exps = np.asarray(m.exposure_sets[int(rng.integers(len(m.exposure_sets)))], np.float32)
    h = np.maximum(hdr.astype(np.float32, copy=False), 0.0)
    if train:
        h = h * np.float32(rng.uniform(*m.reexposure))
    label = h[1].copy()  # noise-free, highlights above 1 kept
    charge = _loguniform(rng, *m.full_well) / _loguniform(rng, *m.gain)
    read = float(rng.uniform(*m.read_noise))
    crf = m.crfs[int(rng.integers(len(m.crfs)))]
    levels = np.float32(2 ** m.bits - 1)
    ldrs = []
    for i in range(3):
        electrons = np.minimum(h[i] * exps[i], 2.0) * charge  # beyond 2x full well: saturated
        counts = rng.poisson(electrons).astype(np.float32)
        counts += rng.standard_normal(size=h[i].shape, dtype=np.float32) * np.float32(read)
        signal = np.clip(counts / np.float32(charge), 0.0, 1.0)
        ldrs.append(np.floor(apply_crf(crf, signal) * levels) / levels)
    ldr = np.stack(ldrs).astype(np.float32)
    linear = None
    if m.linearize == "crf":
        linear = np.stack([invert_crf(crf, ldr[i]) / np.float32(exps[i] + 1e-8)
                           for i in range(3)]).astype(np.float32)
    return Synthesis(ldr, label.astype(np.float32), exps, linear)


RECIPES = ("official", "sensor")
