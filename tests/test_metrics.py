"""PSNR/SSIM per the Kalantari protocol agree with scikit-image; torch == numpy; guards."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from s2rhdr_loader import metrics as M


def _pair(seed, shape=(48, 40, 3)):
    rng = np.random.default_rng(seed)
    label = rng.random(shape) * 1.2  # labels may exceed 1 (not clipped)
    pred = label + rng.normal(0, 0.05, shape)  # predictions leave [0, 1] (clipped)
    return pred, label


def _ref_ssim(a, b):
    # skimage on the same [0, 255] images; it crops (win-1)/2 = 5 px before averaging, and
    # truncate=3.5 with sigma 1.5 gives the same 11x11 normalised Gaussian as cv2
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255, channel_axis=-1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agree_with_scikit_image(seed):
    pred, label = _pair(seed)
    p = np.clip(pred, 0, 1)
    assert M.psnr_l(pred, label) == peak_signal_noise_ratio(label, p, data_range=1.0)
    assert M.psnr_mu(pred, label) == peak_signal_noise_ratio(
        M.mu_tonemap(label), M.mu_tonemap(p), data_range=1.0)
    a, b = np.clip(255 * p, 0, 255), np.clip(255 * label, 0, 255)
    assert M.ssim_l(pred, label) == pytest.approx(_ref_ssim(a, b), abs=1e-6)
    am, bm = (np.clip(255 * M.mu_tonemap(x), 0, 255) for x in (p, label))
    assert M.ssim_mu(pred, label) == pytest.approx(_ref_ssim(am, bm), abs=1e-6)
    # skimage's full map cropped by 5 px is our map
    _, smap = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, full=True,
                                    use_sample_covariance=False, data_range=255,
                                    channel_axis=-1)
    np.testing.assert_allclose(M.ssim_map(a, b), smap[5:-5, 5:-5], atol=1e-6)


def test_torch_matches_numpy_batched():
    pairs = [_pair(s) for s in range(3)]
    pred = np.stack([p for p, _ in pairs])
    label = np.stack([g for _, g in pairs])
    ours = M.evaluate(pred, label)
    tp = torch.from_numpy(pred.transpose(0, 3, 1, 2)).float()
    tl = torch.from_numpy(label.transpose(0, 3, 1, 2)).float()
    theirs = M.evaluate_torch(tp, tl)
    ours32 = M.evaluate(tp.numpy().transpose(0, 2, 3, 1), tl.numpy().transpose(0, 2, 3, 1))
    for k in ours:
        assert ours[k].shape == (3,) and theirs[k].shape == (3,)
        np.testing.assert_allclose(theirs[k].numpy(), ours32[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours32[k], ours[k], atol=1e-4)
    single = M.ssim_l_torch(tp[0], tl[0])
    assert single.dim() == 0 and float(single) == pytest.approx(float(theirs["ssim_l"][0]))


def test_known_values_and_guards():
    label = np.full((16, 16, 3), 0.5)
    assert M.psnr_l(label, label) == math.inf
    assert float(M.psnr_mu_torch(torch.ones(3, 16, 16) / 2, torch.ones(3, 16, 16) / 2)) \
        == math.inf
    assert M.psnr_l(label + 0.01, label) == pytest.approx(-20 * math.log10(0.01))
    assert M.ssim_l(label, label) == pytest.approx(1.0)
    assert M.psnr_l(np.full_like(label, 3.0), np.ones_like(label)) == math.inf  # P clipped
    assert M.mu_tonemap(np.array(1.0)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="too small"):
        M.ssim_l(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="differ"):
        M.psnr_l(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
