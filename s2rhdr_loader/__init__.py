"""s2rhdr_loader: PyTorch datasets, readers, metrics and the S2R-Adapter for linear HDR data.

Heavy names (torch) are imported lazily so ``import s2rhdr_loader.exr`` stays cheap for the
rendering pipeline; ``from s2rhdr_loader import S2RHDRDataset`` works as usual.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "S2RHDRDataset": "s2rhdr_loader.dataset",
    "RealHDRDataset": "s2rhdr_loader.real",
    "SensorModel": "s2rhdr_loader.recipes",
    "build_cache": "s2rhdr_loader.cache",
    "psnr_l": "s2rhdr_loader.metrics",
    "psnr_mu": "s2rhdr_loader.metrics",
    "ssim_l": "s2rhdr_loader.metrics",
    "ssim_mu": "s2rhdr_loader.metrics",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 's2rhdr_loader' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
