"""Pick the Mitsuba variant: fast ``llvm_ad_rgb`` when it really works, else ``scalar_rgb``.

Why a subprocess probe: drjit loads whatever libLLVM it finds, and with LLVM 15 (Debian 12's
default) the first Mitsuba render *aborts the whole process* (``LLVM ERROR: Cannot select
fminimum``), so no try/except can catch it. We render a tiny scene in a child process, cache
the verdict per (mitsuba version, python, installed libLLVM files) in ``~/.cache/s2rhdr/``
and fall back to ``scalar_rgb``. ``S2RHDR_MITSUBA_VARIANT`` overrides everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline.errors import RenderError

ENV_VAR = "S2RHDR_MITSUBA_VARIANT"
FAST, SAFE, GPU = "llvm_ad_rgb", "scalar_rgb", "cuda_ad_rgb"
SUPPORTED = (FAST, SAFE, GPU)

_PROBE = r"""
import mitsuba as mi
mi.set_variant("llvm_ad_rgb")
scene = mi.load_dict({"type": "scene", "s": {"type": "sphere"},
    "e": {"type": "constant"}, "integrator": {"type": "path"},
    "sensor": {"type": "perspective", "film": {"type": "hdrfilm", "width": 8, "height": 8},
               "to_world": mi.ScalarTransform4f().look_at([0, 0, 4], [0, 0, 0], [0, 1, 0])}})
img = mi.render(scene, spp=2)
import numpy as np
assert np.isfinite(np.asarray(img)).all()
print("OK")
"""

_CUDA_PROBE = _PROBE.replace('"llvm_ad_rgb"', '"cuda_ad_rgb"')

_chosen: str | None = None


def nvidia_gpu() -> str:
    """Name of the first NVIDIA GPU the driver reports ("" when there is none)."""
    import shutil

    if not os.path.exists("/proc/driver/nvidia/version") and not shutil.which("nvidia-smi"):
        return ""
    try:
        res = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "NVIDIA GPU (nvidia-smi failed)"
    return (res.stdout.strip().splitlines() or ["NVIDIA GPU"])[0]


def probe_cuda(timeout: float = 180.0) -> tuple[bool, str]:
    """Render 8x8 pixels with ``cuda_ad_rgb`` in a child process (only with an NVIDIA GPU)."""
    gpu = nvidia_gpu()
    if not gpu:
        return False, "no NVIDIA GPU"
    try:
        res = subprocess.run([sys.executable, "-c", _CUDA_PROBE], capture_output=True,
                             text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cuda probe failed to run ({exc})"
    if res.returncode == 0 and "OK" in res.stdout:
        return True, f"cuda probe render succeeded on {gpu}"
    tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
    return False, f"cuda probe exited {res.returncode}: {tail[0][:160]}"


def device(variant: str) -> str:
    """What renders: the GPU's name for CUDA, else the CPU model and thread count."""
    if variant.startswith("cuda"):
        return nvidia_gpu() or "NVIDIA GPU"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {model or 'unknown'} ({os.cpu_count()} threads)"


def _llvm_fingerprint() -> str:
    """Which libLLVM builds drjit could load: installing LLVM 19 invalidates the cache."""
    import glob
    import hashlib

    names = sorted({os.path.basename(p) for pattern in (
        "/usr/lib/*/libLLVM*.so*", "/usr/lib/libLLVM*.so*", "/usr/lib/llvm-*/lib/libLLVM*.so*",
        "/usr/local/lib/libLLVM*.so*", "/opt/homebrew/opt/llvm/lib/libLLVM*.dylib")
        for p in glob.glob(pattern)})
    names.append(os.environ.get("DRJIT_LIBLLVM_PATH", ""))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]


def _cache_file() -> Path:
    import hashlib

    import mitsuba

    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "s2rhdr"
    gpu = hashlib.sha256(nvidia_gpu().encode()).hexdigest()[:6] if nvidia_gpu() else "nogpu"
    tag = (f"mitsuba-{mitsuba.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"
           f"-llvm-{_llvm_fingerprint()}-{gpu}")
    return base / f"variant-probe-{tag}.json"


def probe_llvm(timeout: float = 120.0) -> tuple[bool, str]:
    """Render 8x8 pixels with ``llvm_ad_rgb`` in a child process; (works, reason)."""
    try:
        res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                             timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"probe failed to run ({exc})"
    if res.returncode == 0 and "OK" in res.stdout:
        return True, "llvm probe render succeeded"
    tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
    return False, f"llvm probe exited {res.returncode}: {tail[0][:160]}"


def cached_probe() -> tuple[bool, str]:
    """The probe verdict, computed once per machine and Mitsuba version."""
    path = _cache_file()
    try:
        data = json.loads(path.read_text())
        return bool(data["ok"]), str(data["reason"]) + " (cached)"
    except (OSError, ValueError, KeyError):
        pass
    ok, reason = probe_llvm()
    try:
        from s2rhdr_loader.core.atomic import atomic_write_json

        atomic_write_json(path, {"ok": ok, "reason": reason, "cuda": probe_cuda()})
    except OSError:
        pass  # an unwritable cache only costs a re-probe
    return ok, reason


def cached_cuda_probe() -> tuple[bool, str]:
    """The CUDA verdict (probed with the LLVM one; re-probed if an old cache lacks it)."""
    try:
        data = json.loads(_cache_file().read_text())
        ok, reason = data["cuda"]
        return bool(ok), str(reason) + " (cached)"
    except (OSError, ValueError, KeyError, TypeError):
        return probe_cuda()


def choose_variant(verbose: bool = True) -> str:
    """Variant name to use (env override, else probed LLVM, else scalar); not yet activated."""
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        if forced not in SUPPORTED:
            raise RenderError(f"{ENV_VAR}={forced!r} is not supported",
                              hint=f"use one of {', '.join(SUPPORTED)} or unset it")
        reason = f"forced by {ENV_VAR}"
        variant = forced
    else:
        cuda_ok, cuda_reason = cached_cuda_probe()
        if cuda_ok:
            variant, reason = GPU, cuda_reason
        else:
            ok, reason = cached_probe()
            variant = FAST if ok else SAFE
    if verbose:
        print(f"mitsuba variant: {variant} ({reason})", file=sys.stderr)
    return variant


def activate(verbose: bool = True) -> str:
    """Choose and set the variant once per process; returns its name."""
    global _chosen
    import mitsuba as mi

    if _chosen is None:
        name = choose_variant(verbose)
        try:
            mi.set_variant(name)
            mi.set_log_level(mi.LogLevel.Error)  # keep batch logs to our progress bar
        except (ImportError, AttributeError, ValueError) as exc:
            raise RenderError(f"cannot activate Mitsuba variant {name!r} ({exc})",
                              hint=f"set {ENV_VAR}=scalar_rgb") from None
        _chosen = name
    return _chosen
