"""Handheld shake: deterministic per seed, exact RMS per profile, spectrum inside the band."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.shake import AXES, BAND_HIGH_HZ, BAND_LOW_HZ, PROFILES, shake_offsets


def test_tripod_is_still():
    assert all(o == (0.0,) * 6 for o in shake_offsets("tripod", 1.0, 3, 30, 50))


@pytest.mark.parametrize("profile", ["standing", "walking", "running"])
def test_rms_per_axis_matches_profile_times_scale(profile):
    for scale in (1.0, 0.5):
        x = np.array(shake_offsets(profile, scale, 11, 30, 90))
        assert x.shape == (90, 6)
        np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
        rms = np.sqrt((x ** 2).mean(axis=0))
        np.testing.assert_allclose(rms, np.array(PROFILES[profile].rms) * scale, rtol=1e-9)


def test_profiles_are_ordered_by_amplitude():
    order = ["tripod", "standing", "walking", "running"]
    for a, b in zip(order, order[1:]):
        assert all(x < y for x, y in zip(PROFILES[a].rms, PROFILES[b].rms))


def test_deterministic_per_seed():
    a = shake_offsets("walking", 1.0, 7, 30, 40)
    assert a == shake_offsets("walking", 1.0, 7, 30, 40)
    assert a != shake_offsets("walking", 1.0, 8, 30, 40)


def band_fraction(signal: np.ndarray, fps: float, lo: float, hi: float) -> float:
    """Share of the signal's power between lo and hi Hz (plain DFT)."""
    n = len(signal)
    k = np.arange(n // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(k, np.arange(n)) / n) @ signal
    power = np.abs(dft) ** 2
    freqs = k * fps / n
    inside = (freqs >= lo) & (freqs <= hi)
    return float(power[inside].sum() / power[1:].sum())


@pytest.mark.parametrize("profile", ["standing", "walking", "running"])
def test_spectrum_inside_band(profile):
    fps, n = 60.0, 600  # 10 s: 0.1 Hz resolution
    x = np.array(shake_offsets(profile, 1.0, 5, fps, n))
    for axis in range(6):
        share = band_fraction(x[:, axis], fps, BAND_LOW_HZ - 0.2, BAND_HIGH_HZ + 0.2)
        assert share > 0.95, (profile, AXES[axis], share)
        # 1/f-like: more power below 3 Hz than above 6 Hz
        assert band_fraction(x[:, axis], fps, 0.3, 3.0) > band_fraction(x[:, axis], fps, 6, 13)


def test_walking_bob_peaks_at_step_frequency():
    fps, n = 60.0, 600
    dz = np.array(shake_offsets("walking", 1.0, 2, fps, n))[:, 2]
    spectrum = np.abs(np.fft.rfft(dz))
    peak_hz = np.argmax(spectrum) * fps / n
    assert 1.7 <= peak_hz <= 2.1


def test_low_fps_keeps_below_nyquist():
    fps, n = 12.0, 240
    x = np.array(shake_offsets("running", 1.0, 1, fps, n))
    assert band_fraction(x[:, 0], fps, 0.3, 0.45 * fps + 0.2) > 0.95


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown handheld profile"):
        shake_offsets("jogging", 1.0, 0, 30, 10)
    with pytest.raises(ValueError):
        shake_offsets("walking", 1.0, 0, 0, 10)
    assert shake_offsets("walking", 1.0, 0, 30, 1) == [(0.0,) * 6]
