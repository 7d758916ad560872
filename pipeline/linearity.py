"""Is a frame scene-linear HDR or display-referred (tone-curved, gamma-encoded, 8-bit)?

A hard ceiling at 1.0 alone proves nothing: the official S2R-HDR preprocessing clips linear
frames to [0, 1] (P1 -> 0, P99 -> 1 of frame 0), and a correctly exposed overcast render may
peak below 1.0. Each piece of evidence below is named in the message when it fires:

- ``quantisation``: at most 256 distinct values per channel (or integers 0..255): an 8-bit
  source. Decisive on its own.
- ``gamma fit``: after the official black-level subtraction the darkest values come from
  just above P1, where the scene's value density is finite, so the share of values below
  ``v`` grows like ``v^1``; a display encoding ``v^(1/g)`` turns that into ``v^g`` (g = 2.2).
  The exponent is fitted between the 1% and 4% quantiles of the positive channel values
  (log 4 / log(q4 / q1)); >= 1.8 fires. Measured on the eight CC0 Blender studio-light HDRIs
  (real captures): 0.92-1.52 linear, 2.01-3.34 after x^(1/2.2); on Mitsuba renders of the
  nine scene specs 0.95-1.54 and 2.10-3.39. Applied where the first frame (or any frame) of
  the sequence carries the official signature: >= 0.5% exact zeros and >= 0.5% values at
  1.0. Frames with fewer than 2000 positive values are pooled over the sequence.
- ``histogram shape in log space``: without that signature, a bounded frame whose median
  luminance sits at display mid-grey (>= 0.3; a tone curve maps scene mid-grey 0.18 to
  ~0.46, a correct linear exposure keeps it at 0.12-0.18) with <= 1.5 stops of headroom to
  its maximum and a P10..P90 spread <= 6 stops (gamma compresses log spreads ~2.2x).
  Ambiguous on one frame (a white wall), so a sequence fails only when at least half of its
  bounded frames show it (``exposure across the sequence``); otherwise it is a warning.
- ``clip across the sequence``: a frame clipped at 1.0 (>= 0.5% of its values at 1.0, no
  black-level signature) in a sequence whose other frames exceed 1.0: a fixed exposure
  does not clip one frame of a shot, a display transform or a clamp does.
- ``scene-referred``: any value above 1.0 (and not 8-bit integers): linear by construction.

The decision is explicit in :func:`judge_sequence`; :class:`ToneEvidence` keeps the measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GAMMA_FIT_MIN = 1.8
TOE_FRACTIONS = (0.01, 0.04)
SIGNATURE_SHARE = 0.005
DISPLAY_GREY = 0.3
MAX_HEADROOM_STOPS = 1.5
MAX_SPREAD_STOPS = 6.0


@dataclass
class ToneEvidence:
    """Measures of one frame and what they say on their own."""

    frame: int | None
    path: str
    bounded: bool  # max <= 1.001: could be display-referred at all
    measures: dict[str, float | None] = field(default_factory=dict)
    decisive: str = ""  # quantisation evidence (fails the frame on its own)
    signature: bool = False  # official P1/P99 signature (zeros and a pile-up at 1.0)
    toe: float | None = None  # gamma-fit exponent (None: not measurable)
    display_grey: str = ""  # histogram-shape evidence text ("" when it did not fire)
    # small frames: the lowest positive values, pooled over the sequence for the gamma fit
    low: np.ndarray | None = None
    n_pos: int = 0

    def describe(self) -> str:
        """Why this frame counts as linear (for the per-frame record)."""
        m = self.measures
        if self.decisive:
            return f"display-referred: {self.decisive}"
        if not self.bounded:
            return f"scene-referred (max {m.get('max', 0):.4g} > 1)"
        if self.signature:
            toe = "n/a" if self.toe is None else f"{self.toe:.2f}"
            return (f"clipped linear: official P1/P99 signature ({100 * m['zeros']:.1f}% zeros, "
                    f"{100 * m['pile']:.1f}% at 1.0), gamma-fit exponent {toe}")
        if self.display_grey:
            return f"ambiguous: {self.display_grey}"
        return (f"linear in [0, 1] (median luminance {m.get('median', 0):.3g}, "
                f"{m.get('headroom', 0):.1f} stops headroom)")


def _levels(x: np.ndarray, max_levels: int = 256) -> bool:
    """At most ``max_levels`` distinct values per channel: data came from an 8-bit image."""
    if x.size < 4 * max_levels * x.shape[-1]:
        return False
    flat = x.reshape(-1, x.shape[-1])
    step = max(1, flat.shape[0] // 262144)
    return all(np.unique(flat[::step, c]).size <= max_levels for c in range(flat.shape[1]))


MIN_TOE_VALUES = 2000  # >= 20 values below the 1% quantile


def _exponent(a: float, b: float) -> float | None:
    fa, fb = TOE_FRACTIONS
    if not (a > 0 and b > a * (1 + 1e-6)):
        return None
    return math.log(fb / fa) / math.log(b / a)


def toe_exponent(rgb: np.ndarray) -> float | None:
    """Power-law exponent of the CDF of the smallest positive channel values (see module);
    None with fewer than ``MIN_TOE_VALUES`` positive values."""
    v = rgb.reshape(-1)
    pos = v[v > 0]
    if pos.size < MIN_TOE_VALUES:
        return None
    ka, kb = (int(f * pos.size) for f in TOE_FRACTIONS)
    part = np.partition(pos, (ka, kb))
    return _exponent(float(part[ka]), float(part[kb]))


def pooled_toe(evidence: list[ToneEvidence]) -> float | None:
    """The gamma-fit exponent of small frames pooled: quantiles of all their positive values
    (each frame keeps its lowest 10%, enough while frames are alike)."""
    n = sum(ev.n_pos for ev in evidence if ev.low is not None)
    if n < MIN_TOE_VALUES:
        return None
    low = np.sort(np.concatenate([ev.low for ev in evidence if ev.low is not None]))
    ka, kb = (int(f * n) for f in TOE_FRACTIONS)
    if kb >= low.size:
        return None
    return _exponent(float(low[ka]), float(low[kb]))


def frame_evidence(rgb: np.ndarray, y_pcts: tuple[float, float, float], y_max: float, *,
                   frame: int | None = None, path: str = "") -> ToneEvidence:
    """Evidence of one finite, non-negative RGB frame; ``y_pcts`` = luminance P10, P50, P90
    of its non-zero pixels, ``y_max`` its maximum luminance."""
    vmax = float(rgb.max())
    ev = ToneEvidence(frame, path, bounded=vmax <= 1.001, measures={"max": vmax})
    if vmax > 1.001:
        if vmax <= 255.0 and np.all(rgb == np.round(rgb)) and _levels(rgb):
            ev.decisive = (f"quantisation (integer values up to {vmax:.0f} with <= 256 levels: "
                           "an 8-bit image)")
        return ev
    if _levels(rgb):
        ev.decisive = "quantisation (<= 256 distinct levels per channel: an 8-bit source)"
        return ev
    p10, p50, p90 = y_pcts
    n = rgb.size
    zeros = float(np.count_nonzero(rgb == 0)) / n
    pile = float(np.count_nonzero(rgb >= 0.999)) / n
    spread = math.log2(p90 / p10) if p10 > 0 else float("inf")
    headroom = math.log2(y_max / p50) if p50 > 0 and y_max > 0 else float("inf")
    ev.measures.update({"zeros": zeros, "pile": pile, "median": p50, "headroom": headroom,
                        "spread": spread})
    ev.signature = zeros >= SIGNATURE_SHARE and pile >= SIGNATURE_SHARE
    ev.toe = toe_exponent(rgb)  # used when the sequence carries the official signature
    ev.measures["toe_exponent"] = ev.toe
    if ev.toe is None:  # too few values on its own: kept for the sequence's pooled fit
        pos = rgb.reshape(-1)[rgb.reshape(-1) > 0]
        ev.n_pos = int(pos.size)
        ev.low = np.sort(pos)[: max(1, pos.size // 10)]
    if p50 >= DISPLAY_GREY and headroom <= MAX_HEADROOM_STOPS and spread <= MAX_SPREAD_STOPS:
        ev.display_grey = (f"median luminance {p50:.2f} at display mid-grey, {headroom:.1f} "
                           f"stops of headroom below the maximum {y_max:.2f}, P10-P90 spread "
                           f"{spread:.1f} stops")
    return ev


_FIX = "render scene-linear output with the tone curve off (or export linear EXR)"


def _tonemapped(why: str) -> str:
    return f"looks tonemapped / display-referred; evidence: {why}; {_FIX}"


def _gamma_fit(rest: list[ToneEvidence]) -> list[tuple[ToneEvidence, str, str]]:
    """An officially normalised sequence: the pooled dark-end exponent decides."""
    toes = sorted(ev.toe for ev in rest if ev.toe is not None)
    if toes:
        k, over = toes[len(toes) // 2], f"median over {len(toes)} frame(s)"
    else:
        k, over = pooled_toe(rest), f"pooled over {len(rest)} small frame(s)"
    if k is None or k < GAMMA_FIT_MIN:
        return []  # a clip to [0, 1] by the official normalisation is linear
    why = (f"gamma fit: the darkest values grow like v^{k:.2f} ({over}); linear data after "
           "the official P1/P99 black-level subtraction grows like v^1, a display gamma 2.2 "
           "like v^2.2")
    return [(ev, "error", _tonemapped(why)) for ev in rest]


def _clipped_frames(rest: list[ToneEvidence], unbounded: list[ToneEvidence]
                    ) -> list[tuple[ToneEvidence, str, str]]:
    """Frames clipped at 1.0 in a shot whose other frames exceed 1.0."""
    peak = max(float(ev.measures["max"] or 0.0) for ev in unbounded)
    out = []
    for ev in rest:
        pile = float(ev.measures.get("pile") or 0.0)
        if pile >= SIGNATURE_SHARE:
            why = (f"clip across the sequence ({100 * pile:.1f}% of the values at 1.0 while "
                   f"{len(unbounded)} other frame(s) reach {peak:.4g}; a fixed exposure does "
                   "not clip one frame)")
            out.append((ev, "error", _tonemapped(why)))
    return out


def _display_grey(rest: list[ToneEvidence]) -> list[tuple[ToneEvidence, str, str]]:
    """Histogram-shape evidence: an error when at least half the bounded frames show it."""
    grey = [ev for ev in rest if ev.display_grey]
    severity = "error" if 2 * len(grey) >= len(rest) else "warning"
    note = "" if severity == "error" else " (the rest of the sequence looks linear)"
    share = f"{len(grey)} of {len(rest)} bounded frame(s) of the sequence"
    return [(ev, severity, _tonemapped(f"histogram shape in log space ({ev.display_grey}) "
                                       f"in {share}{note}")) for ev in grey]


def judge_sequence(evidence: list[ToneEvidence]) -> list[tuple[ToneEvidence, str, str]]:
    """(frame evidence, severity, message) for every frame that looks display-referred.

    Sequence-level evidence decides what one frame cannot: the official signature of the
    first frame makes the whole sequence officially normalised (one affine map per scene)
    and the gamma fit is pooled over its frames; a frame clipped at 1.0 next to frames above
    1.0 is clipped output; the histogram-shape evidence fails a sequence only when at least
    half of its bounded frames show it.
    """
    out = [(ev, "error", _tonemapped(ev.decisive)) for ev in evidence if ev.decisive]
    rest = [ev for ev in evidence if ev.bounded and not ev.decisive]
    if not rest:
        return out
    if (evidence[0].signature) or any(ev.signature for ev in rest):
        return out + _gamma_fit(rest)
    unbounded = [ev for ev in evidence if not ev.bounded and not ev.decisive]
    if unbounded:
        clipped = _clipped_frames(rest, unbounded)
        out += clipped
        rest = [ev for ev in rest if all(ev is not c for c, _, _ in clipped)]
    return out + (_display_grey(rest) if rest else [])
