"""Test-time radiometric self-calibration: recover a camera response from its own bracket."""

import numpy as np
import pytest
import torch

from s2rhdr_loader import recipes
from s2rhdr_loader.learn.selfcal import Response, estimate_inverse_response, recalibrate


def _bracket(crf, shift=0, noise=True, seed=0, size=64):
    """A wide-range scene seen by a camera with response ``crf`` at t = 1, 4, 16 (12 bits,
    shot noise of a 4000 e- well); ``shift`` moves the scene between frames (shake)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    scene = 10 ** (-3.2 + 3.4 * (0.6 * xx + 0.4 * yy))[..., None] * rng.uniform(0.5, 1, 3)
    scene = scene * (1 + 0.3 * np.sin(40 * xx))[..., None]
    exps = np.array([1.0, 4.0, 16.0])
    frames = []
    for i, t in enumerate(exps):
        h = np.roll(scene, shift * (i - 1), axis=1)
        sig = np.clip(h * t, 0, 2)
        if noise:
            sig = rng.poisson(sig * 4000) / 4000
        ldr = np.floor(recipes.apply_crf(crf, np.clip(sig, 0, 1)) * 4095) / 4095
        frames.append(ldr.transpose(2, 0, 1))
    return np.stack(frames), exps


MID = np.linspace(0.1, 0.9, 17)


@pytest.mark.parametrize("crf,tol", [("gamma2.2", 0.05), ("srgb", 0.05), ("filmic", 0.25)])
def test_the_inverse_response_is_recovered_from_the_bracket(crf, tol):
    """Against ``recipes.invert_crf`` (the camera's true inverse); relative error on
    mid-tones. The filmic curve's steep shoulder is only partly observable (looser)."""
    ldr, exps = _bracket(crf)
    g = estimate_inverse_response(ldr, exps)
    assert not g.fallback
    true = recipes.invert_crf(crf, MID.astype(np.float32)).astype(np.float64)
    rel = np.abs(g(MID) - true) / true
    assert float(np.median(rel)) < tol, (crf, np.round(g(MID), 3), np.round(true, 3))


def test_the_estimate_survives_camera_shake():
    """Quantile matching, not pixel pairs: a 3-pixel shift between frames changes little."""
    ldr, exps = _bracket("srgb", shift=3)
    g = estimate_inverse_response(ldr, exps)
    true = recipes.invert_crf("srgb", MID.astype(np.float32)).astype(np.float64)
    assert float(np.median(np.abs(g(MID) - true) / true)) < 0.05
    # and it sees sRGB's linear toe, which a fixed ^2.2 linearisation gets wrong by ~60 %
    assert g(np.array([0.1]))[0] / 0.1 ** 2.2 > 1.3


def test_too_few_usable_levels_fall_back_to_gamma():
    flat = np.full((3, 3, 8, 8), 0.5)
    g = estimate_inverse_response(flat, np.array([1.0, 4.0, 16.0]))
    assert g.fallback
    np.testing.assert_allclose(g(MID), MID ** 2.2)


def _sample(ldr, exps):
    return {f"input{i}": torch.from_numpy(np.concatenate([ldr[i] ** 2.2 / exps[i], ldr[i]])
                                          .astype(np.float32)) for i in range(3)} | {
        "exp": torch.tensor(exps, dtype=torch.float32), "label": torch.zeros(3, 4, 4)}


def test_recalibrate_rewrites_inputs_as_a_gamma_camera_would_have_made_them():
    ldr, exps = _bracket("srgb", noise=False, size=32)
    s = _sample(ldr, exps)
    out, g = recalibrate(s)
    assert torch.equal(out["label"], s["label"])
    for i in range(3):
        lin, enc = out[f"input{i}"][:3].double(), out[f"input{i}"][3:].double()
        torch.testing.assert_close(lin, enc ** 2.2 / exps[i], atol=1e-6, rtol=1e-4)
        torch.testing.assert_close(lin * exps[i], torch.from_numpy(g(ldr[i])), atol=1e-6,
                                   rtol=1e-4)
    # the true gamma-2.2 curve given explicitly leaves the inputs unchanged
    gamma = Response((), fallback=True)
    same, _ = recalibrate(s, gamma)
    for i in range(3):
        torch.testing.assert_close(same[f"input{i}"], s[f"input{i}"], atol=1e-6, rtol=1e-5)
    batched, _ = recalibrate({k: v.unsqueeze(0) for k, v in s.items()}, g)
    torch.testing.assert_close(batched["input1"][0], out["input1"])
