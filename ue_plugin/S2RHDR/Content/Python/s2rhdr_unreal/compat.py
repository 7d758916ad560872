"""Every engine-version difference the plugin meets, in one place (UE 5.2 - 5.6).

Everything else in the plugin calls these shims and stays version-free. Branches are chosen
by feature detection (``hasattr``/``getattr``, or trying an editor property), never by
parsing the version string, because Epic back-ports and deprecates names across minor
versions. :data:`VERSIONED` lists every name that is missing or deprecated in some of the
supported versions, where it exists, and the shim that routes it; the name check
(``tests/fake_unreal/name_check.py``, run against the API dumps of 5.4, 5.5 and 5.6 and the
MRQ table) accepts such a name only if it is listed here.
"""

from __future__ import annotations

import math
from typing import Any

import unreal

# Lossless EXR compressions by enum NAME (the integers changed in 5.4: ZIP was 2, now 3).
LOSSLESS_EXR = ("NONE", "RLE", "ZIPS", "ZIP", "PIZ")
LOSSY_EXR = ("DWAA", "DWAB", "B44", "B44A", "PXR24")
OLDEST = (5, 2)  # MoviePipelinePrimaryConfig, add_or_update_console_variable, offscreen PIE

# name -> (availability, the shim that routes it). Availability: "5.5+" / "5.6+" (absent
# before), "<=5.4" (absent after), "deprecated 5.6" (present, deprecated from 5.6). Sources:
# the unreal-stub dumps (5.4 = 0.1, 5.5 = 0.2.1, 5.6 = 0.3) and the MRQ table
# (tests/fake_unreal/mrq_table.py); tests/test_unreal_names.py checks each claim.
VERSIONED: dict[str, tuple[str, str]] = {
    "LevelSequenceEditorSubsystem.add_spawnable_from_instance": ("5.6+", "add_spawnable"),
    "LevelSequence.add_spawnable_from_instance": ("deprecated 5.6", "add_spawnable"),
    "MoviePipelineDeferredPassBase.use32_bit_post_process_materials": ("<=5.4",
                                                                       "set_aux_precision"),
    "MoviePipelinePostProcessPass.high_precision_output": ("5.5+", "set_aux_precision"),
    "MoviePipelineCameraSetting.override_camera_overscan": ("5.5+", "set_camera_overscan"),
    "SkyAtmosphereComponent.get_atmospheric_light_to_match_illuminance_on_ground": (
        "5.5+", "engine_outer_space_lux"),
    "MovieSceneTimeWarpVariant": ("5.5+", "play_rate"),
    "LightUnits.NITS": ("5.6+", "lighting.apply (has_nits)"),
    "EXRCompressionFormat.RLE": ("5.4+", "exr_compression"),
    "EXRCompressionFormat.ZIPS": ("5.4+", "exr_compression"),
}


class CompatError(RuntimeError):
    """The running engine lacks something the plugin needs (message says what and how to fix)."""


def engine_version() -> str:
    try:
        return str(unreal.SystemLibrary.get_engine_version())
    except Exception:  # pragma: no cover - very old editors
        return "unknown"


def engine_minor(version: str | None = None) -> tuple[int, int] | None:
    """``(5, 6)`` from ``5.6.0-43139311+++UE5+Release-5.6``; None if unparsable."""
    head = (version or engine_version()).split("-", 1)[0].split(".")
    try:
        return int(head[0]), int(head[1])
    except (IndexError, ValueError):
        return None


def require_supported() -> None:
    """Refuse engines older than 5.2 with one line (their MRQ Python API differs)."""
    minor = engine_minor()
    if minor is not None and minor < OLDEST:
        raise CompatError(f"Unreal {engine_version()} is not supported; use UE 5.2 - 5.6")


def primary_config_class() -> Any:
    """``MoviePipelinePrimaryConfig`` (5.2+)."""
    cls = getattr(unreal, "MoviePipelinePrimaryConfig", None)
    if cls is None:
        raise CompatError("Movie Render Queue is not loaded: enable the MovieRenderPipeline "
                          "plugin (Edit > Plugins) and restart the editor")
    return cls


def set_cvar(cvar_setting: Any, name: str, value: float) -> None:
    """Add a console variable to an MRQ ``MoviePipelineConsoleVariableSetting`` (5.2+)."""
    cvar_setting.add_or_update_console_variable(name, float(value))


def read_cvar(name: str, kind: str = "float") -> float:
    """A console variable's value in this editor (``SystemLibrary.get_console_variable_*``;
    the engine returns 0 for an unknown name)."""
    getter = {"float": unreal.SystemLibrary.get_console_variable_float_value,
              "int": unreal.SystemLibrary.get_console_variable_int_value}[kind]
    return float(getter(name))


def play_rate(rate: float) -> Any:
    """The value for ``MovieSceneSkeletalAnimationParams.play_rate``: a float in 5.4,
    a ``MovieSceneTimeWarpVariant`` from 5.5 (the 0.2.1 and 0.3 dumps document that type)."""
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
    return unreal.get_editor_subsystem(getattr(unreal, name))


def load_level(path: str) -> bool:
    """Open a level in the editor."""
    return bool(_subsystem("LevelEditorSubsystem").load_level(path))


def spawn_actor(cls: Any, location: Any, rotation: Any) -> Any:
    """Spawn an actor in the editor world."""
    return _subsystem("EditorActorSubsystem").spawn_actor_from_class(cls, location, rotation)


def destroy_actor(actor: Any) -> None:
    _subsystem("EditorActorSubsystem").destroy_actor(actor)


def add_spawnable(sequence: Any, obj: Any) -> Any:
    """A spawnable binding from an actor: ``LevelSequenceEditorSubsystem`` in 5.6 (where the
    sequence's own method is deprecated), ``MovieSceneSequence`` before."""
    sub_cls = getattr(unreal, "LevelSequenceEditorSubsystem", None)
    sub = unreal.get_editor_subsystem(sub_cls) if sub_cls is not None else None
    if sub is not None and hasattr(sub, "add_spawnable_from_instance"):
        return sub.add_spawnable_from_instance(sequence, obj)
    return sequence.add_spawnable_from_instance(obj)


def section_channels(section: Any) -> list[Any]:
    """All scripting channels of a section."""
    return list(section.get_all_channels())


def set_skeletal_mesh(component: Any, mesh: Any) -> None:
    component.set_skeletal_mesh_asset(mesh)


def set_offscreen(executor: Any, value: bool = True) -> bool:
    """``MoviePipelinePIEExecutor.set_is_rendering_offscreen`` (5.2+)."""
    setter = getattr(executor, "set_is_rendering_offscreen", None)
    if setter is None:
        return False
    setter(bool(value))
    return True


def job_finished_delegate(executor: Any) -> Any:
    """The per-job delegate ``on_individual_job_work_finished_delegate``."""
    return executor.get_editor_property("on_individual_job_work_finished_delegate")


def try_set(obj: Any, name: str, value: Any) -> bool:
    """Set an editor property if this engine has it (settable); False if not."""
    try:
        obj.set_editor_property(name, value)
    except Exception:
        return False
    return True


def set_aux_precision(deferred: Any, entries: list[Any]) -> str:
    """32-bit output for MRQ material passes: per entry ``high_precision_output`` from 5.5
    (``bUse32BitPostProcessMaterials`` is then ``_DEPRECATED`` behind a bare ``UPROPERTY()``),
    the pass-wide ``use32_bit_post_process_materials`` before. Depth in cm overflows HALF
    beyond 655 m, so losing the precision is an error, not a fallback."""
    if entries and all(try_set(e, "high_precision_output", True) for e in entries):
        deferred.set_editor_property("additional_post_process_materials", entries)
        return "high_precision_output"
    deferred.set_editor_property("additional_post_process_materials", entries)
    if try_set(deferred, "use32_bit_post_process_materials", True):
        return "use32_bit_post_process_materials"
    raise CompatError(f"cannot request 32-bit MRQ material passes on {engine_version()}: "
                      f"neither high_precision_output nor use32_bit_post_process_materials")


def set_camera_overscan(camera_setting: Any, percentage: float = 0.0) -> bool:
    """Overscan off: ``overscan_percentage`` everywhere; from 5.5 the setting only applies
    when ``override_camera_overscan`` is set (cameras gained their own overscan).
    Returns whether the override flag exists here."""
    camera_setting.set_editor_property("overscan_percentage", float(percentage))
    return try_set(camera_setting, "override_camera_overscan", True)


def engine_outer_space_lux(atmosphere: Any, toward_sun: Any, lux: float) -> float | None:
    """The engine's own outer-space illuminance for ``lux`` on the ground (5.5+), or None."""
    fn = getattr(atmosphere, "get_atmospheric_light_to_match_illuminance_on_ground", None)
    if fn is None:
        return None
    value = float(fn(toward_sun, float(lux)))
    return value if math.isfinite(value) else None


def binding_id(sequence: Any, binding: Any) -> Any:
    """``MovieSceneSequence.get_binding_id``."""
    return sequence.get_binding_id(binding)
