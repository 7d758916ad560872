"""Dataset statistics of the S2R-HDR paper over datasets: FHLP, EHL, SI, DR, plus CF, stdL, ALL.

The metric definitions, their primary sources and the domain each is computed in live in
:mod:`pipeline.dataset_metrics` (pure functions on arrays, re-exported here); this module
finds datasets (rendered sequences, real benchmark labels, plain folders of EXR / Radiance
images), splits them into picklable units of work for ``pipeline.executors``, aggregates
frames -> sequences -> datasets, caches finished units (resume after a kill) and writes
``stats.json`` / ``stats.csv``. The paper never published its script, so every open choice is
an explicit :class:`StatsOptions` field recorded next to the numbers, and every dataset
records the domain of each metric (``domains``).

Speed (``reference/measurements.md`` section 6): one 16-bit-prefix histogram of the luminance
(:class:`Quantiles`) serves every percentile and the log histogram without a full sort; Sobel,
moments and thresholds come from cv2 in float32; the next frame decodes in a thread.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.dataset_metrics import (  # noqa: F401  (re-exported: the public stats API)
    DR_MODES,
    DR_ZERO_POLICIES,
    FHLP_UNITS,
    HIST_BINS,
    HIST_HI,
    HIST_LO,
    LABEL,
    LUMA_WEIGHTS,
    METRICS,
    NORMALISATIONS,
    SI_DOMAINS,
    UNITS,
    FrameMeasure,
    Quantiles,
    StatsOptions,
    apply_map,
    colourfulness,
    domain_unscaled,
    dynamic_range,
    frame_metrics,
    highlight_metrics,
    log_histogram,
    luminance,
    measure_frame,
    metric_domains,
    mu_law,
    normalisation_map,
    normalise,
    parse_sampling,
    pq_encode,
    reference_params,
    sample_frames,
    sanitize,
    spatial_information,
    to_domain,
)
from s2rhdr_loader.core.errors import DataError, S2RError

THUMB_WIDTH = 192
IMAGE_SUFFIXES = (".exr", ".hdr")


# ---- file readers ---------------------------------------------------------------------------

def read_linear_rgb(path: str | Path) -> np.ndarray:
    """Linear RGB float32 (H, W, 3) of an EXR (R,G,B, or Y as grey) or a Radiance .hdr file.

    Any defect is a :class:`DataError` (``ExrError`` / ``HdrError``) naming the file.
    """
    p = Path(path)
    if p.suffix.lower() == ".hdr":
        from s2rhdr_loader.core.hdr import read_hdr

        return read_hdr(p)
    from s2rhdr_loader.core.exr import ExrError, read_exr, read_header

    try:
        return np.ascontiguousarray(read_exr(p, channels=("R", "G", "B")))
    except ExrError:
        head = read_header(p)  # raises the real reason if the file itself is broken
        if "Y" not in head.channels:
            raise DataError(f"{p}: no R,G,B (or Y) channels to measure; file has "
                            f"{','.join(sorted(head.channels))}",
                            hint="pass colour images (an img pass, not depth/normal)") from None
        y = read_exr(p, channels=("Y",))
        return np.ascontiguousarray(np.repeat(y, 3, axis=2))


def thumbnail_png(rgb: np.ndarray, width: int = THUMB_WIDTH) -> str:
    """Base64 PNG of a tonemapped thumbnail (P99 luminance -> white, sRGB-like gamma)."""
    import cv2

    h, w = rgb.shape[:2]
    tw = max(1, min(width, w))
    th = max(1, int(round(h * tw / w)))
    small = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA)
    white = Quantiles(np.maximum(luminance(small), 0.0)).percentiles((99.0,))[0]
    disp = np.clip(small / max(white, 1e-12), 0.0, 1.0) ** (1 / 2.2)
    bgr = np.ascontiguousarray((disp[:, :, ::-1] * 255.0 + 0.5).astype(np.uint8))
    ok, buf = cv2.imencode(".png", bgr)
    return base64.b64encode(buf.tobytes()).decode("ascii") if ok else ""


# ---- the unit of work -----------------------------------------------------------------------

@dataclass(frozen=True)
class SeqChunk:
    """Some frames of one sequence; ``frame0`` is the normalisation reference."""

    sequence: str
    frame0: str
    frames: tuple[tuple[int, str], ...]  # (frame index in the sequence, path)
    thumbnail: bool = False


@dataclass(frozen=True)
class StatsUnit:
    """One picklable unit for ``run_tasks``: a sequence, a chunk of one, or many stills."""

    dataset: str
    key: str
    normalisation: str  # resolved
    chunks: tuple[SeqChunk, ...]
    options: StatsOptions


def _frame_record(index: int, path: str, rgb: np.ndarray, norm: str, params: dict[str, float],
                  opts: StatsOptions) -> tuple[dict[str, Any], FrameMeasure]:
    rgb, nonfinite, negative = sanitize(rgb)
    m = measure_frame(rgb, opts, norm, params, inplace=True)
    rec: dict[str, Any] = {"index": index, "path": path, "width": int(rgb.shape[1]),
                           "height": int(rgb.shape[0])}
    rec.update({k: (None if math.isnan(m.metrics[k]) else round(m.metrics[k], 6))
                for k in METRICS})
    if nonfinite or negative:
        rec["nonfinite"], rec["negative"] = nonfinite, negative
    return rec, m


def _read_or_error(path: str) -> np.ndarray | Exception:
    try:
        return read_linear_rgb(path)
    except (ValueError, OSError) as exc:
        return exc


FrameResult = tuple[dict[str, Any], np.ndarray, int, str | None] | Exception


def _measure_one(path: str, index: int, rgb: np.ndarray | None, norm: str,
                 params: dict[str, float], opts: StatsOptions, thumbnail: bool
                 ) -> FrameResult:
    """Decode (unless given) and measure one frame: (record, histogram, zeros, thumbnail)."""
    if rgb is None:
        decoded = _read_or_error(path)
        if isinstance(decoded, Exception):  # ExrError / HdrError are ValueErrors
            return decoded
        rgb = decoded
    thumb = thumbnail_png(sanitize(rgb.copy())[0]) if thumbnail else None
    rec, m = _frame_record(index, path, rgb, norm, params, opts)
    counts, zeros = log_histogram(m.quantiles, m.gain)
    return rec, counts, zeros, thumb


def _measured(chunk: SeqChunk, norm: str, params: dict[str, float], opts: StatsOptions,
              cache: dict[int, np.ndarray]) -> Iterator[tuple[str, FrameResult]]:
    """Each frame's result, in frame order, from two threads that each decode and measure.

    Why: OpenEXR, cv2 and numpy's large operations release the GIL, so two threads keep both
    cores busy whatever the ratio of decode to statistics time (a decode-only prefetch thread
    idles while the statistics of the previous frame finish). At most three frames are in
    flight. ``S2RHDR_STATS_PREFETCH=0`` measures serially in this thread (process scaling
    alone, and the reference the threaded path must match).
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    def job(pos: int) -> tuple[Any, ...]:
        index, path = chunk.frames[pos]
        return (path, index, cache.pop(pos, None), norm, params, opts,
                chunk.thumbnail and pos == 0)

    n = len(chunk.frames)
    if os.environ.get("S2RHDR_STATS_PREFETCH", "1") == "0":
        for pos in range(n):
            yield chunk.frames[pos][1], _measure_one(*job(pos))
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stats-frame") as pool:
        window = [pool.submit(_measure_one, *job(pos)) for pos in range(min(3, n))]
        for pos in range(n):
            result = window.pop(0).result()
            if pos + 3 < n:
                window.append(pool.submit(_measure_one, *job(pos + 3)))
            yield chunk.frames[pos][1], result


def _reference(chunk: SeqChunk, norm: str, cache: dict[int, np.ndarray]
               ) -> dict[str, float]:
    """The chunk's normalisation parameters (official_p1p99: from its sequence's frame 0)."""
    if norm != "official_p1p99":
        return {}
    f0, _, _ = sanitize(read_linear_rgb(chunk.frame0))
    params = reference_params(f0, norm)
    if chunk.frames and chunk.frames[0][1] == chunk.frame0:
        cache[0] = f0  # measured next: decode it once
    return params


def compute_chunk(chunk: SeqChunk, norm: str, opts: StatsOptions) -> dict[str, Any]:
    """Metrics of one chunk; unreadable files are reported in ``errors``, never raised."""
    out: dict[str, Any] = {"sequence": chunk.sequence, "frames": [], "errors": [],
                           "hist": [0] * HIST_BINS, "zeros": 0, "params": {}, "thumbnail": None}
    hist = np.zeros(HIST_BINS, dtype=np.int64)
    cache: dict[int, np.ndarray] = {}
    try:
        out["params"] = params = _reference(chunk, norm, cache)
    except (S2RError, ValueError, OSError) as exc:
        msg = exc.one_line() if isinstance(exc, S2RError) else str(exc)
        for _, path in chunk.frames:
            out["errors"].append({"path": path, "message":
                                  f"normalisation reference {chunk.frame0}: {msg}"})
        return out
    for path, result in _measured(chunk, norm, params, opts, cache):
        if isinstance(result, Exception):
            out["errors"].append({"path": path, "message": " ".join(str(result).split())})
            continue
        rec, counts, zeros, thumb = result
        if thumb is not None:
            out["thumbnail"] = thumb
        hist += counts
        out["zeros"] += zeros
        out["frames"].append(rec)
    out["hist"] = hist.tolist()
    return out


def compute_unit(unit: StatsUnit) -> dict[str, Any]:
    """Run every chunk of a unit (top-level, picklable: the ``run_tasks`` entry point)."""
    import cv2

    # cv2 gets one thread per statistics thread: the frame threads of ``_measured`` (and the
    # pool's processes) already fill the cores, so cv2's own pool would oversubscribe them.
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return {"dataset": unit.dataset, "key": unit.key,
                "chunks": [compute_chunk(c, unit.normalisation, unit.options)
                           for c in unit.chunks]}
    finally:
        cv2.setNumThreads(before)


# ---- aggregation --------------------------------------------------------------------------

def summarise(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """mean/std/median/min/max over the non-missing values (population std)."""
    arr = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "mean": None, "std": None, "median": None, "min": None, "max": None}
    return {"n": int(arr.size), "mean": float(arr.mean()), "std": float(arr.std()),
            "median": float(np.median(arr)), "min": float(arr.min()), "max": float(arr.max())}


def sequence_summary(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-sequence means of each metric; SI also as the video-style max over frames."""
    out: dict[str, Any] = {m: summarise([f.get(m) for f in frames])["mean"] for m in METRICS}
    out["SI_max"] = summarise([f.get("SI") for f in frames])["max"]
    return out


# ---- datasets: discovery, units, cache, run -----------------------------------------------

FORMAT = "s2rhdr.stats"
VERSION = 2  # 2: DR on un-normalised linear luminance, relative eps, per-metric domains
STILLS_PER_UNIT = 16


KINDS = {"rendered": "rendered sequences (img/NNNN.exr or the official img/HDR/NNNN.exr)",
         "real": "real benchmark labels (HDRImg.hdr / hdr_img.hdr)",
         "images": "a plain folder of HDR images (*.exr, *.hdr)"}


@dataclass(frozen=True)
class DatasetSource:
    """A dataset to measure: rendered sequences, benchmark labels, or plain HDR images."""

    name: str
    root: Path
    kind: str  # one of KINDS
    sequences: tuple[tuple[str, tuple[str, ...]], ...]  # (sequence name, frame paths)
    problems: tuple[dict[str, str], ...] = ()  # sequence folders that could not be listed


def find_images(root: Path) -> list[tuple[str, str]]:
    """Every ``*.exr`` / ``*.hdr`` under ``root`` (hidden folders skipped), as (name, path);
    the name is the path relative to ``root`` without its suffix."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and \
                not any(part.startswith(".") for part in rel.parts):
            out.append((rel.with_suffix("").as_posix(), str(p)))
    return out


def open_source(root: str | Path, name: str | None = None) -> DatasetSource:
    """Recognise a dataset root: layout sequences first, then benchmark labels (HDRImg.hdr,
    hdr_img.hdr), then any EXR / Radiance images (a user's own captures)."""
    from s2rhdr_loader.core.hdr import LABEL_NAMES
    from s2rhdr_loader.core.layout import LayoutError, read_sequence

    root = Path(root)
    if not root.is_dir():
        raise S2RError(f"{root}: dataset root not found", hint="pass an existing folder")
    # like layout.discover, but one broken sequence folder is reported, not fatal
    folders = [root] if (root / "img").is_dir() else [
        c for c in sorted(root.iterdir())
        if c.is_dir() and not c.name.startswith((".", "_")) and (c / "img").is_dir()]
    seqs, problems = [], []
    for folder in folders:
        try:
            seqs.append(read_sequence(folder))
        except (LayoutError, OSError) as exc:
            problems.append({"path": str(folder), "message": str(exc)})
    label = name or root.resolve().name
    if seqs or problems:
        return DatasetSource(label, root, "rendered", tuple(
            (s.name, tuple(str(p) for p in s.frames)) for s in seqs), tuple(problems))
    images = find_images(root)
    labels = [(n, p) for n, p in images if Path(p).name in LABEL_NAMES]
    if labels:
        short = [_label_name(n) for n, _ in labels]
        names = [s if short.count(s) == 1 else n for s, (n, _) in zip(short, labels)]
        return DatasetSource(label, root, "real", tuple(
            (n, (p,)) for n, (_, p) in zip(names, labels)))
    if images:
        return DatasetSource(label, root, "images", tuple((n, (p,)) for n, p in images))
    raise S2RError(f"{root}: no sequences (img/NNNN.exr, img/HDR/NNNN.exr), no "
                   "HDRImg.hdr / hdr_img.hdr labels and no *.exr / *.hdr images found",
                   hint="point at a dataset root, one sequence folder, a benchmark folder or "
                        "a folder of HDR images")


def _label_name(name: str) -> str:
    """A benchmark label is named by its scene folder (``Test/001/HDRImg`` -> ``Test/001``)."""
    parent = name.rpartition("/")[0]
    return parent or name


def plan_units(source: DatasetSource, opts: StatsOptions, jobs: int = 1) -> list[StatsUnit]:
    """Split a dataset into units: stills grouped by 16; a sequence whole, or in chunks when
    there are too few sequences to keep ``jobs`` workers busy."""
    norm = opts.resolve_normalisation(source.kind)
    units: list[StatsUnit] = []
    if source.kind in ("real", "images"):  # stills: each is its own normalisation reference
        chunks = [SeqChunk(n, paths[0], ((0, paths[0]),), True) for n, paths in source.sequences]
        for i in range(0, len(chunks), STILLS_PER_UNIT):
            group = tuple(chunks[i:i + STILLS_PER_UNIT])
            units.append(StatsUnit(source.name, f"stills:{i}", norm, group, opts))
        return units
    pieces = 1
    if jobs > 1 and len(source.sequences) < 2 * jobs:
        pieces = math.ceil(2 * jobs / max(len(source.sequences), 1))
    for seq, paths in source.sequences:
        picked = sample_frames(len(paths), opts.frames, opts.seed, seq)
        if not picked:
            continue
        size = max(1, math.ceil(len(picked) / pieces))
        for start in range(0, len(picked), size):
            part = picked[start:start + size]
            frames = tuple((i, paths[i]) for i in part)
            chunk = SeqChunk(seq, paths[0], frames, thumbnail=(part[0] == 0))
            units.append(StatsUnit(source.name, f"{seq}:{part[0]}-{part[-1]}", norm,
                                   (chunk,), opts))
    return units


def _fingerprint(unit: StatsUnit) -> list[list[Any]]:
    paths = sorted({c.frame0 for c in unit.chunks} | {p for c in unit.chunks for _, p in c.frames})
    out = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append([p, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([p, None, None])
    return out


def _cache_path(cache_dir: Path, unit: StatsUnit) -> Path:
    import hashlib

    blob = repr((VERSION, unit.dataset, unit.key, unit.normalisation,
                 sorted(unit.options.to_dict().items())))
    return cache_dir / (hashlib.sha1(blob.encode("utf-8")).hexdigest() + ".json")


def _load_cached(cache_dir: Path | None, unit: StatsUnit) -> dict[str, Any] | None:
    import json

    if cache_dir is None:
        return None
    path = _cache_path(cache_dir, unit)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != _fingerprint(unit):
        return None
    return data.get("result")


def _store_cached(cache_dir: Path | None, unit: StatsUnit, result: dict[str, Any]) -> None:
    from s2rhdr_loader.core.atomic import atomic_write_json

    if cache_dir is not None:
        atomic_write_json(_cache_path(cache_dir, unit),
                          {"fingerprint": _fingerprint(unit), "result": result})


@dataclass
class StatsRun:
    """The stats document (JSON-ready) plus first-frame thumbnails kept out of stats.json."""

    doc: dict[str, Any]
    thumbnails: dict[tuple[str, str], str]


def _dataset_doc(source: DatasetSource, opts: StatsOptions, chunks: list[dict[str, Any]],
                 unit_errors: list[dict[str, str]]) -> dict[str, Any]:
    norm = opts.resolve_normalisation(source.kind)
    by_seq: dict[str, dict[str, Any]] = {}
    hist = np.zeros(HIST_BINS, dtype=np.int64)
    zeros = 0
    errors = list(unit_errors) + list(source.problems)
    for ch in chunks:
        seq = by_seq.setdefault(ch["sequence"], {"name": ch["sequence"], "frames": [],
                                                 "params": ch["params"]})
        seq["frames"].extend(ch["frames"])
        errors.extend(ch["errors"])
        hist += np.asarray(ch["hist"], dtype=np.int64)
        zeros += int(ch["zeros"])
    order = {name: i for i, (name, _) in enumerate(source.sequences)}
    sequences = sorted(by_seq.values(), key=lambda s: order.get(s["name"], len(order)))
    for seq in sequences:
        seq["frames"].sort(key=lambda f: f["index"])
        seq["metrics"] = sequence_summary(seq["frames"])
    frames = [f for s in sequences for f in s["frames"]]
    return {
        "name": source.name, "root": str(source.root), "kind": source.kind,
        "kind_description": KINDS[source.kind], "normalisation": norm,
        "domains": metric_domains(opts, norm),
        "num_sequences": len(source.sequences),
        "num_frames_on_disk": sum(len(p) for _, p in source.sequences),
        "num_frames_measured": len(frames),
        "metrics": {m: summarise([f.get(m) for f in frames]) for m in METRICS},
        "sequence_metrics": {m: summarise([s["metrics"][m] for s in sequences if s["frames"]])
                             for m in METRICS},
        "histogram": {"log10_lo": HIST_LO, "log10_hi": HIST_HI, "bins": HIST_BINS,
                      "counts": hist.tolist(), "zeros": zeros,
                      "domain": f"log10 of linear {opts.luma_weights} luminance times the "
                                f"{norm} normalisation gain (no offset, no clip); zeros "
                                "counted apart"},
        "errors": sorted(errors, key=lambda e: e["path"]),
        "sequences": [s for s in sequences if s["frames"]],
    }


def run_stats(roots: Sequence[str | Path], opts: StatsOptions, *,
              names: Sequence[str] | None = None, jobs: int = 1, executor: str = "local",
              cache_dir: str | Path | None = None, progress: bool = True) -> StatsRun:
    """Measure every dataset; resumable through ``cache_dir`` (one JSON per finished unit)."""
    from pipeline import __version__
    from pipeline.executors import run_tasks
    from s2rhdr_loader.core.progress import Progress

    if names and len(names) != len(roots):
        raise S2RError(f"{len(names)} --name values for {len(roots)} roots",
                       hint="give one --name per ROOT or none")
    sources: list[DatasetSource] = []
    seen: dict[str, int] = {}
    for i, root in enumerate(roots):
        src = open_source(root, names[i] if names else None)
        if src.name in seen:
            seen[src.name] += 1
            src = DatasetSource(f"{src.name}_{seen[src.name]}", src.root, src.kind, src.sequences,
                                src.problems)
        else:
            seen[src.name] = 1
        sources.append(src)
    cache = Path(cache_dir) if cache_dir is not None else None
    units = [u for s in sources for u in plan_units(s, opts, jobs)]
    results: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sources}
    unit_errors: dict[str, list[dict[str, str]]] = {s.name: [] for s in sources}
    todo = []
    for u in units:
        cached = _load_cached(cache, u)
        if cached is None:
            todo.append(u)
        else:
            results[u.dataset].extend(cached["chunks"])
    with Progress(len(units), "stats", enabled=progress) as bar:
        bar.update(len(units) - len(todo), note="cached" if len(todo) < len(units) else None)
        for unit, result, err in run_tasks(compute_unit, todo, jobs=jobs, executor=executor):
            if err is not None:
                unit_errors[unit.dataset].append({"path": unit.key, "message": err.message})
            else:
                _store_cached(cache, unit, result)
                results[unit.dataset].extend(result["chunks"])
            bar.update(1, note=unit.key)
    thumbs: dict[tuple[str, str], str] = {}
    datasets = []
    for src in sources:
        for ch in results[src.name]:
            if ch.get("thumbnail"):
                thumbs[(src.name, ch["sequence"])] = ch["thumbnail"]
        datasets.append(_dataset_doc(src, opts, results[src.name], unit_errors[src.name]))
    doc = {"format": FORMAT, "version": VERSION, "tool_version": __version__, "label": LABEL,
           "options": opts.to_dict(), "units": dict(UNITS), "datasets": datasets}
    return StatsRun(doc, thumbs)


CSV_COLUMNS = ("dataset", "sequence", "index", "path", "width", "height") + METRICS + (
    "normalisation", "domains")


def stats_csv(doc: dict[str, Any]) -> str:
    """One row per measured frame (the per-image values the dataset means come from)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for ds in doc["datasets"]:
        domains = "; ".join(f"{m}: {d}" for m, d in ds["domains"].items())
        for seq in ds["sequences"]:
            for f in seq["frames"]:
                w.writerow([ds["name"], seq["name"]] + ["" if f.get(c) is None else f.get(c)
                                                        for c in CSV_COLUMNS[2:-2]]
                           + [ds["normalisation"], domains])
    return buf.getvalue()


def write_stats(doc: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """stats.json + stats.csv, atomically, inside ``out_dir``."""
    from s2rhdr_loader.core.atomic import atomic_write_json, atomic_write_text
    from s2rhdr_loader.core.layout import safe_child

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [atomic_write_json(safe_child(out, "stats.json"), doc),
            atomic_write_text(safe_child(out, "stats.csv"), stats_csv(doc))]
