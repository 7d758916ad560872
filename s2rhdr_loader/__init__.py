"""s2rhdr_loader: PyTorch datasets, readers, metrics and the S2R-Adapter for linear HDR data.

Heavy names (torch) are imported lazily so ``import s2rhdr_loader.core.exr`` stays cheap for the
rendering pipeline; ``from s2rhdr_loader import S2RHDRDataset`` works as usual.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "S2RHDRDataset": "s2rhdr_loader.dataset",
    "DatasetOptions": "s2rhdr_loader.dataset",
    "Sample": "s2rhdr_loader.sample",
    "make_sample": "s2rhdr_loader.sample",
    "export_official": "s2rhdr_loader.export",
    "RealHDRDataset": "s2rhdr_loader.real",
    "SensorModel": "s2rhdr_loader.recipes",
    "build_cache": "s2rhdr_loader.cache",
    "psnr_l": "s2rhdr_loader.metrics",
    "psnr_mu": "s2rhdr_loader.metrics",
    "ssim_l": "s2rhdr_loader.metrics",
    "ssim_mu": "s2rhdr_loader.metrics",
}
# modules that moved (issue 10): old attribute name -> new module
_MOVED = {
    "exr": "s2rhdr_loader.core.exr",
    "layout": "s2rhdr_loader.core.layout",
    "progress": "s2rhdr_loader.core.progress",
    "adapter": "s2rhdr_loader.learn.adapter",
    "tta": "s2rhdr_loader.learn.tta",
    "models": "s2rhdr_loader.learn.models",
    "checkpoint": "s2rhdr_loader.learn.checkpoint",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 's2rhdr_loader' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
