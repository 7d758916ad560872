"""Host side of the Unreal linearity self-test: analyse the calibration frames, keep a verdict.

The editor renders the calibration scene of ``pipeline.unreal_calibration`` through the same
lock and MRQ job as every shot; the editor has no numpy, so the frames are checked here:

- **scale**: every emissive card (13 emitters at -6..+6 EV, 3 grey cards) reads
  ``L x exposure.scale`` within 2 %;
- **slope**: log2(measured) against log2(expected) over the emitters has slope 1 +- 0.02
  (a tone curve or local exposure bends it);
- **clipping**: no plateau below 65504 (several emitters reading the same top value, or the
  brightest emitter short while the others are right), no non-finite pixel;
- **halo**: around every emitter of pixel value >= 1 the black backdrop 2-6 px outside the
  card holds < 0.5 % of the card's value (bloom or depth of field spread it);
- **drift**: each card is constant across the frames within 1 % (eye adaptation);
- **sun**: the default-lit white card reads ``E rho cos(theta) / pi x scale`` within 10 %
  (looser: Lumen GI from the bright emitters and the atmosphere add to it).

The verdict (``<Project>/Saved/S2RHDR/selftest-verdict.json``) records the checks, the
editor, the engine version and the plugin's digest; the ``unreal`` backend refuses to render
without a passing verdict for the installed plugin and the configured editor
(``--skip-selftest`` overrides).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import unreal_calibration as cal
from pipeline.errors import RenderError, S2RError

VERDICT = Path("Saved") / "S2RHDR" / "selftest-verdict.json"
FORMAT = "s2rhdr.unreal.selftest"
SCALE_TOL, SLOPE_TOL, SUN_TOL, HALO_MAX, DRIFT_MAX = 0.02, 0.02, 0.10, 0.005, 0.01
HALF_MAX = 65504.0
REC709 = (0.2126, 0.7152, 0.0722)


@dataclass
class Analysis:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One line: ``linear`` or every failed check joined by ``; ``."""
        return "linear output verified" if self.ok else "; ".join(self.reasons)


def _pixels(plan: Any, target: cal.Target, shrink: float) -> tuple[slice, slice]:
    """Rows/columns whose pixel centres (i + 0.5) fall inside the card's projection."""
    u0, v0, u1, v1 = cal.pixel_rect(plan, target, shrink)
    cols = slice(max(0, math.ceil(u0 - 0.5)), math.floor(u1 - 0.5) + 1)
    rows = slice(max(0, math.ceil(v0 - 0.5)), math.floor(v1 - 0.5) + 1)
    return rows, cols


def _luminance(frame: Any) -> Any:
    import numpy as np

    img = np.asarray(frame, np.float64)
    return img[..., :3] @ np.asarray(REC709) if img.ndim == 3 else img


def _ring(lum: Any, plan: Any, target: cal.Target, inner_px: float = 2.0,
          outer_px: float = 6.0) -> float:
    """Mean of the backdrop between ``inner_px`` and ``outer_px`` outside the card."""
    import numpy as np

    u0, v0, u1, v1 = cal.pixel_rect(plan, target, 1.0)
    h, w = lum.shape
    vv, uu = np.mgrid[0:h, 0:w] + 0.5
    dx = np.maximum(np.maximum(u0 - uu, uu - u1), 0.0)
    dy = np.maximum(np.maximum(v0 - vv, vv - v1), 0.0)
    dist = np.maximum(dx, dy)
    ring = (dist >= inner_px) & (dist <= outer_px)
    return float(lum[ring].mean()) if ring.any() else 0.0


def measure(frames: list[Any], plan: Any) -> dict[str, dict[str, Any]]:
    """Per card: the mean of its central half in each frame, and its halo ring (last frame)."""
    lums = [_luminance(f) for f in frames]
    out: dict[str, dict[str, Any]] = {}
    for t in cal.targets():
        rows, cols = _pixels(plan, t, 0.5)
        per_frame = [float(lum[rows, cols].mean()) for lum in lums]
        out[t.id] = {"target": t, "per_frame": per_frame,
                     "value": sum(per_frame) / len(per_frame),
                     "expected": t.luminance * plan.exposure.scale,
                     "ring": _ring(lums[-1], plan, t)}
    return out


def _clipped(emitters: list[dict[str, Any]], frame_max: float) -> tuple[list[str], float]:
    """Emitters lost to a plateau below HALF_MAX (by id) and the plateau value."""
    ordered = sorted(emitters, key=lambda e: e["expected"])
    top = ordered[-1]["value"]
    plateau = [e for e in ordered if top > 0 and abs(e["value"] - top) <= 0.01 * top]
    if len(plateau) >= 2 and top < HALF_MAX:
        return [e["target"].id for e in plateau], top
    last = ordered[-1]
    ratio = last["value"] / last["expected"] if last["expected"] else 1.0
    others = [e["value"] / e["expected"] for e in ordered[:-1] if e["expected"]]
    others.sort()
    median = others[len(others) // 2] if others else 1.0
    if ratio < 1.0 - SCALE_TOL and abs(median - 1.0) <= SCALE_TOL and \
            abs(last["value"] - frame_max) <= 0.01 * frame_max:
        return [last["target"].id], last["value"]
    return [], 0.0


def _slope(points: list[tuple[float, float]]) -> float:
    xs, ys = [math.log2(e) for e, _ in points], [math.log2(m) for _, m in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")


def analyze(frames: list[Any], plan: Any | None = None) -> Analysis:
    """Check calibration frames (H x W x 3 arrays, scene-linear) of ``plan`` (default: the
    calibration plan)."""
    import numpy as np

    plan = plan or cal.calibration_plan()
    reasons: list[str] = []
    stack = np.stack([np.asarray(f, np.float64)[..., :3] for f in frames])
    bad = int((~np.isfinite(stack)).sum())
    if bad:
        return Analysis(False, [f"{bad} non-finite pixel values (HALF overflows at 65504: "
                                f"raise EV100)"], {"non_finite": bad})
    m = measure(frames, plan)
    frame_max = float(stack.max())
    emitters = [v for v in m.values() if v["target"].kind == "emitter"]
    clipped, plateau = _clipped(emitters, frame_max)
    if len(clipped) > 1:
        reasons.append(f"clipped at {plateau:.4g}: {', '.join(clipped)} read the same top "
                       f"value (a clamp below 65504: tone curve or LDR output?)")
    elif clipped:
        top = max(emitters, key=lambda e: e["expected"])
        reasons.append(f"clipped at {plateau:.4g}: {clipped[0]} should read "
                       f"{top['expected']:.4g} (a clamp below 65504)")
    points = [(e["expected"], e["value"]) for e in emitters
              if e["target"].id not in clipped and e["value"] > 0]
    slope = _slope(points) if len(points) >= 3 else float("nan")
    if not abs(slope - 1.0) <= SLOPE_TOL:
        reasons.append(f"log-log slope {slope:.3f}, not 1 +- {SLOPE_TOL} (a tone curve or "
                       f"local exposure bends the response)")
    emissive = [v for v in m.values() if v["target"].emissive and v["target"].id not in clipped]
    ratios = sorted(v["value"] / v["expected"] for v in emissive)
    median = ratios[len(ratios) // 2]
    if abs(median - 1.0) > SCALE_TOL:
        reasons.append(f"pixels are {median:.3f} x L x scale ({math.log2(median):+.2f} EV): "
                       f"the exposure differs from the plan's 2^-EV100")
    else:
        worst = max(emissive, key=lambda v: abs(v["value"] / v["expected"] - 1.0))
        ratio = worst["value"] / worst["expected"]
        if abs(ratio - 1.0) > SCALE_TOL:
            reasons.append(f"card {worst['target'].id} reads {ratio:.3f} x L x scale "
                           f"(more than {SCALE_TOL:.0%} off)")
    halos = {e["target"].id: e["ring"] / e["value"] for e in emitters
             if e["expected"] >= 1.0 and e["value"] > 0}
    halo_id = max(halos, key=halos.get) if halos else None
    if halo_id is not None and halos[halo_id] > HALO_MAX:
        reasons.append(f"halo around {halo_id}: the backdrop 2-6 px outside holds "
                       f"{halos[halo_id]:.1%} of the card (bloom or depth of field is on)")
    drift = max((max(v["per_frame"]) - min(v["per_frame"])) / max(v["value"], 1e-12)
                for v in m.values() if v["value"] > 0)
    if drift > DRIFT_MAX:
        reasons.append(f"cards change by {drift:.1%} between frames (eye adaptation?)")
    sun = m["sun_card"]
    sun_ratio = sun["value"] / sun["expected"]
    if abs(sun_ratio - 1.0) > SUN_TOL:
        reasons.append(f"sun-lit card reads {sun_ratio:.3f} x E rho cos / pi (sun intensity "
                       f"or atmosphere compensation off)")
    checks = {"slope": slope, "median_ratio": median, "ratios": {
        k: v["value"] / v["expected"] for k, v in m.items()}, "halo_max": max(
        halos.values(), default=0.0), "drift": drift, "sun_ratio": sun_ratio,
        "frame_max": frame_max, "clipped": clipped}
    return Analysis(not reasons, reasons, checks)


def analyze_folder(folder: str | Path) -> Analysis:
    """Analyse a rendered self-test folder (``img/`` + ``calibration.json``)."""
    from s2rhdr_loader.core import exr, layout

    folder = Path(folder)
    record_path = folder / cal.CALIBRATION_FILE
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise S2RError(f"{record_path}: not a self-test folder ({exc.__class__.__name__})",
                       hint="render it first: s2rhdr-render unreal-selftest, or the editor "
                            "menu S2R-HDR > Self-test linear output") from None
    if record.get("format") != cal.FORMAT:
        raise S2RError(f"{record_path}: not an s2rhdr calibration record")
    plan = cal.calibration_plan()
    frames = [exr.read_exr(layout.frame_path(folder, "img", f.index))
              for f in plan.output_frames()]
    return analyze(frames, plan)


def verdict_path(project: Path) -> Path:
    return Path(project).parent / VERDICT


def write_verdict(project: Path, analysis: Analysis, *, editor: str, engine_version: str,
                  plugin_digest: str, source: str) -> Path:
    from s2rhdr_loader.core.atomic import atomic_write_json

    return atomic_write_json(verdict_path(project), {
        "format": FORMAT, "ok": analysis.ok, "line": analysis.line(),
        "reasons": analysis.reasons, "checks": analysis.checks, "editor": str(editor),
        "engine_version": engine_version, "plugin_digest": plugin_digest,
        "source": source})


def read_verdict(project: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(verdict_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def require_verdict(project: Path, *, editor: str, plugin_digest: str) -> dict[str, Any]:
    """The passing verdict for this project, editor and plugin, or a one-line RenderError."""
    hint = (f"run: s2rhdr-render unreal-selftest --project {project} (or pass "
            f"--skip-selftest / -O skip_selftest=1)")
    verdict = read_verdict(project)
    if verdict is None:
        raise RenderError(f"{project.name}: no Unreal linearity self-test verdict "
                          f"({verdict_path(project)})", hint=hint)
    if not verdict.get("ok"):
        raise RenderError(f"{project.name}: the Unreal self-test failed: {verdict.get('line')}",
                          hint=hint)
    if verdict.get("plugin_digest") != plugin_digest:
        raise RenderError(f"{project.name}: the self-test verdict is for another version of "
                          f"the S2RHDR plugin", hint=hint)
    if verdict.get("editor") and verdict["editor"] != str(editor):
        raise RenderError(f"{project.name}: the self-test ran with {verdict['editor']}, not "
                          f"{editor}", hint=hint)
    return verdict
