"""Name oracle: every Unreal name the plugin uses, checked per engine version.

Engine API: the ``unreal-stub`` dumps of 5.4 (0.1), 5.5 (0.2.1) and 5.6 (0.3), AST-parsed
(tests/fake_unreal/stub_oracle.py; fetched into .venv/unreal-stubs on first use). Movie
Render Queue is absent from every dump, so MRQ names come from the MRQ table
(tests/fake_unreal/mrq_table.py, each row citing its engine source file). A name missing or
deprecated in some version must be routed through ``compat`` and listed in
``compat.VERSIONED``. Without a dump (offline), its tests skip and say why.
"""

from __future__ import annotations

import ast
import sys

import pytest

from tests.fake_unreal import mrq_table, name_check, stub_oracle
from tests.helpers.unreal_plans import PLUGIN_PY, ROOT, plugin_module, purge

VERSIONS = name_check.VERSIONS


def _table(version: str):
    try:
        return stub_oracle.load_table(version)
    except stub_oracle.StubUnavailable as exc:
        pytest.skip(f"UE {version} API dump unavailable: {exc}")


@pytest.fixture(scope="module")
def uses():
    return name_check.scan()


def _versioned() -> dict[str, tuple[str, str]]:
    tree = ast.parse((PLUGIN_PY / "s2rhdr_unreal" / "compat.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.AnnAssign)
                and getattr(n.target, "id", "") == "VERSIONED")
    return ast.literal_eval(node.value)


def _routed(key: str, versioned: dict[str, tuple[str, str]]) -> bool:
    """A reported name is routed if compat.VERSIONED lists it (props: by property name)."""
    return key in versioned or any(k.endswith("." + key) for k in versioned)


def present(version: str, key: str) -> bool:
    """Whether ``Class``, ``Class.member`` or ``Class.property`` exists in ``version``
    (5.3: the MRQ table only)."""
    cls, _, member = key.partition(".")
    mrq = mrq_table.names(version)
    if cls in mrq_table.CLASSES:
        return cls in mrq and (not member or member in mrq[cls])
    table = _table("5.4" if version == "5.3" else version)
    if cls not in table["classes"]:
        return False
    return not member or member in stub_oracle.all_members(table, cls) or \
        member in stub_oracle.all_props(table, cls)


def deprecated_in(version: str, key: str) -> bool:
    cls, _, member = key.partition(".")
    table = _table(version)
    return member in stub_oracle.deprecated_members(table, cls)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_name_exists_or_is_routed_per_version(version, uses, capsys):
    """The name check's report: unknown and deprecated names only where compat routes them."""
    _table(version)
    rep = name_check.check(version, uses)
    versioned = _versioned()
    assert len(rep.used) > 150
    unrouted = {k: v for k, v in rep.unknown.items() if not _routed(k, versioned)}
    assert not unrouted, f"UE {version} lacks: {unrouted}"
    dep = {k: v for k, v in rep.deprecated.items() if not _routed(k, versioned)}
    assert not dep, f"deprecated in UE {version}: {dep}"


@pytest.mark.parametrize("key", sorted(_versioned()))
def test_versioned_claims_hold_against_the_dumps(key):
    """Each compat.VERSIONED availability claim is what the dumps / MRQ table say."""
    availability, _shim = _versioned()[key]
    if availability.startswith("deprecated"):
        since = availability.split()[-1]
        for version in VERSIONS:
            assert present(version, key)
            expect = mrq_table._key(version) >= mrq_table._key(since)
            assert deprecated_in(version, key) is expect, (key, version)
        return
    check = ("5.3", *VERSIONS) if key.split(".")[0] in mrq_table.CLASSES else VERSIONS
    for version in check:
        v = mrq_table._key(version)
        if availability.endswith("+"):
            expect = v >= mrq_table._key(availability[:-1])
        else:
            assert availability.startswith("<=")
            expect = v <= mrq_table._key(availability[2:])
        assert present(version, key) is expect, (key, version, availability)


def test_feature_probes_name_real_api(uses):
    """``getattr(obj, "name", None)`` probes must name something of some version (or MRQ):
    a typo would silently take the fallback branch forever."""
    known: set[str] = set()
    for version in VERSIONS:
        t = _table(version)
        known |= set(t["classes"]) | set(t["functions"])
        for info in t["classes"].values():
            known |= set(info["members"]) | set(info["props"])
    known |= mrq_table.CLASSES | {r.member for r in mrq_table.ROWS if r.member}
    probes = [u for u in uses if u.kind == "probe"]
    assert {"set_is_rendering_offscreen", "MovieSceneTimeWarpVariant", "NITS",
            "add_spawnable_from_instance"} <= {u.name for u in probes}
    bad = [f"{u.file}:{u.line}: {u.name!r}" for u in probes if u.name not in known]
    assert not bad, "\n".join(bad)


def test_dumps_are_what_they_claim():
    t4, t5, t6 = (_table(v) for v in VERSIONS)
    assert len(t4["classes"]) > 7000 and len(t6["classes"]) > len(t5["classes"]) > 8000
    assert "MovieSceneTimeWarpVariant" in t5["classes"]
    assert "MovieSceneTimeWarpVariant" not in t4["classes"]
    for t in (t4, t5, t6):
        assert not any(c.startswith("MoviePipeline") for c in t["classes"])  # MRQ: absent
        assert "set_keep_python_script_alive" in t["classes"]["EditorPythonScripting"][
            "members"]
    assert "add_spawnable_from_instance" in stub_oracle.deprecated_members(t6, "LevelSequence")
    assert "add_spawnable_from_instance" not in stub_oracle.deprecated_members(t5,
                                                                               "LevelSequence")
    assert stub_oracle.prop_type(t4, "MovieSceneSkeletalAnimationParams", "play_rate") == "float"
    assert "sky_atmosphere_component" in stub_oracle.read_only_props(t6, "SkyAtmosphere")


@pytest.mark.parametrize("version", VERSIONS)
def test_linear_lock_settings_and_overrides_exist_on_postprocesssettings(version):
    table = _table(version)
    linear = plugin_module("linear")
    pp = stub_oracle.all_props(table, "PostProcessSettings")
    for name in linear.settings_values(linear.exposure_setup(12.0, 8.0)):
        assert name in pp, f"PostProcessSettings has no {name} in {version}"
        assert f"override_{name}" in pp, f"PostProcessSettings has no override_{name}"
    assert {"settings", "unbound", "priority", "blend_weight", "enabled"} <= \
        stub_oracle.all_props(table, "PostProcessVolume")
    assert "AEM_MANUAL" in table["classes"]["AutoExposureMethod"]["members"]
    purge()


@pytest.mark.parametrize("version", VERSIONS)
def test_struct_and_component_properties_used_exist(version):
    table = _table(version)
    expect = {
        "CineCameraComponent": {"filmback", "lens_settings", "focus_settings",
                                "current_focal_length", "current_aperture",
                                "constrain_aspect_ratio"},
        "CameraLensSettings": {"min_focal_length", "max_focal_length", "min_f_stop",
                               "max_f_stop"},
        "CameraFocusSettings": {"focus_method", "manual_focus_distance"},
        "MovieSceneSkeletalAnimationParams": {"animation", "play_rate"},
        "MovieSceneSkeletalAnimationSection": {"params"},
        "SkeletalMeshActor": {"skeletal_mesh_component"},
        "StaticMeshActor": {"static_mesh_component"},
        "SkeletalMeshComponent": {"animation_mode"},
        "DirectionalLightComponent": {"atmosphere_sun_light", "atmosphere_sun_disk_color_scale",
                                      "light_source_angle", "intensity"},
        "WeightedBlendables": {"array"}, "WeightedBlendable": {"weight", "object"},
        "MaterialInstanceConstant": {"parent"}, "Material": {"shading_model"},
    }
    for cls, names in expect.items():
        missing = names - stub_oracle.all_props(table, cls)
        assert not missing, f"{cls} lacks {missing} in {version}"
    assert "DISABLE" in table["classes"]["CameraFocusMethod"]["members"]


def test_mrq_table_rows_cite_their_sources():
    assert mrq_table.PASS_IDENTIFIERS == {"MoviePipelineDeferredPassBase": "FinalImage",
                                          "MoviePipelineDeferredPass_PathTracer": "PathTracer"}
    for row in mrq_table.ROWS:
        assert row.source in mrq_table.SOURCES, row
    assert not mrq_table.row("MoviePipelineDeferredPassBase",
                             "use32_bit_post_process_materials").present("5.5")
    assert mrq_table.row("MoviePipelinePostProcessPass", "high_precision_output").present("5.5")


def test_fake_models_only_real_properties():
    """Every property the fake models exists on that class in some version (a typo in the
    fake would make it refuse a real name, or model nothing)."""
    from tests.fake_unreal import make_module

    tables = [_table(v) for v in VERSIONS]
    fake = make_module("5.6")
    problems = []
    for name in dir(fake):
        obj = getattr(fake, name)
        if not isinstance(obj, type) or name.startswith("_") or not hasattr(obj, "_PROPS"):
            continue
        for klass in obj.__mro__:
            for prop in vars(klass).get("_PROPS", {}):
                real = any(prop in stub_oracle.all_props(t, klass.__name__) for t in tables)
                real = real or any(prop in mrq_table.names(v).get(klass.__name__, set())
                                   for v in mrq_table.VERSIONS)
                if not real and klass.__name__ in stub_oracle.known_classes() | \
                        mrq_table.CLASSES:
                    problems.append(f"{klass.__name__}.{prop}")
    assert not problems, ", ".join(sorted(set(problems)))


def test_name_check_command_prints_a_report_per_version(capsys):
    for version in VERSIONS:
        _table(version)
    assert name_check.main([]) == 0
    out = capsys.readouterr().out
    for version in VERSIONS:
        assert f"UE {version} " in out and "names used" in out
    assert "unknown     LevelSequenceEditorSubsystem.add_spawnable_from_instance" in out
    assert "deprecated  LevelSequence.add_spawnable_from_instance" in out


ALLOWED_IMPORTS = {"unreal", "yaml", "pipeline", "s2rhdr_loader", "s2rhdr_unreal", "tkinter",
                   "__future__"}


def test_plugin_imports_only_stdlib_unreal_and_vendored_modules():
    """No numpy/torch/OpenEXR inside the editor (DESIGN.md section 1)."""
    from pipeline.plugin_install import vendor_closure

    vendored = set(vendor_closure())
    problems = []
    for f in sorted(PLUGIN_PY.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED_IMPORTS and top not in sys.stdlib_module_names:
                    problems.append(f"{f.name}:{node.lineno}: imports {name}")
                if top in ("pipeline", "s2rhdr_loader") and name not in vendored:
                    problems.append(f"{f.name}:{node.lineno}: {name} is not vendored")
    assert not problems, "\n".join(problems)
    assert (ROOT / "pipeline" / "unreal_calibration.py").is_file()


def test_the_fake_refuses_what_a_version_lacks():
    """The fake ``unreal`` raises like the editor for names, types and access the chosen
    version does not allow (so a plugin test cannot pass on API the engine lacks)."""
    from tests.helpers.unreal_plans import fake_engine

    ue54, ue55, ue56 = (fake_engine(v) for v in VERSIONS)
    with pytest.raises(AttributeError):
        ue54.MovieSceneTimeWarpVariant  # noqa: B018 - 5.5+
    assert not hasattr(ue55.LightUnits, "NITS") and hasattr(ue56.LightUnits, "NITS")
    assert not hasattr(ue55.get_editor_subsystem(ue55.LevelSequenceEditorSubsystem),
                       "add_spawnable_from_instance")
    params = ue55.MovieSceneSkeletalAnimationParams()
    with pytest.raises(TypeError, match="expected MovieSceneTimeWarpVariant"):
        params.set_editor_property("play_rate", 1.0)  # the 0.2.1 dump's documented type
    ue54.MovieSceneSkeletalAnimationParams().set_editor_property("play_rate", 1.0)
    with pytest.raises(RuntimeError, match="read-only"):
        ue56.SkyAtmosphere().set_editor_property("sky_atmosphere_component", None)
    with pytest.raises(AttributeError, match="Failed to find property"):
        ue56.PostProcessSettings().set_editor_property("bloom_intensityy", 0.0)
    with pytest.raises(TypeError, match="expected Vector4"):
        ue56.PostProcessSettings().set_editor_property("color_gamma", (1, 1, 1, 1))
    seq = ue56.LevelSequence("/Game/S")
    seq.add_spawnable_from_instance(ue56.Actor())
    assert ue56.deprecated_calls and "Level Sequence Editor Subsystem" in \
        ue56.deprecated_calls[0]


def test_missing_dump_skips_with_the_reason(tmp_path, monkeypatch):
    """Offline (pip cannot download the dump), the per-version tests skip and say why."""
    import subprocess

    monkeypatch.setenv("S2RHDR_UNREAL_STUBS", str(tmp_path))
    monkeypatch.setattr(stub_oracle, "_installed", lambda version: None)
    monkeypatch.setattr(stub_oracle, "_LOADED", {})
    with pytest.raises(stub_oracle.StubUnavailable, match="not downloaded"):
        stub_oracle.stub_file("5.4", fetch=False)

    def offline(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version "
                                                       "that satisfies the requirement")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(stub_oracle.StubUnavailable, match="pip download unreal-stub==0.1 "
                                                           "failed: .*Could not find"):
        stub_oracle.load_table("5.4")
    from tests.helpers.unreal_plans import fake_engine

    with pytest.raises(pytest.skip.Exception, match="UE 5.4 API dump unavailable"):
        fake_engine("5.4")
