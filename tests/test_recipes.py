"""Official recipe statistics match the release (s2rhdr-format.md section 4); sensor recipe."""

from __future__ import annotations

import numpy as np
import pytest

from s2rhdr_loader import recipes
from s2rhdr_loader.dataset import sample_generator


def _const(value: float, size: int = 64) -> np.ndarray:
    return np.full((3, size, size, 3), value, np.float32)


def test_exposure_sets_follow_two_thirds_one_third():
    draws = [tuple(recipes.choose_exposures(sample_generator(0, 0, i))) for i in range(3000)]
    assert set(draws) == {(1.0, 4.0, 16.0), (1.0, 8.0, 64.0)}
    frac = draws.count((1.0, 4.0, 16.0)) / len(draws)
    assert abs(frac - 2 / 3) < 0.03  # binomial sd 0.0086


def _noise_of(position: int, n_samples: int = 12) -> np.ndarray:
    """Recover the additive noise of ``position`` from the quantised LDR of a flat input."""
    h0 = 0.01
    out = []
    for i in range(n_samples):
        syn = recipes.official(_const(h0, 96), sample_generator(1, i), train=False)
        t = syn.exposures[position]
        out.append((syn.ldr[position].astype(np.float64) ** 2.2) / t - h0)
    return np.concatenate([o.ravel() for o in out])


@pytest.mark.parametrize("position", [0, 1])
def test_noise_sigma_is_drawn_per_value_from_the_position_range(position):
    lo, hi = recipes.OFFICIAL_SIGMA[position]
    n = _noise_of(position)
    expected_sd = np.sqrt((lo * lo + lo * hi + hi * hi) / 3)  # E[sigma^2], sigma ~ U[lo, hi]
    assert abs(n.mean()) < 0.02 * expected_sd + 2e-6
    assert n.std() == pytest.approx(expected_sd, rel=0.05)
    if position == 0:  # a per-value sigma is a scale mixture: kurtosis 3*E[s^4]/E[s^2]^2 > 3
        e4 = (hi**5 - lo**5) / (5 * (hi - lo))
        kurt_expected = 3 * e4 / expected_sd**4
        kurt = np.mean((n - n.mean()) ** 4) / n.var() ** 2
        assert kurt == pytest.approx(kurt_expected, abs=0.35)
        assert kurt > 4.0


def test_long_exposure_has_no_noise():
    syn = recipes.official(_const(0.01, 64), sample_generator(2, 0), train=False)
    assert np.unique(syn.ldr[2]).size == 1


def test_ldr_values_sit_on_q16_levels_and_saturate_at_one():
    rng = np.random.default_rng(0)
    hdr = rng.random((3, 32, 32, 3), dtype=np.float32)
    syn = recipes.official(hdr, sample_generator(3, 0), train=True)
    k = np.round(syn.ldr.astype(np.float64) * 65535)
    np.testing.assert_array_equal(syn.ldr, (k / 65535).astype(np.float32))  # exact levels
    assert syn.ldr.max() == 1.0 and syn.ldr.min() >= 0.0
    assert np.mean(syn.ldr[2] == 1.0) > 0.5  # long exposure of [0,1) data mostly saturates
    assert recipes.q16(np.float32(0.5)) == np.float32(np.floor(0.5 * 65535) / 65535)


def test_inputs_are_linearised_ldr_and_ldr():
    hdr = np.random.default_rng(1).random((3, 16, 16, 3), dtype=np.float32) * 0.05
    syn = recipes.official(hdr, sample_generator(4, 0), train=False)
    for i in range(3):
        t = syn.exposures[i]
        np.testing.assert_allclose(syn.inputs[i, ..., 3:], syn.ldr[i])
        np.testing.assert_allclose(syn.inputs[i, ..., :3], syn.ldr[i] ** 2.2 / (t + 1e-8),
                                   rtol=1e-5)


def test_label_is_position_one_noise_free_and_reexposure_clips_it():
    rng = np.random.default_rng(5)
    hdr = rng.random((3, 24, 24, 3), dtype=np.float32)  # three different frames
    clipped_seen = False
    for seed in range(40):
        syn = recipes.official(hdr, np.random.default_rng(seed), train=True)
        replay = np.random.default_rng(seed)
        recipes.choose_exposures(replay)
        factor = replay.uniform(0.25, 4.0)
        assert 0.25 <= factor <= 4.0
        expected = np.clip(hdr[1].astype(np.float16) * np.float16(factor), 0, 1)  # HALF path
        np.testing.assert_array_equal(syn.label, expected.astype(np.float32))
        assert syn.label.max() <= 1.0
        clipped_seen |= factor > 1.5 and bool(np.any(syn.label == 1.0))
    assert clipped_seen  # re-exposure > 1 saturates the ground truth (the release's defect)


def test_eval_has_no_reexposure():
    hdr = np.random.default_rng(6).random((3, 16, 16, 3), dtype=np.float32)
    syn = recipes.official(hdr, np.random.default_rng(0), train=False)
    np.testing.assert_array_equal(syn.label, hdr[1].astype(np.float16).astype(np.float32))


def test_sensor_recipe_keeps_highlights_and_has_signal_dependent_noise():
    hdr = _const(3.0, 32)  # above 1: would be clipped by the official recipe
    syn = recipes.sensor(hdr, np.random.default_rng(0), train=False)
    assert syn.label.min() == pytest.approx(3.0)
    model = recipes.SensorModel(full_well=(1000, 1000), gain=(1, 1), read_noise=(0.0, 1e-9),
                                crfs=("gamma2.2",))
    sds = []
    for level in (0.002, 0.008):
        syn = recipes.sensor(_const(level, 96), np.random.default_rng(1), train=False,
                             model=model)
        lin = syn.ldr[0].astype(np.float64) ** 2.2  # t = 1: signal in well units
        sds.append(lin.std())
        assert lin.mean() == pytest.approx(level, rel=0.05)
    # Poisson: sd = sqrt(level / 1000); 4x the signal doubles the noise
    assert sds[1] / sds[0] == pytest.approx(2.0, rel=0.1)
    assert sds[0] == pytest.approx(np.sqrt(0.002 / 1000), rel=0.1)


@pytest.mark.parametrize("crf", sorted(recipes.CRFS))
def test_camera_responses_are_monotone_and_invertible(crf):
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    y = recipes.apply_crf(crf, x)
    assert y[0] == pytest.approx(0, abs=1e-6) and y[-1] == pytest.approx(1, abs=1e-6)
    assert np.all(np.diff(y) >= 0)
    np.testing.assert_allclose(recipes.invert_crf(crf, y), x, atol=2e-3)


def test_sensor_model_rejects_unknown_crf():
    with pytest.raises(ValueError, match="unknown camera response"):
        recipes.SensorModel(crfs=("sigmoid",))
