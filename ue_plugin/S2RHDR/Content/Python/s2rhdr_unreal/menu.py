"""The editor menu: "S2R-HDR > Render scene spec...", "Build sequence only", "Self-test".

Unreal's Python API has no file dialog, so the menu lists the ``*.yaml`` specs of the spec
folders (``<Project>/S2RHDR/scene_specs`` and ``$S2RHDR_SPEC_DIRS``), one entry per spec,
plus a "Browse..." entry that uses tkinter when the editor's Python has it. Each click
validates the spec (errors shown in a dialog with file:line), plans it, builds the sequence
and -- for "Render" -- starts MRQ without blocking the editor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import unreal

OWNER = "S2RHDR"
MENU_NAME = "LevelEditor.MainMenu.S2RHDR"
_STATE: dict[str, Any] = {}  # the active render (plan, paths); see render._ACTIVE too


def spec_dirs() -> list[Path]:
    """Folders searched for specs: the project's ``S2RHDR/scene_specs`` and the env var."""
    dirs = [Path(unreal.Paths.convert_relative_path_to_full(unreal.Paths.project_dir()))
            / "S2RHDR" / "scene_specs"]
    for part in os.environ.get("S2RHDR_SPEC_DIRS", "").split(os.pathsep):
        if part:
            dirs.append(Path(part))
    return dirs


def find_specs() -> list[Path]:
    out: list[Path] = []
    for d in spec_dirs():
        if d.is_dir():
            out += sorted(p for p in d.glob("*.yaml") if not p.name.startswith("_"))
    return out


def output_root() -> Path:
    env = os.environ.get("S2RHDR_OUT")
    if env:
        return Path(env)
    saved = unreal.Paths.convert_relative_path_to_full(unreal.Paths.project_saved_dir())
    return Path(saved) / "S2RHDR"


def _command(call: str) -> str:
    return f"import s2rhdr_unreal.menu as _m; _m.{call}"


def _entry(name: str, label: str, tooltip: str, command: str) -> Any:
    entry = unreal.ToolMenuEntry(name=name, type=unreal.MultiBlockType.MENU_ENTRY)
    entry.set_label(label)
    entry.set_tool_tip(tooltip)
    entry.set_string_command(unreal.ToolMenuStringCommandType.PYTHON, "", command)
    return entry


def register() -> Any:
    """Add (or rebuild) the S2R-HDR menu in the level editor's main menu. Idempotent."""
    menus = unreal.ToolMenus.get()
    menus.unregister_owner_by_name(OWNER)
    main = menus.extend_menu("LevelEditor.MainMenu")
    sub = main.add_sub_menu(OWNER, "", "S2RHDR", "S2R-HDR", "Linear HDR sequence rendering")
    specs = find_specs()
    for kind, label in (("render", "Render scene spec"), ("build", "Build sequence only")):
        sub.add_section(kind, label)
        for spec in specs:
            sub.add_menu_entry(kind, _entry(
                f"{kind}_{spec.stem}", f"{label}: {spec.name}", str(spec),
                _command(f"run({str(spec)!r}, render={kind == 'render'})")))
        sub.add_menu_entry(kind, _entry(
            f"{kind}_browse", f"{label}\u2026", "Choose a scene spec YAML file",
            _command(f"browse(render={kind == 'render'})")))
    sub.add_section("tools", "Tools")
    sub.add_menu_entry("tools", _entry(
        "selftest", "Self-test linear output",
        "Render the calibration cards through the linear lock and MRQ; then check the frames "
        "on the host with s2rhdr-render unreal-selftest --from <folder>",
        _command("selftest()")))
    sub.add_menu_entry("tools", _entry("rescan", "Rescan spec folders",
                                       "Look for new *.yaml specs", _command("register()")))
    menus.refresh_all_widgets()
    return sub


def _message(title: str, text: str) -> None:
    unreal.log_warning(f"{title}: {text}")
    unreal.EditorDialog.show_message(title, text, unreal.AppMsgType.OK)


def browse(render: bool = True) -> None:
    """Pick a spec with tkinter's dialog when the editor's Python ships tkinter."""
    try:
        import tkinter
        from tkinter import filedialog
    except ImportError:
        folders = ", ".join(str(d) for d in spec_dirs())
        _message("S2R-HDR", f"No file dialog in this editor's Python. Put specs in {folders} "
                            "(or set S2RHDR_SPEC_DIRS) and use 'Rescan spec folders'.")
        return
    root = tkinter.Tk()
    root.withdraw()
    path = filedialog.askopenfilename(filetypes=[("Scene spec", "*.yaml *.yml")])
    root.destroy()
    if path:
        run(path, render=render)


def _busy() -> bool:
    from s2rhdr_unreal import render as mrq

    return mrq._ACTIVE.get("executor") is not None and unreal.get_editor_subsystem(
        unreal.MoviePipelineQueueSubsystem).is_rendering()


def run(spec_path: str, render: bool = True) -> Any:
    """Validate -> plan -> build (lock included, saved) (-> render). Errors become a dialog,
    never a traceback."""
    from pipeline.errors import S2RError
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec
    from s2rhdr_unreal import sequence

    if _busy():
        _message("S2R-HDR", "A render is already running; wait for it to finish.")
        return None
    try:
        plan = make_plan(load_spec(spec_path))
        shot = sequence.build_sequence(plan)
    except S2RError as exc:
        _message("S2R-HDR: invalid spec", exc.one_line())
        return None
    except sequence.MissingAssetsError as exc:
        _message("S2R-HDR: missing assets", str(exc))
        return None
    except Exception as exc:  # a level that will not open, an engine refusal: say so
        _message("S2R-HDR: could not build the shot", f"{type(exc).__name__}: {exc}")
        return None
    if not render:
        unreal.log(f"S2R-HDR: built {shot.sequence.get_path_name()}")
        return shot
    return _render(plan, shot, output_root() / plan.name)


def selftest() -> Any:
    """Build and render the calibration scene into ``<output root>/selftest``; the host
    checks it (the editor has no numpy): ``s2rhdr-render unreal-selftest --from <folder>``."""
    from pipeline import unreal_calibration as cal
    from s2rhdr_unreal import selftest as scene
    from s2rhdr_unreal import sequence

    if _busy():
        _message("S2R-HDR", "A render is already running; wait for it to finish.")
        return None
    plan = cal.calibration_plan()
    try:
        scene.ensure_level()
        shot = sequence.build_sequence(plan, extras=scene.add_cards)
    except Exception as exc:
        _message("S2R-HDR: could not build the self-test", f"{type(exc).__name__}: {exc}")
        return None
    return _render(plan, shot, output_root() / "selftest", selftest=True)


def _render(plan: Any, shot: Any, out: Path, selftest: bool = False) -> Any:
    from s2rhdr_unreal import job_settings, writer
    from s2rhdr_unreal import render as mrq

    staging = out / writer.STAGING
    try:  # a lossy compression, a missing pass material: a dialog, not a traceback
        mrq.configure_job(plan, shot.sequence, shot.level, staging, "default")
    except Exception as exc:
        _message("S2R-HDR: could not configure the render", f"{type(exc).__name__}: {exc}")
        return None
    _STATE.update(plan=plan, out=out)

    def _done(success: bool) -> None:
        if not success:
            _message("S2R-HDR", "Movie Render Queue reported a failed render (see the log).")
            return
        try:
            names = job_settings.mrq_settings(plan, "default")["pass_names"]
            files = writer.finalize(plan, out, mrq.settings_summary(plan, "default", shot),
                                    pass_names=names)
            if selftest:
                from pipeline import unreal_calibration as cal

                writer.atomic_write_json(out / cal.CALIBRATION_FILE, cal.record(plan))
        except Exception as exc:
            _message("S2R-HDR", str(exc))
            return
        unreal.log(f"S2R-HDR: wrote {len(files)} files to {out}")
        if selftest:
            _message("S2R-HDR self-test", f"Frames written to {out}. Check them on the host: "
                                          f"s2rhdr-render unreal-selftest --from {out}")

    mrq.start(_done)
    return shot
