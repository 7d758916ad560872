"""Report: files produced, HTML self-contained with every plot, anchors and validation."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np

from pipeline import plotting
from s2rhdr_loader.core.hdr import write_hdr
from tests.helpers.stats_scenes import hdr_scene, run_cli, write_sequence


def decode(png: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_report_two_datasets_embeds_plots_anchors_and_validation(tmp_path):
    render = tmp_path / "render"
    for s in range(2):
        write_sequence(render / f"seq_{s}", [hdr_scene(seed=10 * s + i) for i in range(2)])
    real = tmp_path / "kalantari"
    for i in range(2):
        write_hdr(real / f"{i:03d}/HDRImg.hdr", np.clip(hdr_scene(seed=i) / 20, 0, 1))
    assert run_cli(["validate", str(render), "-q"]) == 0
    out = tmp_path / "rep"
    assert run_cli(["report", str(render), str(real), "-o", str(out), "-q"]) == 0
    for name in ("stats.json", "stats.csv", "report.html"):
        assert (out / name).stat().st_size > 0
    pngs = sorted((out / "plots").glob("*.png"))
    names = {p.name for p in pngs}
    assert {"luminance_histogram.png", "dr_per_sequence.png", "fhlp_per_sequence.png",
            "scatter_fhlp_dr.png", "contact_sheet.png", "paper_vs_ours.png"} <= names
    html = (out / "report.html").read_text()
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(embedded) == len(pngs)
    on_disk = {p.read_bytes() for p in pngs}
    assert {base64.b64decode(b) for b in embedded} == on_disk
    for p in pngs:
        assert decode(p.read_bytes()).shape[0] > 50
    assert "re-implemented" in html and "28.02" in html and "Kalantari (paper)" in html
    assert "script and input domain are unpublished" in html and "Contact sheet" in html
    for row in ("Kalantari", "SCT", "Challenge123", "S2R-HDR"):
        assert f"{row} (paper)" in html
    assert "si_domain" in html and "mu_law255" in html
    assert "PASS" in html  # validation.json of the render root is summarised
    assert "<b>render</b> (ours, re-implemented)" in html and "kalantari" in html
    # the contact sheet holds one tile per sequence: 2 rendered + 2 real
    sheet = decode((out / "plots/contact_sheet.png").read_bytes())
    assert sheet.shape[1] >= 4 * 192


def test_report_resumes_from_cache(tmp_path):
    render = tmp_path / "render"
    write_sequence(render / "a", [hdr_scene(seed=i) for i in range(2)])
    out = tmp_path / "rep"
    assert run_cli(["report", str(render), "-o", str(out), "-q"]) == 0
    first = (out / "stats.json").read_text()
    cached = sorted((out / ".cache").glob("*.json"))
    assert cached
    assert run_cli(["report", str(render), "-o", str(out), "-q"]) == 0
    assert (out / "stats.json").read_text() == first


def near(img_bgr: np.ndarray, rgb: tuple[int, int, int], tol: int = 12) -> int:
    """Pixels within ``tol`` of an RGB colour (matplotlib antialiases edges)."""
    return int(np.all(np.abs(img_bgr[:, :, ::-1].astype(int) - rgb) <= tol, axis=2).sum())


def test_plots_are_matplotlib_pngs_with_the_data_in_series_colours():
    png = plotting.line_plot([("a", [1e-3, 1e-2, 1e-1, 1.0], [0, 5, 10, 0])], xlog=True,
                             title="t", xlabel="x", ylabel="y", size=(320, 200))
    img = decode(png)
    assert img.shape == (200, 320, 3) and png[1:4] == b"PNG"
    assert near(img, plotting.colour_rgb(0)) > 50  # the line and its legend swatch
    assert near(img, plotting.colour_rgb(1)) == 0
    box = decode(plotting.box_plot([("a", [1, 2, 3, 4, 5, 6, 7, 30]), ("b", [])],
                                   size=(300, 200)))
    assert near(box, plotting.colour_rgb(0)) > 100
    sc = decode(plotting.scatter_plot([("a", [0, 1], [0, 1]), ("b", [0.5], [0.5])]))
    assert near(sc, plotting.colour_rgb(1)) > 5
    bars = decode(plotting.grouped_bars(("FHLP", "DR"), [("paper", False, [1.0, 2.0]),
                                                         ("ours", True, [2.0, None])]))
    assert near(bars, (0x9a, 0x9a, 0x9a), 3) > 100 and near(bars, plotting.colour_rgb(0)) > 100
    tiles = [("x", np.zeros((30, 40, 3), np.uint8)), ("y", np.full((30, 40, 3), 200, np.uint8))]
    sheet = decode(plotting.contact_sheet(tiles, cols=2, tile_width=40))
    assert sheet.shape[1] == 2 * 48 and near(sheet, (200, 200, 200), 2) > 200
    assert near(sheet, (0, 0, 0), 2) > 200
    assert decode(plotting.bar_plot(["a", "b"], [1.0, 2.0])).shape == (380, 640, 3)


def test_importing_stats_loads_neither_matplotlib_nor_torch():
    import subprocess
    import sys

    code = ("import sys, pipeline.stats, pipeline.report, pipeline.validate; "
            "bad = [m for m in ('matplotlib', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_card_lists_each_environment_map_with_its_licence(tmp_path):
    """Issue 13: the map and its licence travel from meta.json to the dataset card."""
    import json

    render = tmp_path / "render"
    env = {"name": "city", "used": True, "file": "/maps/city.exr", "sha256": "ab" * 32,
           "licence": "CC0 1.0 (Greg Zaal, HDRI Haven)"}
    metas = {"lit": env, "also_lit": env, "fallback": {**env, "used": False}, "plain": None}
    for name, record in metas.items():
        write_sequence(render / name, [hdr_scene(seed=1)])
        (render / name / "meta.json").write_text(json.dumps({"environment_map": record}))
    out = tmp_path / "rep"
    assert run_cli(["report", str(render), "-o", str(out), "-q"]) == 0
    html = (out / "report.html").read_text()
    section = html.split("Environment maps and licences", 1)[1].split("<h2>", 1)[0]
    assert "CC0 1.0 (Greg Zaal, HDRI Haven)" in section and "abababababab" in section
    assert "render/also_lit, render/lit" in section  # one row, both sequences
    assert "fallback" not in section and "plain" not in section  # not lit by the map
