"""Host launcher (pipeline/backends/unreal.py) against a fake editor executable.

The fake editor (tests/data/fake_editor.py) is a real process: it receives the launcher's
argument list, runs the installed plugin's writer, and can crash, hang, or write
tonemapped / non-finite frames. Nothing here ran Unreal itself.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.backends import unreal as ub
from pipeline.errors import RenderError, S2RError
from s2rhdr_loader.core import exr, layout
from tests.helpers.unreal_plans import hand_plan

DATA = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path):
    from pipeline.plugin_install import install

    proj = tmp_path / "Game" / "Game.uproject"
    proj.parent.mkdir()
    proj.write_text(json.dumps({"FileVersion": 3, "EngineAssociation": "5.6", "Plugins": []}))
    install(proj)
    return proj


@pytest.fixture
def editor(tmp_path):
    path = tmp_path / "Engine" / "UnrealEditor-Cmd"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n" + (DATA / "fake_editor.py").read_text())
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def plan():
    from dataclasses import replace

    p = hand_plan(frames=3, warmup=1)
    return replace(p, render=replace(p.render, resolution=(32, 24)))


def run(plan, tmp_path, editor, project, mode, monkeypatch, **options):
    """One shot through the launcher (self-test gate off unless the test turns it on)."""
    monkeypatch.setenv("FAKE_EDITOR_MODE", mode)
    monkeypatch.setenv("FAKE_EDITOR_STATE", str(tmp_path / "attempts"))
    ticks: list[int] = []
    out = tmp_path / "out" / plan.name
    options = {"skip_selftest": "1", **options}
    files = ub.render(plan, out, quality="preview", progress=ticks.append,
                      options={"editor": str(editor), "project": str(project), **options})
    return out, files, ticks


def logs(tmp_path):
    """Per-shot logs live in the dataset root's work folder, never in the root."""
    return tmp_path / ("out" + layout.WORK_SUFFIX) / "logs"


def test_ok_render_writes_valid_layout_streams_log_and_progress(plan, tmp_path, editor, project,
                                                                 monkeypatch):
    out, files, ticks = run(plan, tmp_path, editor, project, "ok", monkeypatch)
    assert sum(ticks) == plan.frames
    seq = layout.read_sequence(out)
    assert seq.num_frames == plan.frames
    img = exr.read_exr(seq.frames[0])
    assert img.shape == (24, 32, 3) and float(img.max()) > 1.0
    assert set(files) == {*seq.frames, *(out / "camera_params").glob("*.json"),
                          out / "plan.json", out / "meta.json"}
    assert all(p.is_file() for p in files)
    assert not (out / ub.STATUS_NAME).exists() and not (out / ".mrq").exists()
    assert json.loads((out / "plan.json").read_text())["render"]["passes"] == ["img"]
    assert layout.read_json(layout.camera_params_path(out, 2)) == json.loads(
        json.dumps(plan.camera_params(2)))
    log = (logs(tmp_path) / f"{plan.name}.unreal.1.log").read_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [plan.name]
    assert log.startswith(f"$ {editor} {project} -ExecutePythonScript=")
    assert "S2RHDR_PROGRESS 3/3" in log and "S2RHDR_DONE" in log
    assert attempts(tmp_path) == 1


def attempts(tmp_path) -> int:
    return int((tmp_path / "attempts").read_text())


def test_crash_is_retried_then_succeeds(plan, tmp_path, editor, project, monkeypatch):
    out, files, ticks = run(plan, tmp_path, editor, project, "crash_once", monkeypatch,
                            retries=1)
    assert attempts(tmp_path) == 2
    assert sum(ticks) == plan.frames  # progress is not double-counted across attempts
    assert layout.read_sequence(out).num_frames == plan.frames
    assert "SIGSEGV" in (logs(tmp_path) / f"{plan.name}.unreal.1.log").read_text()
    assert "S2RHDR_DONE" in (logs(tmp_path) / f"{plan.name}.unreal.2.log").read_text()


def test_repeated_crash_fails_after_retries(plan, tmp_path, editor, project, monkeypatch):
    with pytest.raises(RenderError, match=r"failed 3 time\(s\).*exited with code 139 without "
                                          r"a status file"):
        run(plan, tmp_path, editor, project, "crash", monkeypatch, retries=2)
    assert attempts(tmp_path) == 3


def test_hang_is_killed_at_the_timeout_with_its_children(plan, tmp_path, editor, project,
                                                         monkeypatch):
    child_file = tmp_path / "child.pid"
    monkeypatch.setenv("FAKE_EDITOR_CHILD", str(child_file))
    t0 = time.monotonic()
    with pytest.raises(RenderError, match=r"timed out after 3 s"):
        run(plan, tmp_path, editor, project, "hang", monkeypatch, timeout_s=3, retries=0)
    assert time.monotonic() - t0 < 30
    pid = int(child_file.read_text())
    for _ in range(50):  # the editor's own child process went down with it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"child process {pid} of the hung editor is still alive")


def test_tonemapped_output_is_rejected(plan, tmp_path, editor, project, monkeypatch):
    with pytest.raises(RenderError, match=r"looks tonemapped"):
        run(plan, tmp_path, editor, project, "tonemapped", monkeypatch)
    assert attempts(tmp_path) == 1  # deterministic: not retried


def test_nonfinite_output_is_rejected(plan, tmp_path, editor, project, monkeypatch):
    with pytest.raises(RenderError, match=r"0001.exr: 0 NaN and 1 inf values"):
        run(plan, tmp_path, editor, project, "nonfinite", monkeypatch)


def test_missing_assets_are_one_clear_error_without_retry(plan, tmp_path, editor, project,
                                                          monkeypatch):
    with pytest.raises(RenderError, match=r"assets missing in Game.uproject: /Game/Cars/SM_Sedan"):
        run(plan, tmp_path, editor, project, "missing_asset", monkeypatch, retries=3)
    assert attempts(tmp_path) == 1


def test_plugin_errors_are_not_retried_but_mrq_failures_are(plan, tmp_path, editor, project,
                                                            monkeypatch):
    with pytest.raises(RenderError, match=r"ValueError: plan has no level"):
        run(plan, tmp_path, editor, project, "plan_error", monkeypatch, retries=3)
    assert attempts(tmp_path) == 1
    (tmp_path / "attempts").unlink()
    with pytest.raises(RenderError, match=r"failed 2 time\(s\).*Movie Render Queue"):
        run(plan, tmp_path, editor, project, "mrq_fail", monkeypatch, retries=1)
    assert attempts(tmp_path) == 2


def test_configuration_errors_are_one_line(plan, tmp_path, editor, project, monkeypatch):
    for var in (ub.EDITOR_ENV, ub.PROJECT_ENV, ub.CONFIG_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/s2rhdr/unreal.yaml
    with pytest.raises(S2RError, match=r"Unreal editor not configured.*S2RHDR_UNREAL_EDITOR"):
        ub.resolve_options({})
    with pytest.raises(S2RError, match=r"nope: Unreal editor not found or not executable"):
        ub.resolve_options({"editor": str(tmp_path / "nope"), "project": str(project)})
    with pytest.raises(S2RError, match=r"Unreal project not configured"):
        ub.resolve_options({"editor": str(editor)})
    with pytest.raises(S2RError, match=r"Other.uproject: Unreal project \(.uproject\) not found"):
        ub.resolve_options({"editor": str(editor), "project": str(tmp_path / "Other.uproject")})
    bare = tmp_path / "Bare" / "Bare.uproject"
    bare.parent.mkdir()
    bare.write_text("{}")
    with pytest.raises(S2RError, match=r"S2RHDR plugin is not installed.*install-plugin"):
        ub.render(plan, tmp_path / "o", options={"editor": str(editor), "project": str(bare),
                                                 "skip_selftest": "1"})
    # an out-of-date install (a plugin file changed since) is refused too
    headless = project.parent / "Plugins" / "S2RHDR" / ub.HEADLESS
    headless.write_text(headless.read_text() + "\n# edited\n")
    with pytest.raises(S2RError, match=r"out of date"):
        ub.check_plugin(project)


def test_config_file_and_environment_precedence(tmp_path, editor, project, monkeypatch):
    cfg = tmp_path / "unreal.yaml"
    cfg.write_text(f"editor: {editor}\nproject: {project}\ntimeout_s: 30\nretries: 2\n"
                   f"extra_args: -dx12 -ini:Engine:[X]:Y=1\n")
    monkeypatch.setenv(ub.CONFIG_ENV, str(cfg))
    monkeypatch.delenv(ub.EDITOR_ENV, raising=False)
    monkeypatch.delenv(ub.PROJECT_ENV, raising=False)
    opts = ub.resolve_options({})
    assert (opts.editor, opts.project, opts.timeout_s, opts.retries) == (editor, project, 30, 2)
    assert opts.extra_args == ("-dx12", "-ini:Engine:[X]:Y=1")
    assert ub.resolve_options({"retries": 0}).retries == 0  # option beats file
    cfg.write_text("editor: x\nbogus: 1\n")
    with pytest.raises(S2RError, match=r"unreal.yaml: unknown key\(s\) bogus"):
        ub.resolve_options({})


def test_command_is_an_argument_list_with_headless_flags(tmp_path, editor, project):
    opts = ub.UnrealOptions(editor, project)
    plugin = project.parent / "Plugins" / "S2RHDR"
    out = tmp_path / "out"
    cmd, env = ub.build_command(opts, plugin, out / "plan.json", out, out / ub.STATUS_NAME,
                                "final")
    assert cmd[:2] == [str(editor), str(project)] and env == {}
    for flag in ("-unattended", "-RenderOffscreen", "-nosplash", "-stdout", "-log"):
        assert flag in cmd
    assert "-nullrhi" not in cmd
    assert cmd[2] == (f"-ExecutePythonScript={plugin / ub.HEADLESS} --plan {out / 'plan.json'} "
                      f"--out {out} --status {out / ub.STATUS_NAME} --quality final")
    # a path with a space: arguments move to a job file, the command line keeps the script
    spaced = tmp_path / "my out"
    cmd, env = ub.build_command(opts, plugin, spaced / "plan.json", spaced,
                                spaced / ub.STATUS_NAME, "final")
    assert cmd[2] == f"-ExecutePythonScript={plugin / ub.HEADLESS}"
    job = json.loads(Path(env[ub.JOB_ENV]).read_text())
    assert job == {"plan": str(spaced / "plan.json"), "out": str(spaced),
                   "status": str(spaced / ub.STATUS_NAME), "quality": "final"}


def test_paths_with_spaces_render_through_the_job_file(plan, tmp_path, editor, project,
                                                       monkeypatch):
    monkeypatch.setenv("FAKE_EDITOR_MODE", "ok")
    out = tmp_path / "data set" / plan.name
    ub.render(plan, out, options={"editor": str(editor), "project": str(project),
                                  "skip_selftest": True})
    assert layout.read_sequence(out).num_frames == plan.frames
    assert not (out / ub.JOB_NAME).exists()


def test_validate_output_checks_count_size_and_range(plan, tmp_path):
    out = tmp_path / "seq"
    for i in range(2):
        exr.write_exr(layout.frame_path(out, "img", i), np.full((24, 16, 3), 2.0, np.float32))
    problems = ub.validate_output(plan, out)
    assert any("2 img frames on disk but plan/meta says 3" in p for p in problems)
    assert any("16x24 but plan.json render.resolution is 32x24" in p for p in problems)
    assert any("camera_params: no record for frame(s) 0000, 0001" in p for p in problems)


def test_resources_ask_for_a_gpu():
    from pipeline.backends import resource_request

    assert resource_request("unreal", {}) == {"CPU": 4.0, "GPU": 1.0}
    assert resource_request("unreal", {"gpus": "2"})["GPU"] == 2.0


def test_batch_with_the_unreal_backend_checks_the_passes_it_wrote(tmp_path, editor, project,
                                                                  monkeypatch):
    """The Unreal backend writes img + depth (no flow) and says so in plan.json; the batch
    checks and accepts exactly that."""
    from dataclasses import replace

    from pipeline.batch import run_batch

    monkeypatch.setenv("FAKE_EDITOR_MODE", "ok")
    monkeypatch.setenv("FAKE_EDITOR_STATE", str(tmp_path / "attempts"))
    p = hand_plan(frames=2, warmup=1)
    p = replace(p, render=replace(p.render, resolution=(32, 24),
                                  passes=("img", "depth", "flow")))
    out = tmp_path / "ds"
    outcomes = run_batch([p], out, backend="unreal", quality="preview", show_progress=False,
                         options={"editor": str(editor), "project": str(project),
                                  "skip_selftest": "1"})
    assert [(o.status, o.frames) for o in outcomes] == [("rendered", 2)], outcomes
    assert layout.verify_sequence(out, p.name) == []
    assert set(layout.read_sequence(out / p.name).passes) == {"depth"}
    assert json.loads((out / p.name / "plan.json").read_text())["render"]["passes"] == [
        "img", "depth"]


def test_depth_and_normal_passes_converted_on_the_host(tmp_path, editor, project, monkeypatch):
    """MRQ's WorldDepth (cm, z) -> metres with sky = 0; WorldNormal -> unit vectors; FLOAT;
    plan.json and meta.json list the passes produced."""
    from dataclasses import replace

    p = hand_plan(frames=2, warmup=1)
    p = replace(p, render=replace(p.render, resolution=(32, 24),
                                  passes=("img", "depth", "normal", "mask")))
    out, files, _ = run(p, tmp_path, editor, project, "ok", monkeypatch)
    depth = exr.read_exr(layout.frame_path(out, "depth", 1), channels=("Z",))[..., 0]
    assert depth[:, 1:] == pytest.approx(np.full((24, 31), 2.6))  # 260 cm on frame 1
    assert (depth[:, 0] == 0).all()  # sky
    normal = exr.read_exr(layout.frame_path(out, "normal", 0), channels=("X", "Y", "Z"))
    assert normal[5, 5] == pytest.approx((0.6, 0.0, 0.8), abs=1e-6)
    assert (normal[:, 0] == 0).all()
    for pass_name in ("depth", "normal"):
        header = exr.read_header(layout.frame_path(out, pass_name, 0))
        assert set(header.channels.values()) == {"float"}
    assert json.loads((out / "plan.json").read_text())["render"]["passes"] == [
        "img", "depth", "normal"]
    assert json.loads((out / "meta.json").read_text())["passes"] == ["img", "depth", "normal"]
    assert set(layout.read_sequence(out).passes) == {"depth", "normal"}
    assert layout.frame_path(out, "depth", 0) in files
    assert not (out / ".mrq_aux").exists() and not (out / ".mrq").exists()


def test_9_dim_linear_shot_passes_the_host(plan, tmp_path, editor, project, monkeypatch):
    """A correctly exposed overcast or indoor shot may peak below 1.0: the host's check is
    the validation module's linearity evidence (check_shot), not "some value above 1"."""
    out, files, _ = run(plan, tmp_path, editor, project, "dim", monkeypatch)
    seq = layout.read_sequence(out)
    assert seq.num_frames == plan.frames
    assert max(float(exr.read_exr(f).max()) for f in seq.frames) < 1.0


def test_3_path_traced_shot_through_the_host(plan, tmp_path, editor, project, monkeypatch):
    """The fake editor writes MRQ's files under the plugin's pass names (PathTracer...)."""
    from dataclasses import replace

    pt = replace(plan, render=replace(plan.render, passes=("img", "depth"),
                                      quality={"unreal": {"path_tracer": True}}))
    monkeypatch.setenv("FAKE_EDITOR_MODE", "ok")
    out = tmp_path / "out" / pt.name
    ub.render(pt, out, quality="final", options={
        "editor": str(editor), "project": str(project), "skip_selftest": "1"})
    assert layout.read_sequence(out).num_frames == pt.frames
    assert set(layout.read_sequence(out).passes) == {"depth"}


@pytest.fixture
def selftest_env(monkeypatch, tmp_path):
    """The fake editor renders synthetic calibration frames from tests/helpers."""
    monkeypatch.setenv("FAKE_EDITOR_REPO", str(Path(__file__).resolve().parents[1]))
    monkeypatch.setenv("FAKE_EDITOR_STATE", str(tmp_path / "attempts"))


def test_batch_refuses_without_a_verdict_and_renders_after_a_passing_selftest(
        plan, tmp_path, editor, project, monkeypatch, selftest_env):
    options = {"editor": str(editor), "project": str(project)}
    monkeypatch.setenv("FAKE_EDITOR_MODE", "ok")
    with pytest.raises(RenderError, match=r"no Unreal linearity self-test verdict.*"
                                          r"unreal-selftest --project"):
        ub.render(plan, tmp_path / "out" / plan.name, options=options)
    assert not (tmp_path / "attempts").exists(), "refused before starting the editor"
    analysis, verdict = ub.run_selftest(options)
    assert analysis.ok, analysis.line()
    assert verdict == project.parent / "Saved" / "S2RHDR" / "selftest-verdict.json"
    record = json.loads(verdict.read_text())
    assert record["ok"] is True and record["editor"] == str(editor)
    assert record["checks"]["slope"] == pytest.approx(1.0, abs=1e-3)
    out = tmp_path / "out" / plan.name
    ub.render(plan, out, quality="preview", options=options)  # now allowed
    assert layout.read_sequence(out).num_frames == plan.frames
    # a menu run's folder is analysed without starting the editor
    again, _ = ub.run_selftest(options, source=project.parent / "Saved" / "S2RHDR" /
                               "selftest")
    assert again.ok


def test_failing_selftest_blocks_the_batch_and_says_why(plan, tmp_path, editor, project,
                                                        monkeypatch, selftest_env):
    options = {"editor": str(editor), "project": str(project)}
    monkeypatch.setenv("FAKE_EDITOR_MODE", "tonemapped")
    analysis, verdict = ub.run_selftest(options)
    assert not analysis.ok and "log-log slope" in analysis.line()
    with pytest.raises(RenderError, match=r"self-test failed: .*log-log slope"):
        ub.render(plan, tmp_path / "out" / plan.name, options=options)


def test_selftest_and_skip_selftest_on_the_command_line(plan, tmp_path, editor, project,
                                                        monkeypatch, selftest_env, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("FAKE_EDITOR_MODE", "tonemapped")
    with pytest.raises(SystemExit) as exc:
        main(["unreal-selftest", "--project", str(project), "--editor", str(editor)])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and err.startswith("error: Unreal self-test failed: ")
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setenv("FAKE_EDITOR_MODE", "ok")
    main(["unreal-selftest", "--project", str(project), "--editor", str(editor)])
    assert "ok: linear output verified" in capsys.readouterr().out
    (project.parent / "Saved" / "S2RHDR" / "selftest-verdict.json").unlink()
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    opts = ["-O", f"editor={editor}", "-O", f"project={project}"]
    with pytest.raises(SystemExit):  # the shot fails: no verdict
        main(["batch", str(plan_file), "--out", str(tmp_path / "ds"), "--backend", "unreal",
              "--quality", "preview", "-q", *opts])
    assert "no Unreal linearity self-test verdict" in capsys.readouterr().out
    main(["batch", str(plan_file), "--out", str(tmp_path / "ds"), "--backend", "unreal",
          "--quality", "preview", "-q", "--skip-selftest", *opts])
    assert layout.verify_sequence(tmp_path / "ds", plan.name) == []
