"""The dataset card: PNG plots and one self-contained report.html from a statistics run.

Several datasets (our render next to a real benchmark or a folder of the user's own HDR
photographs) share every plot. The HTML embeds the plots as base64 (one file to mail around)
and the PNGs are also written next to it. The rows the S2R-HDR paper published (arXiv
2504.07667: Kalantari, SCT, Challenge123, S2R-HDR) are shown beside ours, in a table and a
plot, with the note that the paper's script is unpublished and our definitions are
re-implemented from the primary sources; a contact sheet shows every sequence's first frame.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import plotting
from pipeline.stats import METRICS, StatsRun
from s2rhdr_loader.core.layout import META_FILE

# S2R-HDR paper (arXiv 2504.07667) dataset comparison: FHLP %, EHL %, SI, DR (log10).
ANCHOR_METRICS = ("FHLP", "EHL", "SI", "DR")
PAPER_NOTE = ("Published values from the S2R-HDR paper (arXiv 2504.07667, dataset comparison "
              "table) next to ours. The paper's statistics script and input domain are "
              "unpublished; ours are re-implemented from the definitions (HDRTV4K for "
              "FHLP/EHL, ITU-T P.910 for SI, LA-HDR for DR) with the options listed below, so "
              "differences are expected until calibrated on the real datasets.")
PAPER_ANCHORS = (
    ("Kalantari", 89, 15.07, 3.07, 18.4, 2.71),
    ("SCT", 144, 12.43, 2.43, 18.25, 2.55),
    ("Challenge123", 123, 26.91, 5.19, 20.47, 2.36),
    ("S2R-HDR", 24000, 28.02, 5.47, 38.02, 3.86),
)
MAX_TILES = 48


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def make_plots(run: StatsRun) -> dict[str, bytes]:
    """All plots as ``{file name: PNG bytes}``."""
    ds = run.doc["datasets"]
    names = [d["name"] for d in ds]
    plots: dict[str, bytes] = {}
    series = []
    for d in ds:
        h = d["histogram"]
        counts = np.asarray(h["counts"], dtype=np.float64)
        total = counts.sum()
        edges = np.linspace(h["log10_lo"], h["log10_hi"], h["bins"] + 1)
        centres = 10.0 ** ((edges[:-1] + edges[1:]) / 2)
        frac = 100.0 * counts / total if total else counts
        series.append((d["name"], centres, frac))
    nz = [i for _, _, f in series for i in np.flatnonzero(f)]
    if nz:  # trim empty decades so the populated range fills the plot
        lo, hi = max(min(nz) - 4, 0), min(max(nz) + 5, len(series[0][1]))
        series = [(n, c[lo:hi], f[lo:hi]) for n, c, f in series]
    series = [(n, c.tolist(), f.tolist()) for n, c, f in series]
    plots["luminance_histogram.png"] = plotting.line_plot(
        series, title="Luminance histogram (non-zero pixels; linear luminance x normalisation "
        "gain, no offset)",
        xlabel="luminance (log scale)", ylabel="% of pixels per bin", xlog=True, ymin=0.0)

    def per_seq(metric: str) -> list[tuple[str, list[float]]]:
        return [(d["name"], [s["metrics"][metric] for s in d["sequences"]]) for d in ds]

    for metric, unit in (("DR", "log10"), ("FHLP", "%"), ("EHL", "%"), ("SI", "")):
        plots[f"{metric.lower()}_per_sequence.png"] = plotting.box_plot(
            per_seq(metric), title=f"{metric} per sequence (mean over its frames)",
            ylabel=f"{metric} {unit}".strip())
    for mx, my in (("FHLP", "DR"), ("SI", "DR")):
        groups = [(d["name"], [s["metrics"][mx] for s in d["sequences"]],
                   [s["metrics"][my] for s in d["sequences"]]) for d in ds]
        plots[f"scatter_{mx.lower()}_{my.lower()}.png"] = plotting.scatter_plot(
            groups, title=f"{my} vs {mx} per sequence", xlabel=mx, ylabel=my)
    plots["dataset_means.png"] = plotting.bar_plot(
        names, [d["metrics"]["DR"]["mean"] for d in ds], title="Mean DR per dataset",
        ylabel="DR (log10)")
    plots["paper_vs_ours.png"] = plotting.grouped_bars(
        ANCHOR_METRICS, anchor_rows(run), title="Paper's published rows (grey) vs ours "
        "(re-implemented definitions)")
    plots["contact_sheet.png"] = contact_sheet(run)
    return plots


def anchor_rows(run: StatsRun) -> list[tuple[str, bool, list[float | None]]]:
    """(label, is ours, FHLP/EHL/SI/DR means): the paper's rows, then every dataset of ours."""
    rows: list[tuple[str, bool, list[float | None]]] = [
        (name, False, [a, b, c, d]) for name, _, a, b, c, d in PAPER_ANCHORS]
    for d in run.doc["datasets"]:
        rows.append((d["name"], True, [d["metrics"][m]["mean"] for m in ANCHOR_METRICS]))
    return rows


def contact_sheet(run: StatsRun) -> bytes:
    """Tonemapped first frames, up to ``MAX_TILES``, labelled dataset/sequence."""
    import cv2

    tiles = []
    for d in run.doc["datasets"]:
        for s in d["sequences"]:
            b64 = run.thumbnails.get((d["name"], s["name"]))
            if not b64 or len(tiles) >= MAX_TILES:
                continue
            img = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
            if img is not None:
                tiles.append((f"{d['name']}/{s['name']}", np.ascontiguousarray(img[:, :, ::-1])))
    return plotting.contact_sheet(tiles, title="First frame of every sequence (display only: "
                                  "P99 luminance = white, gamma 2.2)")


def _validation(root: str) -> dict[str, Any] | None:
    from s2rhdr_loader.core.layout import work_dir

    for path in (work_dir(root) / "validation.json", Path(root) / "validation.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            break
        except (OSError, ValueError):
            continue
    else:
        return None
    return data if isinstance(data, dict) and data.get("format") == "s2rhdr.validation" else None


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


_E = html.escape
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
         "padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
         "figure{display:inline-block;margin:8px}figcaption{font-size:12px;color:#666}"
         ".meta{color:#666}.pass{color:#070;font-weight:bold}.fail{color:#b00;"
         "font-weight:bold}.note{color:#444;font-size:13px}")


def _figure(name: str, png: bytes) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f"<figure><img src='data:image/png;base64,{b64}' alt='{_E(name)}'>"
            f"<figcaption>{_E(name)}</figcaption></figure>")


def _datasets_section(doc: dict[str, Any]) -> list[str]:
    e, ds = _E, doc["datasets"]
    rows = [[e(d["name"]), e(d["kind"]), f"<code>{e(d['root'])}</code>", e(d["normalisation"]),
             str(d["num_sequences"]), str(d["num_frames_on_disk"]),
             str(d["num_frames_measured"]), str(len(d["errors"]))] for d in ds]
    units = doc.get("units", {})
    stats = [[e(d["name"])] + [f"{_fmt(d['metrics'][m]['mean'])} &plusmn; "
                               f"{_fmt(d['metrics'][m]['std'])}" for m in METRICS] for d in ds]
    return ["<h2>Datasets</h2>",
            _table(["dataset", "kind", "root", "normalisation", "sequences", "frames on disk",
                    "frames measured", "files skipped"], rows),
            "<h2>Statistics (mean &plusmn; std over frames)</h2>",
            _table(["dataset"] + [f"{m} ({units.get(m, '')})" for m in METRICS], stats)]


def _anchors_section(run: StatsRun, plots: dict[str, bytes]) -> list[str]:
    e, ds = _E, run.doc["datasets"]
    rows = [[e(n) + " (paper)", str(k), _fmt(a), _fmt(b), _fmt(c), _fmt(d_)]
            for n, k, a, b, c, d_ in PAPER_ANCHORS]
    rows += [[f"<b>{e(d['name'])}</b> (ours, re-implemented)", str(d["num_frames_measured"])]
             + [_fmt(d["metrics"][m]["mean"]) for m in ANCHOR_METRICS] for d in ds]
    out = ["<h2>The paper's published rows vs ours</h2>", f"<p class='note'>{e(PAPER_NOTE)}</p>",
           _table(["dataset", "images", "FHLP %", "EHL %", "SI", "DR (log10)"], rows, "anchors")]
    if "paper_vs_ours.png" in plots:
        out.append(_figure("paper_vs_ours.png", plots["paper_vs_ours.png"]))
    if "contact_sheet.png" in plots:
        out += ["<h2>Contact sheet</h2>", _figure("contact_sheet.png", plots["contact_sheet.png"])]
    return out


def _domains_section(doc: dict[str, Any]) -> list[str]:
    e = _E
    rows = [[e(d["name"]), e(m), e(d.get("domains", {}).get(m, ""))]
            for d in doc["datasets"] for m in METRICS]
    opts = [[e(k), f"<code>{e(str(v))}</code>"] for k, v in sorted(doc["options"].items())]
    return ["<h2>Where each metric was computed</h2>",
            _table(["dataset", "metric", "domain and normalisation"], rows),
            "<h2>Options used</h2>", _table(["option", "value"], opts)]


def environment_maps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The HDR environment maps the rendered sequences were lit by, with their licences
    (``meta.json["environment_map"]``, written by the Mitsuba backend), one row per map."""
    maps: dict[tuple[str, str], dict[str, Any]] = {}
    for d in doc["datasets"]:
        for seq in d.get("sequences", []):
            meta_path = Path(d["root"]) / seq["name"] / META_FILE
            try:
                env = json.loads(meta_path.read_text(encoding="utf-8")).get("environment_map")
            except (OSError, ValueError, AttributeError):
                continue
            if not isinstance(env, dict) or not env.get("used"):
                continue
            key = (str(env.get("name", "")), str(env.get("sha256", "")))
            row = maps.setdefault(key, {"name": key[0], "sha256": key[1],
                                        "licence": str(env.get("licence", "unknown")),
                                        "sequences": []})
            row["sequences"].append(f"{d['name']}/{seq['name']}")
    return sorted(maps.values(), key=lambda r: r["name"])


def _sources_section(doc: dict[str, Any]) -> list[str]:
    rows = [[_E(m["name"]), _E(m["licence"]), f"<code>{_E(m['sha256'][:12])}</code>",
             _E(", ".join(m["sequences"]))] for m in environment_maps(doc)]
    if not rows:
        return []
    return ["<h2>Environment maps and licences</h2>",
            _table(["map", "licence", "sha256", "sequences lit by it"], rows)]


def _validation_section(doc: dict[str, Any]) -> list[str]:
    e = _E
    out = []
    for d in doc["datasets"]:
        v = _validation(d["root"])
        if v is None:
            continue
        s = v.get("summary", {})
        verdict = "PASS" if v.get("passed") else "FAIL"
        checks = ", ".join(f"{e(k)}: {n}" for k, n in s.get("by_check", {}).items()) or "none"
        out.append(f"<p><b>{e(d['name'])}</b>: <span class='{verdict.lower()}'>{verdict}"
                   f"</span> &middot; {s.get('sequences', 0)} sequences, "
                   f"{s.get('frames', 0)} frames, {s.get('errors', 0)} errors, "
                   f"{s.get('warnings', 0)} warnings &middot; issues by check: {checks}</p>")
        issues = [i for q in v.get("sequences", []) for i in q.get("issues", [])]
        if issues:
            out.append("<ul>" + "".join(
                f"<li>{e(i.get('severity', ''))} <code>{e(i.get('check', ''))}</code> "
                f"{e(i.get('message', ''))}</li>" for i in issues[:10]) + "</ul>")
    return ["<h2>Validation</h2>"] + (out or [
        "<p>No <code>validation.json</code> found in the dataset roots (run "
        "<code>s2rhdr-render validate ROOT</code>).</p>"])


def render_html(run: StatsRun, plots: dict[str, bytes]) -> str:
    """The self-contained dataset card."""
    e, doc = _E, run.doc
    ds = doc["datasets"]
    parts = [f"<h1>s2rhdr dataset card: {e(', '.join(d['name'] for d in ds))}</h1>",
             f"<p class='meta'>generated {e(time.strftime('%Y-%m-%d %H:%M:%S'))} by s2rhdr "
             f"{e(str(doc.get('tool_version', '')))} &middot; statistics are "
             f"<b>{e(doc['label'])}</b></p>"]
    parts += _datasets_section(doc) + _anchors_section(run, plots) + _domains_section(doc)
    parts += _sources_section(doc) + _validation_section(doc)
    shown = {"paper_vs_ours.png", "contact_sheet.png"}
    parts.append("<h2>Plots</h2>")
    parts += [_figure(name, png) for name, png in plots.items() if name not in shown]
    errors = [(d["name"], x) for d in ds for x in d["errors"]]
    if errors:
        parts += ["<h2>Skipped files</h2>", "<ul>" + "".join(
            f"<li>{e(n)}: {e(x['message'])}</li>" for n, x in errors[:200]) + "</ul>"]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>s2rhdr dataset card"
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(run: StatsRun, out_dir: str | Path) -> list[Path]:
    """Write plots/*.png and report.html (atomically) inside ``out_dir``."""
    from s2rhdr_loader.core.atomic import atomic_write_bytes, atomic_write_text
    from s2rhdr_loader.core.layout import safe_child

    out = Path(out_dir)
    plots = make_plots(run)
    written = [atomic_write_bytes(safe_child(out, "plots", name), png)
               for name, png in plots.items()]
    written.append(atomic_write_text(safe_child(out, "report.html"), render_html(run, plots)))
    return written
