"""Dataset validation: is every frame usable linear HDR, is every sequence complete?

:func:`check_shot` is the one owner of "this shot is complete and linear": the batch calls it
after every shot (``quick``), the Unreal host on the editor's output (``quick``), and
``s2rhdr-render validate`` on every sequence of a dataset (``full``, through
:func:`inspect_sequence`, the shared core). Each check has a name, a severity (``error``
fails, ``warning`` does not) and a one-line reason naming the file. Frame checks are pure
functions on arrays (:func:`frame_checks`); whether data is linear or display-referred is
decided by :mod:`pipeline.linearity` from named evidence, per sequence. Bad files never raise:
unreadable, truncated, empty or non-EXR files become ``unreadable`` issues. See
``docs/validation.md``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.linearity import ToneEvidence, frame_evidence, judge_sequence
from s2rhdr_loader.core.errors import OptionError, S2RError
from s2rhdr_loader.core.layout import HALF_MAX

FORMAT = "s2rhdr.validation"
VERSION = 2  # 2: tone evidence per frame, check mode
CHECK_MODES = ("quick", "full")
CHECKS: dict[str, tuple[str, str]] = {
    "unreadable": ("error", "file missing, empty, truncated or not an EXR"),
    "channels": ("error", "a pass lacks its channels (img needs R,G,B)"),
    "nonfinite": ("error", "NaN or inf values"),
    "negative": ("error", "negative values (linear radiance is >= 0)"),
    "half_overflow": ("warning", "HALF values clamped at 65504 (highlights lost)"),
    "tonemapped": ("error", "display-referred data: 8-bit quantisation, a gamma-shaped dark "
                            "end after black-level subtraction, or display mid-grey with no "
                            "headroom in most frames (a single such frame is a warning)"),
    "low_dynamic_range": ("warning", "stops between robust luminance percentiles below threshold"),
    "black_frame": ("error", "every value is 0"),
    "constant_frame": ("error", "every value is the same non-zero number"),
    "exposure_drift": ("warning", "median log2 luminance jumps between consecutive frames"),
    "missing_frames": ("error", "gaps in numbering or fewer frames than plan/meta say"),
    "missing_passes": ("error", "passes in plan.json render.passes absent on disk"),
    "missing_camera_params": ("error", "a rendered frame has no camera_params/NNNN.json"),
    "missing_records": ("error", "a rendered shot lacks plan.json / meta.json (check_shot)"),
    "resolution_mismatch": ("error", "frame sizes differ across frames, passes or the plan"),
    "bad_metadata": ("error", "plan.json / meta.json unreadable"),
    "empty_dataset": ("error", "no sequences found"),
    "internal": ("error", "the checker itself failed on this sequence"),
}


@dataclass(frozen=True)
class ValidateOptions:
    """Thresholds and the check mode. ``min_dr_stops`` 4 (a warning: flat scenes are legal,
    weak HDR content); Mitsuba previews of flat specs span ~4-5 stops p0.1..p99.9, typical
    renders 12-20. ``mode``: ``quick`` reads every header and decodes the img frames;
    ``full`` also decodes every auxiliary pass."""

    min_dr_stops: float = 4.0
    dr_low_pct: float = 0.1
    dr_high_pct: float = 99.9
    drift_stops: float = 1.0
    mode: str = "full"

    def __post_init__(self) -> None:
        if not 0 <= self.dr_low_pct < self.dr_high_pct <= 100:
            raise OptionError("validate: need 0 <= --dr-low-pct < --dr-high-pct <= 100")
        if self.drift_stops <= 0:
            raise OptionError("validate: --drift-stops must be > 0")
        if self.mode not in CHECK_MODES:
            raise OptionError(f"unknown check mode {self.mode!r}",
                              hint=f"use one of {', '.join(CHECK_MODES)}")

    @property
    def decode_passes(self) -> bool:
        return self.mode == "full"


@dataclass(frozen=True)
class Issue:
    check: str
    message: str
    path: str = ""
    frame: int | None = None

    @property
    def severity(self) -> str:
        return CHECKS[self.check][0]

    def to_dict(self, severity: str | None = None) -> dict[str, Any]:
        return {"check": self.check, "severity": severity or self.severity, "path": self.path,
                "frame": self.frame, "message": self.message}


@dataclass(frozen=True)
class ToneIssue(Issue):
    """A ``tonemapped`` issue whose severity the sequence-level evidence decided."""

    level: str = "error"

    @property
    def severity(self) -> str:
        return self.level


@dataclass
class FrameReport:
    issues: list[Issue] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)
    tone: ToneEvidence | None = None


# ---- pure frame checks --------------------------------------------------------------------

def tone_issues(evidence: list[ToneEvidence]) -> list[Issue]:
    """The ``tonemapped`` issues of a sequence's frames (:func:`linearity.judge_sequence`)."""
    out: list[Issue] = []
    for ev, severity, msg in judge_sequence(evidence):
        text = f"{ev.path}: {msg}" if ev.path else msg
        out.append(ToneIssue("tonemapped", text, ev.path, ev.frame, severity))
    return out


def _value_issues(rgb: np.ndarray, is_half: bool, add) -> None:
    """nonfinite / negative / half_overflow; repairs ``rgb`` in place so the rest can run."""
    finite = np.isfinite(rgb)
    n_bad = rgb.size - int(np.count_nonzero(finite))
    if n_bad:
        n_nan = int(np.count_nonzero(np.isnan(rgb)))
        hint = "clamp to 65504 before storing HALF, or write FLOAT" if is_half else \
            "fix the renderer output (fireflies / division by zero)"
        add("nonfinite", f"{n_nan} NaN and {n_bad - n_nan} inf values ({hint})")
        rgb[~finite] = 0.0
    neg = rgb < 0
    n_neg = int(np.count_nonzero(neg))
    if n_neg:
        add("negative", f"{n_neg} negative values (min {float(rgb[neg].min()):.3g}); linear "
                        "radiance must be >= 0 (use a non-negative reconstruction filter)")
        rgb[neg] = 0.0
    if is_half:
        n_clamp = int(np.count_nonzero(rgb >= HALF_MAX))
        if n_clamp:
            add("half_overflow", f"{n_clamp} values at the HALF maximum 65504 (clamped "
                                 "highlights); lower the exposure or write FLOAT EXRs")


def frame_checks(img: np.ndarray, opts: ValidateOptions, *, is_half: bool = False,
                 path: str = "", frame: int | None = None, tone: bool = True) -> FrameReport:
    """All per-frame checks of one decoded img frame (H, W, >=3) float32.

    ``tone=False`` leaves the ``tonemapped`` verdict to the caller, who judges the whole
    sequence's evidence (``rep.tone``) at once.
    """
    from pipeline.dataset_metrics import Quantiles, luminance

    rep = FrameReport()

    def add(check: str, message: str) -> None:
        rep.issues.append(Issue(check, f"{path}: {message}" if path else message, path, frame))

    rgb = np.array(img[:, :, :3], dtype=np.float32)
    _value_issues(rgb, is_half, add)
    vmax, vmin = float(rgb.max()), float(rgb.min())
    rep.measures["max"] = vmax
    if vmax <= 0.0:
        add("black_frame", "frame is black (every value is 0); check lights and exposure")
        return rep
    if vmax == vmin:
        add("constant_frame", f"frame is constant (every value = {vmax:.6g}); "
                              "check the camera and scene")
        return rep
    q = Quantiles(np.maximum(luminance(rgb), 0.0))
    skip = q.zeros
    if q.n - skip < max(16, q.n // 1000):
        add("black_frame", f"only {q.n - skip} of {q.n} pixels have non-zero luminance")
        return rep
    lo, hi, p10, p50, p90 = q.percentiles((opts.dr_low_pct, opts.dr_high_pct, 10, 50, 90), skip)
    stops = math.log2(hi / lo)
    rep.measures.update({"median_log2": math.log2(p50), "dr_stops": stops})
    if stops < opts.min_dr_stops:
        add("low_dynamic_range",
            f"dynamic range {stops:.1f} stops (luminance p{opts.dr_low_pct:g}..p"
            f"{opts.dr_high_pct:g}) is below --min-dr-stops {opts.min_dr_stops:g}: little HDR "
            "content (add highlights/shadows to the scene; check exposure clipping)")
    rep.tone = frame_evidence(rgb, (p10, p50, p90), q.kth(q.n - 1), frame=frame, path=path)
    rep.measures["tone"] = rep.tone.describe()
    if tone:
        rep.issues.extend(tone_issues([rep.tone]))
    return rep


# ---- sequences ----------------------------------------------------------------------------

_NUM = re.compile(r"^(\d+)\.exr$")


def _number(p: Path) -> int:
    m = _NUM.match(p.name)
    return int(m.group(1)) if m else -1


def _gaps(numbers: list[int]) -> list[int]:
    if not numbers:
        return []
    have = set(numbers)
    return [i for i in range(min(numbers), max(numbers) + 1) if i not in have]


def _fmt_frames(nums: list[int], limit: int = 8) -> str:
    text = ", ".join(f"{n:04d}" for n in nums[:limit])
    return text + (f" and {len(nums) - limit} more" if len(nums) > limit else "")


def _load_json(path: Path, issues: list[Issue]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        issues.append(Issue("bad_metadata", f"{path}: unreadable JSON ({exc}); re-render or "
                                            "delete the file", str(path)))
        return None
    if not isinstance(data, dict):
        issues.append(Issue("bad_metadata", f"{path}: expected a JSON object", str(path)))
        return None
    return data


def _expected(plan: dict[str, Any] | None, meta: dict[str, Any] | None
              ) -> tuple[int | None, tuple[int, int] | None, list[str]]:
    frames, res, passes = None, None, []
    if plan:
        if isinstance(plan.get("frames"), int):
            frames = plan["frames"]
        render = plan.get("render") or {}
        r = render.get("resolution")
        if isinstance(r, (list, tuple)) and len(r) == 2:
            res = (int(r[0]), int(r[1]))
        passes = [p for p in render.get("passes") or [] if isinstance(p, str)]
    if frames is None and meta:
        for key in ("frames", "num_frames"):
            if isinstance(meta.get(key), int):
                frames = meta[key]
                break
    return frames, res, passes


@dataclass
class _Headers:
    """What the header pass learned: readable files, their sizes and HALF-ness."""

    readable: set[str] = field(default_factory=set)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    half: dict[str, bool] = field(default_factory=dict)


def _completeness_issues(seq_path: Path, info: Any, plan: dict[str, Any] | None,
                         meta: dict[str, Any] | None) -> list[Issue]:
    """Frames, passes and camera records the plan (or meta) promises but the disk lacks."""
    from s2rhdr_loader.core.layout import PASSES

    issues: list[Issue] = []
    want_frames, _, want_passes = _expected(plan, meta)
    img_nums = [_number(p) for p in info.frames]
    gaps = _gaps(img_nums)
    if gaps:
        issues.append(Issue("missing_frames", f"{seq_path / 'img'}: missing frames "
                            f"{_fmt_frames(gaps)} (gap in numbering); re-render the sequence",
                            str(seq_path)))
    if want_frames is not None and info.num_frames < want_frames:
        issues.append(Issue("missing_frames", f"{seq_path}: {info.num_frames} img frames on "
                            f"disk but plan/meta says {want_frames}; re-render the sequence",
                            str(seq_path)))
    for name in want_passes:
        if name != "img" and name in PASSES and name not in info.passes:
            issues.append(Issue("missing_passes", f"{seq_path}: pass {name!r} is listed in "
                                f"plan.json render.passes but {name}/ is absent; re-render "
                                "with that pass", str(seq_path)))
    if plan is not None and plan.get("format") == "s2rhdr.plan":  # our renders record
        # the camera of every frame
        lost = [n for n in img_nums if not (seq_path / "camera_params" / f"{n:04d}.json").is_file()]
        if lost:
            issues.append(Issue("missing_camera_params", f"{seq_path / 'camera_params'}: no "
                                f"record for frame(s) {_fmt_frames(lost)}; re-render the "
                                "sequence", str(seq_path)))
    for name, files in info.passes.items():
        missing = sorted(set(img_nums) - {_number(p) for p in files})
        if missing:
            issues.append(Issue("missing_frames", f"{seq_path / name}: frames "
                                f"{_fmt_frames(missing)} exist in img/ but not in {name}/",
                                str(seq_path / name)))
    return issues


def _all_files(info: Any) -> list[tuple[str, Path]]:
    return [("img", p) for p in info.frames] + [
        (name, p) for name, files in info.passes.items() for p in files]


def _header_issues(info: Any, want_res: tuple[int, int] | None, heads: _Headers
                   ) -> list[Issue]:
    """Every file's header (no pixel decode): readable, its pass's channels, one resolution."""
    from s2rhdr_loader.core.exr import ExrError, read_header
    from s2rhdr_loader.core.layout import PASS_CHANNELS

    issues: list[Issue] = []
    for pass_name, p in _all_files(info):
        try:
            head = read_header(p)
        except (ExrError, OSError) as exc:
            issues.append(Issue("unreadable", " ".join(str(exc).split()), str(p), _number(p)))
            continue
        heads.readable.add(str(p))
        heads.sizes[str(p)] = (head.width, head.height)
        need = PASS_CHANNELS.get(pass_name, ())
        lacking = [c for c in need if c not in head.channels]
        if lacking:
            issues.append(Issue("channels", f"{p}: {pass_name} pass lacks channel(s) "
                                f"{','.join(lacking)}; file has {','.join(sorted(head.channels))}",
                                str(p), _number(p)))
        heads.half[str(p)] = any(head.channels.get(c) == "half" for c in need or head.channels)
    if heads.sizes:
        sizes = heads.sizes
        ref_file = next((str(p) for p in info.frames if str(p) in sizes), next(iter(sizes)))
        ref = want_res or sizes[ref_file]
        source = "plan.json render.resolution" if want_res else ref_file
        odd = [f for f, size in sizes.items() if size != ref]
        for f in odd[:20]:
            w, h = sizes[f]
            issues.append(Issue("resolution_mismatch", f"{f}: {w}x{h} but {source} is "
                                f"{ref[0]}x{ref[1]}; re-render at one resolution", f))
        if len(odd) > 20:
            issues.append(Issue("resolution_mismatch", f"{info.path}: {len(odd) - 20} more "
                                "files with a mismatched resolution", str(info.path)))
    return issues


def _img_checks(info: Any, heads: _Headers, opts: ValidateOptions
                ) -> tuple[list[Issue], list[dict[str, Any]]]:
    """Decode every readable img frame: value checks, DR, drift, and the tone verdict judged
    over the whole sequence."""
    from s2rhdr_loader.core.exr import ExrError, read_exr

    issues: list[Issue] = []
    rows: list[dict[str, Any]] = []
    evidence: list[ToneEvidence] = []
    for i, p in enumerate(info.frames):
        if str(p) not in heads.readable:
            continue
        try:
            img = read_exr(p)
        except (ExrError, OSError) as exc:
            issues.append(Issue("unreadable", " ".join(str(exc).split()), str(p), _number(p)))
            continue
        if img.shape[2] < 3:
            continue  # already reported by the channel check
        rep = frame_checks(img, opts, is_half=heads.half.get(str(p), False), path=str(p),
                           frame=i, tone=False)
        issues.extend(rep.issues)
        if rep.tone is not None:
            evidence.append(rep.tone)
        rows.append({"index": i, "path": str(p), **{
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in rep.measures.items()}})
    issues.extend(tone_issues(evidence))
    issues.extend(drift_issues(rows, opts.drift_stops))
    return issues, rows


def _pass_pixel_issues(info: Any, heads: _Headers) -> list[Issue]:
    """Full mode: decode every auxiliary pass; NaN / inf anywhere is an error."""
    from s2rhdr_loader.core.exr import ExrError, read_exr

    issues: list[Issue] = []
    for pass_name, p in _all_files(info):
        if pass_name == "img" or str(p) not in heads.readable:
            continue
        try:
            arr = read_exr(p)
        except (ExrError, OSError) as exc:
            issues.append(Issue("unreadable", " ".join(str(exc).split()), str(p), _number(p)))
            continue
        n_bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
        if n_bad:
            issues.append(Issue("nonfinite", f"{p}: {n_bad} NaN/inf values in the "
                                f"{pass_name} pass", str(p), _number(p)))
    return issues


def inspect_sequence(seq_dir: str | Path, opts: ValidateOptions,
                     plan_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check one sequence folder; returns a JSON-ready record (never raises on bad files).

    The shared core of :func:`check_shot` and ``validate``. ``plan_record`` (a plan as JSON
    data) is what the shot should be; by default the folder's own ``plan.json``.
    """
    from s2rhdr_loader.core.layout import LayoutError, read_sequence

    seq_path = Path(seq_dir)
    issues: list[Issue] = []
    try:
        info = read_sequence(seq_path)
    except LayoutError as exc:
        issues.append(Issue("missing_frames", str(exc), str(seq_path)))
        return _seq_record(seq_path.name, seq_path, "unknown", 0, issues, [])
    plan = plan_record if plan_record is not None else _load_json(seq_path / "plan.json",
                                                                   issues)
    meta = _load_json(seq_path / "meta.json", issues)
    issues += _completeness_issues(seq_path, info, plan, meta)
    heads = _Headers()
    issues += _header_issues(info, _expected(plan, meta)[1], heads)
    img_issues, rows = _img_checks(info, heads, opts)
    issues += img_issues
    if opts.decode_passes:
        issues += _pass_pixel_issues(info, heads)
    return _seq_record(info.name, seq_path, info.variant, info.num_frames, issues, rows)


def validate_sequence(seq_dir: str, opts: ValidateOptions,
                      plan_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Former name of :func:`inspect_sequence` (kept for callers)."""
    return inspect_sequence(seq_dir, opts, plan_record)


@dataclass(frozen=True)
class ShotCheck:
    """The verdict on one rendered shot: is it complete and linear?"""

    path: str
    frames: int
    errors: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line: the first error and how many more."""
        if self.ok:
            return f"{self.path}: complete and linear ({self.frames} frames)"
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{self.errors[0]}{more}"


def record_issues(seq_dir: str | Path, *, passes: tuple[str, ...] | None,
                  plan_known: bool) -> list[Issue]:
    """What a rendered shot must carry besides pixels: every reported pass, plan, meta."""
    seq = Path(seq_dir)
    out = []
    for name in passes or ():
        if name != "img" and not (seq / name).is_dir():
            out.append(Issue("missing_passes", f"{seq / name}: the backend reports pass "
                             f"{name!r} but wrote no files", str(seq / name)))
    if not plan_known and not (seq / "plan.json").is_file():
        out.append(Issue("missing_records", f"{seq / 'plan.json'}: missing (every rendered "
                         "shot records its plan)", str(seq)))
    if not (seq / "meta.json").is_file():
        out.append(Issue("missing_records", f"{seq / 'meta.json'}: missing (every rendered "
                         "shot records its meta)", str(seq)))
    return out


def check_shot(seq_dir: str | Path, *, passes: tuple[str, ...] | None = None,
               mode: str = "quick", opts: ValidateOptions | None = None,
               plan: Any = None) -> ShotCheck:
    """The one owner of "this shot is complete and linear" (batch, Unreal host, ``validate``).

    ``quick`` (the batch, after each shot): every planned frame and camera record present,
    every file readable at the planned resolution with its pass's channels, every img frame
    finite, non-negative, not black or constant, and not display-referred (the evidence of
    :mod:`pipeline.linearity`, judged over the sequence). ``full`` also decodes the auxiliary
    passes. ``passes`` are the passes the backend says it wrote; each must be on disk.
    ``plan`` (a ``ShotPlan``) is what the shot should be when the caller knows it; by default
    the folder's ``plan.json``. Only errors fail a shot.
    """
    if mode not in CHECK_MODES:
        raise OptionError(f"unknown check mode {mode!r}", hint=f"use one of {CHECK_MODES}")
    opts = replace(opts or ValidateOptions(), mode=mode)
    record = json.loads(plan.to_json()) if plan is not None else None
    rec = inspect_sequence(seq_dir, opts, record)
    extra = [i.to_dict() for i in record_issues(seq_dir, passes=passes,
                                                plan_known=plan is not None)]
    issues = rec["issues"] + extra
    errors = [i["message"] for i in issues if i["severity"] == "error"]
    warnings = [i["message"] for i in issues if i["severity"] != "error"]
    return ShotCheck(str(seq_dir), int(rec.get("frames", 0)), tuple(errors), tuple(warnings))


def drift_issues(frame_rows: list[dict[str, Any]], max_stops: float) -> list[Issue]:
    """Exposure drift: consecutive frames whose median log2 luminance differs too much."""
    out = []
    rows = [r for r in frame_rows if r.get("median_log2") is not None]
    for a, b in zip(rows, rows[1:]):
        jump = b["median_log2"] - a["median_log2"]
        if abs(jump) > max_stops:
            out.append(Issue("exposure_drift", f"{b['path']}: median luminance jumps "
                             f"{jump:+.2f} stops from frame {a['index']} to {b['index']} "
                             f"(limit {max_stops:g}); exposure must stay fixed in a shot",
                             b["path"], b["index"]))
    return out


def _seq_record(name: str, path: Path, variant: str, frames: int, issues: list[Issue],
                rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "path": str(path), "variant": variant, "frames": frames,
            "passed": not any(i.severity == "error" for i in issues),
            "issues": [i.to_dict() for i in issues], "frame_measures": rows}


def _validate_unit(item: tuple[str, ValidateOptions]) -> dict[str, Any]:
    return inspect_sequence(*item)


# ---- datasets -----------------------------------------------------------------------------

@dataclass
class ValidationResult:
    root: str
    options: ValidateOptions
    sequences: list[dict[str, Any]]
    issues: list[dict[str, Any]]  # dataset-level issues

    def all_issues(self) -> list[dict[str, Any]]:
        return self.issues + [i for s in self.sequences for i in s["issues"]]

    @property
    def passed(self) -> bool:
        return not any(i["severity"] == "error" for i in self.all_issues())

    def summary(self) -> dict[str, Any]:
        issues = self.all_issues()
        by_check: dict[str, int] = {}
        for i in issues:
            by_check[i["check"]] = by_check.get(i["check"], 0) + 1
        return {"sequences": len(self.sequences),
                "frames": sum(s["frames"] for s in self.sequences),
                "failed_sequences": sum(not s["passed"] for s in self.sequences),
                "errors": sum(i["severity"] == "error" for i in issues),
                "warnings": sum(i["severity"] == "warning" for i in issues),
                "by_check": dict(sorted(by_check.items()))}

    def to_dict(self) -> dict[str, Any]:
        from pipeline import __version__

        return {"format": FORMAT, "version": VERSION, "tool_version": __version__,
                "root": self.root, "options": asdict(self.options), "passed": self.passed,
                "summary": self.summary(), "checks": {k: {"severity": v[0], "what": v[1]}
                                                      for k, v in CHECKS.items()},
                "issues": self.issues, "sequences": self.sequences}

    def text(self, limit: int = 10) -> str:
        """Human summary: verdict line, counts, then up to ``limit`` issues per check."""
        s = self.summary()
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"{verdict}: {self.root}: {s['sequences']} sequences, {s['frames']} frames, "
                 f"{s['errors']} errors, {s['warnings']} warnings"]
        shown: dict[str, int] = {}
        for i in self.all_issues():
            n = shown[i["check"]] = shown.get(i["check"], 0) + 1
            if n <= limit:
                lines.append(f"  {i['severity']:<7} {i['check']:<19} {i['message']}")
        for check, n in shown.items():
            if n > limit:
                lines.append(f"  ... {n - limit} more {check} issues (see the JSON report)")
        return "\n".join(lines)


def validate_dataset(root: str | Path, opts: ValidateOptions, *, jobs: int = 1,
                     executor: str = "local", progress: bool = True) -> ValidationResult:
    """Validate every sequence under ``root`` (our layout or the official ``img/HDR`` one)."""
    from pipeline.executors import run_tasks
    from s2rhdr_loader.core.progress import Progress

    root = Path(root)
    if not root.is_dir():
        raise S2RError(f"{root}: dataset root not found", hint="pass an existing folder")
    if (root / "img").is_dir():
        seq_dirs = [root]
    else:
        seq_dirs = [c for c in sorted(root.iterdir())
                    if c.is_dir() and not c.name.startswith((".", "_")) and (c / "img").is_dir()]
    issues: list[dict[str, Any]] = []
    if not seq_dirs:
        issues.append(Issue("empty_dataset", f"{root}: no sequences (folders with img/) found; "
                            "point at a dataset root or one sequence folder",
                            str(root)).to_dict())
    # discovery is per sequence (read_sequence in the unit) so a broken one cannot stop the rest
    records: dict[str, dict[str, Any]] = {}
    with Progress(len(seq_dirs), "validate", enabled=progress) as bar:
        items = [(str(d), opts) for d in seq_dirs]
        for item, rec, err in run_tasks(_validate_unit, items, jobs=jobs, executor=executor):
            if err is not None:
                rec = _seq_record(Path(item[0]).name, Path(item[0]), "unknown", 0,
                                  [Issue("internal", f"{item[0]}: {err.message}", item[0])], [])
            records[item[0]] = rec
            bar.update(1, note=Path(item[0]).name)
    return ValidationResult(str(root), opts, [records[str(d)] for d in seq_dirs], issues)


def write_validation(result: ValidationResult, path: str | Path) -> Path:
    from s2rhdr_loader.core.atomic import atomic_write_json

    return atomic_write_json(path, result.to_dict())
