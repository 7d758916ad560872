"""``s2rhdr-render install-plugin``: copy, vendor, enable -- and the vendored code really runs
with nothing but the standard library and the vendored PyYAML (as inside the editor)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import plugin_install as pi
from pipeline.errors import S2RError

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p for p in (ROOT / "scene_specs").glob("*.yaml") if not p.name.startswith("_"))


@pytest.fixture
def uproject(tmp_path):
    proj = tmp_path / "My Game" / "MyGame.uproject"
    proj.parent.mkdir()
    proj.write_text(json.dumps({
        "FileVersion": 3, "EngineAssociation": "5.4", "Category": "",
        "Modules": [{"Name": "MyGame", "Type": "Runtime"}],
        "Plugins": [{"Name": "ModelingToolsEditorMode", "Enabled": True},
                    {"Name": "S2RHDR", "Enabled": False}]}, indent="\t"))
    return proj


def test_install_copies_vendors_and_enables(uproject):
    report = pi.install(uproject)
    plugin = uproject.parent / "Plugins" / "S2RHDR"
    assert report.plugin_dir == plugin
    uplugin = json.loads((plugin / "S2RHDR.uplugin").read_text())
    assert uplugin["FileVersion"] == 3 and uplugin["CanContainContent"] is True
    deps = {p["Name"] for p in uplugin["Plugins"]}
    assert {"PythonScriptPlugin", "MovieRenderPipeline", "SequencerScripting",
            "EditorScriptingUtilities"} <= deps
    # PyYAML is vendored; no PythonRequirements (it would make the editor run pip at start)
    assert "PythonRequirements" not in uplugin
    site = plugin / pi.SITE_PACKAGES
    for mod in ("errors", "geometry", "plan_model", "plan", "shake"):
        assert (site / "pipeline" / f"{mod}.py").is_file(), mod
    for mod in ("__init__", "values", "nodes", "readers", "model", "schema", "load"):
        assert (site / "pipeline" / "spec" / f"{mod}.py").is_file(), mod  # a package
    assert (site / "pipeline" / "__init__.py").is_file()
    assert (site / "yaml" / "__init__.py").is_file()
    assert not list(site.rglob("*.so")), "only the pure-Python part of PyYAML is vendored"
    assert not (site / "pipeline" / "stats.py").exists(), "only the closure is vendored"
    assert (plugin / "Content" / "Python" / "s2rhdr_unreal" / "headless.py").is_file()
    data = json.loads(uproject.read_text())
    assert data["Modules"] == [{"Name": "MyGame", "Type": "Runtime"}]
    assert data["Plugins"] == [{"Name": "ModelingToolsEditorMode", "Enabled": True},
                               {"Name": "S2RHDR", "Enabled": True}]
    assert pi.installed_status(uproject.parent)[1] is None
    # re-running updates in place: same files, no duplicate entry, no leftovers
    pi.install(uproject)
    assert json.loads(uproject.read_text())["Plugins"][1] == {"Name": "S2RHDR", "Enabled": True}
    assert sorted(p.name for p in (uproject.parent / "Plugins").iterdir()) == ["S2RHDR"]


def test_vendored_modules_run_with_stdlib_and_yaml_only(uproject, tmp_path):
    """Inside the editor there is no numpy: plan a spec with the vendored copy in an isolated
    interpreter (-I -S: no site-packages at all, numpy/torch/OpenEXR imports blocked) and
    compare with the host's plan byte for byte."""
    if not SPECS:
        pytest.skip("no scene specs yet")
    pi.install(uproject)
    content = uproject.parent / "Plugins" / "S2RHDR" / "Content" / "Python"
    spec = SPECS[0]
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numpy", "torch", "OpenEXR", "cv2", "tqdm") or (
                name.startswith("s2rhdr_loader.") and name not in {sorted(pi.vendor_closure())!r}):
            raise ImportError(name + " is not available inside Unreal")
sys.meta_path.insert(0, Block())
sys.path[:0] = [{str(content / "Lib" / "site-packages")!r}, {str(content)!r}]
import yaml, pipeline
assert pipeline.__file__.startswith({str(content)!r}), pipeline.__file__
import s2rhdr_loader.core.layout as core_layout
assert core_layout.__file__.startswith({str(content)!r}), core_layout.__file__
from pipeline.spec import load_spec
from pipeline.plan import make_plan
from s2rhdr_unreal import writer, linear
plan = make_plan(load_spec({str(spec)!r}))
sys.stdout.write(plan.to_json())
"""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec

    assert proc.stdout == make_plan(load_spec(spec)).to_json()


def test_closure_refuses_modules_that_import_numpy():
    with pytest.raises(S2RError, match=r"imports .* which the Unreal editor does not have"):
        pi.vendor_closure(("pipeline.backends.unreal",))
    assert "pipeline.randomize" in pi.vendor_closure()  # followed through pipeline.plan


def test_bad_project_files_are_one_line_errors(tmp_path):
    with pytest.raises(S2RError, match=r"x.txt: not a .uproject file"):
        pi.install(tmp_path / "x.txt")
    with pytest.raises(S2RError, match=r"Nope.uproject: project file not found"):
        pi.install(tmp_path / "Nope.uproject")
    bad = tmp_path / "Bad.uproject"
    bad.write_text("{ not json")
    with pytest.raises(S2RError, match=r"Bad.uproject: not valid JSON"):
        pi.install(bad)
    assert not (tmp_path / "Plugins").exists()
    # a Plugins field that cannot be enabled is refused BEFORE anything is copied
    odd = tmp_path / "Odd.uproject"
    odd.write_text('{"FileVersion": 3, "Plugins": {"S2RHDR": true}}')
    with pytest.raises(S2RError, match=r"Odd.uproject: .*Plugins.* not a list"):
        pi.install(odd)
    assert not (tmp_path / "Plugins").exists()


def test_cli_install_plugin(uproject, tmp_path, capsys):
    from pipeline.cli import main

    main(["install-plugin", str(uproject), "--no-enable"])
    out = capsys.readouterr().out
    assert "installed" in out and "not enabled" in out
    assert json.loads(uproject.read_text())["Plugins"][1]["Enabled"] is False
    with pytest.raises(SystemExit) as exc:
        main(["install-plugin", str(tmp_path / "missing.uproject")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.uproject" in err[0]
