"""Every engine-version difference the plugin meets, in one place (UE 5.2 - 5.6).

Everything else in the plugin calls these shims and stays version-free. Branches are chosen
by feature detection (``hasattr``/``getattr``), never by parsing the version string, because
Epic back-ports and deprecates names across minor versions (reference/ue5-api.md section 1).
Legacy names are only ever looked up by string here, so a name check against the 5.6 API can
tell them apart from names the plugin relies on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import unreal

# Lossless EXR compressions by enum NAME (the integers changed in 5.4: ZIP was 2, now 3).
LOSSLESS_EXR = ("NONE", "RLE", "ZIPS", "ZIP", "PIZ")
LOSSY_EXR = ("DWAA", "DWAB", "B44", "B44A", "PXR24")


class CompatError(RuntimeError):
    """The running engine lacks something the plugin needs (message says what and how to fix)."""


def legacy(obj: Any, name: str) -> Any:
    """A pre-5.6 name, looked up by string: the only way old names enter the plugin, so the
    5.6 name check (tests/test_unreal_names.py) can tell them from names we rely on."""
    value = getattr(obj, name, None)
    if value is None:
        raise CompatError(f"{name} not found on {getattr(obj, '__name__', type(obj).__name__)}: "
                          f"this engine ({engine_version()}) is not supported (UE 5.2 - 5.6)")
    return value


def engine_version() -> str:
    try:
        return str(unreal.SystemLibrary.get_engine_version())
    except Exception:  # pragma: no cover - very old editors
        return "unknown"


def primary_config_class() -> Any:
    """``MoviePipelinePrimaryConfig`` (5.2+) or the old ``MoviePipelineMasterConfig``."""
    cls = getattr(unreal, "MoviePipelinePrimaryConfig", None)
    if cls is not None:
        return cls
    if getattr(unreal, "MoviePipelineMasterConfig", None) is None:
        raise CompatError("Movie Render Queue is not loaded: enable the MovieRenderPipeline "
                          "plugin (Edit > Plugins) and restart the editor")
    return legacy(unreal, "MoviePipelineMasterConfig")


def set_cvar(cvar_setting: Any, name: str, value: float) -> None:
    """Add a console variable to an MRQ ``MoviePipelineConsoleVariableSetting``.

    5.2+ has ``add_or_update_console_variable``; 5.1 and older expose a name->value map
    (a struct copy, so it is read, changed and written back).
    """
    add = getattr(cvar_setting, "add_or_update_console_variable", None)
    if add is not None:
        add(name, float(value))
        return
    table = dict(cvar_setting.get_editor_property("console_variables") or {})
    table[name] = float(value)
    cvar_setting.set_editor_property("console_variables", table)


def play_rate(rate: float) -> Any:
    """The value for ``MovieSceneSkeletalAnimationParams.play_rate``: a float before 5.6,
    a ``MovieSceneTimeWarpVariant`` from 5.6."""
    variant = getattr(unreal, "MovieSceneTimeWarpVariant", None)
    if variant is None:
        return float(rate)
    return variant(fixed_play_rate=float(rate))


def exr_compression(name: str) -> Any:
    """``EXRCompressionFormat`` member by NAME; lossy or unknown names are refused."""
    key = str(name).upper()
    if key in LOSSY_EXR:
        raise CompatError(f"EXR compression {name!r} is lossy; use ZIP or PIZ")
    if key not in LOSSLESS_EXR:
        raise CompatError(f"EXR compression {name!r} is not available in Unreal; use ZIP or PIZ")
    member = getattr(unreal.EXRCompressionFormat, key, None)
    if member is None:
        raise CompatError(f"EXR compression {key} needs UE 5.4+ (this is {engine_version()}); "
                          f"use ZIP or PIZ")
    return member


def _subsystem(name: str) -> Any:
    cls = getattr(unreal, name, None)
    return unreal.get_editor_subsystem(cls) if cls is not None else None


def load_level(path: str) -> bool:
    """Open a level in the editor (LevelEditorSubsystem; EditorLevelLibrary before it)."""
    sub = _subsystem("LevelEditorSubsystem")
    if sub is not None:
        return bool(sub.load_level(path))
    return bool(unreal.EditorLevelLibrary.load_level(path))


def spawn_actor(cls: Any, location: Any, rotation: Any) -> Any:
    """Spawn an actor in the editor world (EditorActorSubsystem; EditorLevelLibrary before)."""
    sub = _subsystem("EditorActorSubsystem")
    if sub is not None:
        return sub.spawn_actor_from_class(cls, location, rotation)
    return unreal.EditorLevelLibrary.spawn_actor_from_class(cls, location, rotation)


def destroy_actor(actor: Any) -> None:
    sub = _subsystem("EditorActorSubsystem")
    if sub is not None:
        sub.destroy_actor(actor)
    else:
        unreal.EditorLevelLibrary.destroy_actor(actor)


def section_channels(section: Any) -> list[Any]:
    """All scripting channels of a section (``get_all_channels``; ``get_channels`` before)."""
    getter = getattr(section, "get_all_channels", None) or legacy(section, "get_channels")
    return list(getter())


def set_skeletal_mesh(component: Any, mesh: Any) -> None:
    """5.1+ ``set_skeletal_mesh_asset``; the old editor property otherwise."""
    setter = getattr(component, "set_skeletal_mesh_asset", None)
    if setter is not None:
        setter(mesh)
    else:
        component.set_editor_property("skeletal_mesh", mesh)


def set_offscreen(executor: Any, value: bool = True) -> bool:
    """``MoviePipelinePIEExecutor.set_is_rendering_offscreen`` exists from 5.2 only."""
    setter = getattr(executor, "set_is_rendering_offscreen", None)
    if setter is None:
        return False
    setter(bool(value))
    return True


def job_finished_delegate(executor: Any) -> Any:
    """Per-job delegate: ``on_individual_job_work_finished_delegate`` (5.1+) or the old one."""
    for name in ("on_individual_job_work_finished_delegate", "on_individual_job_finished_delegate"):
        try:
            return executor.get_editor_property(name)
        except Exception:
            continue
    return None


def set_first_property(obj: Any, names: Iterable[str], value: Any) -> str | None:
    """Set the first editor property of ``names`` the object has (renamed properties, e.g.
    ``disable_hlods`` vs ``disable_hlo_ds``); returns the name used or None."""
    for name in names:
        try:
            obj.set_editor_property(name, value)
            return name
        except Exception:
            continue
    return None


def binding_id(sequence: Any, binding: Any) -> Any:
    """``MovieSceneSequence.get_binding_id`` (5.0+); the older ``make_binding_id`` before."""
    getter: Callable[..., Any] | None = getattr(sequence, "get_binding_id", None)
    if getter is not None:
        return getter(binding)
    return legacy(sequence, "make_binding_id")(
        binding, legacy(unreal, "MovieSceneObjectBindingSpace").LOCAL)
