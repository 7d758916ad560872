"""The module graph in docs/architecture.md is generated from the imports and obeys its rules."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("module_graph", ROOT / "docs" / "module_graph.py")
mg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mg)
GRAPH = mg.imports(mg.modules())


def test_docs_show_the_graph_the_imports_make():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert mg.updated_doc(doc, mg.render(GRAPH)) == doc, (
        "docs/architecture.md is out of date: run `python docs/module_graph.py --write`")


def test_no_import_circle():
    assert mg.cycles(GRAPH) == []


def test_cycle_detection_sees_a_circle():
    assert mg.cycles({"a": {"b": True}, "b": {"a": True}, "c": {"a": False}}) == [
        ["a", "b", "a"]]
    assert mg.cycles({"a": {"b": False}, "b": {"a": False}}) == []  # lazy: harmless


def _deps(prefix: str) -> set[tuple[str, str]]:
    return {(m, d) for m, deps in GRAPH.items() if m == prefix or m.startswith(prefix + ".")
            for d in deps}


def test_pipeline_takes_only_the_torch_free_core_from_the_loader():
    bad = {(m, d) for m, d in _deps("pipeline")
           if d.startswith("s2rhdr_loader") and not d.startswith("s2rhdr_loader.core")}
    assert not bad


def test_core_and_datasets_never_import_the_learning_stack():
    assert not {(m, d) for m, d in _deps("s2rhdr_loader.core")
                if not d.startswith("s2rhdr_loader.core")}
    loader = {(m, d) for m, d in _deps("s2rhdr_loader")
              if not m.startswith("s2rhdr_loader.learn") and d.startswith("s2rhdr_loader.learn")}
    assert not loader


def test_rendering_validation_and_statistics_import_no_torch_and_no_cv2():
    code = ("import sys, pipeline.batch, pipeline.validate, pipeline.stats, pipeline.cli\n"
            "import s2rhdr_loader.core.exr, s2rhdr_loader.core.hdr, s2rhdr_loader.core.tiff\n"
            "print(sorted(m for m in ('torch', 'cv2', 'mitsuba', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=True).stdout.strip()
    assert out == "[]"
