"""Import the S2R-HDR release's own model classes from a local copy, for comparison tests only.

Nothing of the release is vendored: the source is read at test time from a git copy of
github.com/OpenImagingLab/S2R-HDR (``$S2RHDR_RELEASE_REPO``, default the session mirror), and
tests skip when there is none. The release imports ``timm``, ``thop`` and ``einops``; when they
are not installed, minimal stand-ins cover exactly what its model files use (``DropPath`` is
the identity in eval mode, ``to_2tuple``, ``trunc_normal_``, four ``rearrange`` patterns).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

DEFAULT_MIRROR = "/work/.mirror/OpenImagingLab+S2R-HDR/repo"
FILES = ("models/hdr_transformer.py", "models/SCTNet.py", "models/SCAB.py")


def _git_show(repo: Path, path: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"],
                             capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def _rearrange(x: torch.Tensor, pattern: str, **axes: int) -> torch.Tensor:
    """The four einops patterns the release's SCAB.py uses."""
    p = " ".join(pattern.split())
    if p == "b c h w -> b (h w) c":
        return x.flatten(2).transpose(1, 2)
    if p == "b (h w) c -> b c h w":
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], axes["h"], axes["w"])
    if p == "b (head c) h w -> b head c (h w)":
        b, c, h, w = x.shape
        return x.reshape(b, axes["head"], c // axes["head"], h * w)
    if p == "b head c (h w) -> b (head c) h w":
        b, hd, c, _ = x.shape
        return x.reshape(b, hd * c, axes["h"], axes["w"])
    raise NotImplementedError(f"einops stand-in: pattern {pattern!r}")


class _DropPath(nn.Module):
    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop_prob > 0:
            raise RuntimeError("stand-in DropPath is for eval-mode comparisons only")
        return x


def _install_stand_ins() -> list[str]:
    added = []
    try:
        import timm.layers  # noqa: F401
    except ImportError:
        timm = types.ModuleType("timm")
        layers = types.ModuleType("timm.layers")
        layers.DropPath = _DropPath
        layers.to_2tuple = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        layers.trunc_normal_ = nn.init.trunc_normal_
        timm.layers = layers
        sys.modules.update({"timm": timm, "timm.layers": layers})
        added += ["timm", "timm.layers"]
    for name, attrs in (("thop", {"profile": lambda *a, **k: (0, 0)}),
                        ("einops", {"rearrange": _rearrange})):
        try:
            importlib.import_module(name)
        except ImportError:
            mod = types.ModuleType(name)
            for k, v in attrs.items():
                setattr(mod, k, v)
            sys.modules[name] = mod
            added.append(name)
    return added


def release_models(tmp_path: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """(hdr_transformer module, SCTNet module) of the release, or ``pytest.skip``."""
    repo = Path(os.environ.get("S2RHDR_RELEASE_REPO", DEFAULT_MIRROR))
    if not repo.exists():
        pytest.skip(f"no copy of the S2R-HDR release at {repo} (set S2RHDR_RELEASE_REPO)")
    pkg = tmp_path / "release_src" / "models"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for path in FILES:
        text = _git_show(repo, path)
        if text is None:
            pytest.skip(f"{repo}: cannot read {path}")
        (pkg.parent / path).write_text(text)
    saved = {k: v for k, v in sys.modules.items() if k == "models" or k.startswith("models.")}
    for k in saved:
        del sys.modules[k]
    added = _install_stand_ins()
    sys.path.insert(0, str(pkg.parent))
    try:
        hdrt = importlib.import_module("models.hdr_transformer")
        sct = importlib.import_module("models.SCTNet")
    finally:
        sys.path.remove(str(pkg.parent))
        for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
            del sys.modules[k]
        sys.modules.update(saved)
        for k in added:
            sys.modules.pop(k, None)
    return hdrt, sct
