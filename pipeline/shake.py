"""Handheld camera shake: seeded, band-limited, 1/f-like offsets per frame (stdlib only).

Why baked offsets: the planner adds them to the camera pose of every frame, so the shake is
identical in every backend and the ground-truth pose equals the rendered one (DESIGN.md §5).

Model, per axis (3 translations, 3 rotations): a sum of ``N_COMPONENTS`` sinusoids with
log-spaced random frequencies in ``[BAND_LOW_HZ, min(BAND_HIGH_HZ, 0.45 * fps)]``, equal
amplitudes (equal power per octave, i.e. a 1/f power spectrum) and random phases; walking
and running add a step bob (vertical at the step frequency, lateral sway and roll at half of
it). Each axis is made zero-mean and scaled so its RMS over the returned frames equals the
profile's RMS times ``amplitude_scale`` *exactly*. See ``docs/scene-spec.md`` for the table.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from s2rhdr_loader.core.errors import OptionError

BAND_LOW_HZ = 0.5
BAND_HIGH_HZ = 12.0
N_COMPONENTS = 24
AXES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw")

Offset = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class ShakeProfile:
    """RMS per axis: translations in metres (camera-local forward, right, up), rotations deg."""

    rms: Offset
    step_hz: float = 0.0  # 0: no step bob
    bob_share: Offset = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # fraction of each axis' power from bob


PROFILES: dict[str, ShakeProfile] = {
    "tripod": ShakeProfile(rms=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
    "standing": ShakeProfile(rms=(0.002, 0.003, 0.002, 0.15, 0.25, 0.25)),
    "walking": ShakeProfile(rms=(0.006, 0.010, 0.012, 0.5, 0.7, 0.6), step_hz=1.9,
                            bob_share=(0.2, 0.5, 0.7, 0.5, 0.3, 0.2)),
    "running": ShakeProfile(rms=(0.015, 0.025, 0.035, 1.2, 1.6, 1.4), step_hz=2.8,
                            bob_share=(0.2, 0.5, 0.7, 0.5, 0.3, 0.2)),
}

# which axes bob at the full step frequency (vertical, pitch) vs half of it (sway: y, roll, yaw)
_BOB_DIVISOR = (1.0, 2.0, 1.0, 2.0, 1.0, 2.0)


def _rng(seed: int, *parts: object) -> random.Random:
    text = "|".join(str(p) for p in (int(seed), "shake", *parts))
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def _normalise(x: list[float]) -> list[float]:
    """Zero-mean, unit-RMS copy (all zeros if the signal is constant)."""
    n = len(x)
    mean = sum(x) / n
    centred = [v - mean for v in x]
    rms = math.sqrt(sum(v * v for v in centred) / n)
    if rms < 1e-15:
        return [0.0] * n
    return [v / rms for v in centred]


def _noise(rng: random.Random, times: list[float], f_low: float, f_high: float) -> list[float]:
    ratio = f_high / f_low
    comps = []
    for k in range(N_COMPONENTS):  # one frequency per log sub-band, equal power per band
        u = (k + rng.random()) / N_COMPONENTS
        comps.append((2.0 * math.pi * f_low * ratio ** u, rng.uniform(0.0, 2.0 * math.pi)))
    return [sum(math.sin(w * t + ph) for w, ph in comps) for t in times]


def _bob(rng: random.Random, times: list[float], f: float) -> list[float]:
    ph1, ph2 = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.0, 2.0 * math.pi)
    w = 2.0 * math.pi * f
    return [math.sin(w * t + ph1) + 0.3 * math.sin(2.0 * w * t + ph2) for t in times]


def shake_offsets(profile: str, amplitude_scale: float, seed: int, fps: float,
                  n_frames: int) -> list[Offset]:
    """Per-frame ``(dx, dy, dz, droll, dpitch, dyaw)``: camera-local metres and degrees.

    ``dx`` is along the camera's forward axis, ``dy`` right, ``dz`` up (Unreal local axes).
    Frame ``i`` is at ``i / fps`` seconds. Pure and deterministic for a given seed.
    """
    if profile not in PROFILES:
        raise OptionError(f"unknown handheld profile {profile!r} (use {', '.join(PROFILES)})")
    if fps <= 0 or n_frames < 0 or amplitude_scale < 0:
        raise OptionError("fps must be > 0, n_frames >= 0 and amplitude_scale >= 0")
    prof = PROFILES[profile]
    zero: Offset = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    if n_frames < 2 or amplitude_scale == 0.0 or not any(prof.rms):
        return [zero] * n_frames
    times = [i / fps for i in range(n_frames)]
    f_high = min(BAND_HIGH_HZ, 0.45 * fps)
    f_low = min(BAND_LOW_HZ, f_high / 2.0)
    step_hz = prof.step_hz * _rng(seed, "step").uniform(0.95, 1.05) if prof.step_hz else 0.0
    columns = []
    for axis, name in enumerate(AXES):
        target = prof.rms[axis] * amplitude_scale
        if target == 0.0:
            columns.append([0.0] * n_frames)
            continue
        signal = _normalise(_noise(_rng(seed, name, "noise"), times, f_low, f_high))
        share = prof.bob_share[axis] if step_hz else 0.0
        if share > 0.0:
            bob = _normalise(_bob(_rng(seed, name, "bob"), times, step_hz / _BOB_DIVISOR[axis]))
            signal = [math.sqrt(1.0 - share) * a + math.sqrt(share) * b
                      for a, b in zip(signal, bob)]
            signal = _normalise(signal)
        columns.append([v * target for v in signal])
    return [tuple(col[i] for col in columns) for i in range(n_frames)]  # type: ignore[misc]


def rms_table() -> dict[str, Offset]:
    """RMS per profile and axis at ``amplitude_scale = 1`` (for docs and tests)."""
    return {name: p.rms for name, p in PROFILES.items()}
