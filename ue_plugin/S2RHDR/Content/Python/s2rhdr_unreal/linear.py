"""The linear-output lock: what keeps Unreal's frames scene-linear HDR at a fixed exposure.

MRQ's "Disable Tone Curve" removes the filmic curve, but the captured FinalColorHDR is still
*after* exposure and post-processing, and any PostProcessVolume in the level can add bloom,
grain, vignette, local exposure or colour grading. One unbound volume with a very high priority
overrides all of that (each value needs its ``override_<name>`` flag, or the engine ignores it).
Post-process *materials* of level volumes (``weighted_blendables``) are blended, not
overridden, so the lock can only name those volumes (:func:`level_blendables`).

Exposure (engine source ``Renderer/Private/PostProcess/PostProcessEyeAdaptation.cpp``,
``CalculateManualAutoExposure`` and ``GetEyeAdaptationParameters``; ``.h``:
``EV100ToLuminance(LuminanceMax, EV100) = LuminanceMax * 2^EV100``; shader
``PostProcessEyeAdaptation.usf``, ``EyeAdaptationCommon``): with ``AEM_Manual`` the white
point is ``LuminanceMax * 2^EV100_phys`` where ``EV100_phys = log2(N^2 * S * 100 /
max(1, ISO))`` (f-stop N, shutter speed S in 1/s, ISO) and the image is scaled by
``2^AutoExposureBias * curve / white point``. ``LuminanceMax`` is 1 unless
``r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange`` is on, then
``0.78 / max(r.EyeAdaptation.LensAttenuation, 0.01)`` (also 1 at the default 0.78). The plan's
``exposure.scale`` is ``2^-EV100``, so the lock solves S (and ISO only when S would leave the
``1..2000`` clamp of ``CameraShutterSpeed``; ISO is clamped at 1 by the engine) and puts the
rest into the bias: ``bias = log2(LuminanceMax) + EV100_phys - EV100``, which is 0 in a
default project. The bias curve is overridden with none (it applies in manual mode too).
"""

from __future__ import annotations

import math
from typing import Any

VOLUME_PRIORITY = 1.0e6  # above any hand-placed volume
SHUTTER_RANGE = (1.0, 2000.0)  # 1/s: ClampMin/ClampMax of CameraShutterSpeed (Scene.h)
ISO_MIN = 1.0  # ClampMin of CameraISO, and FMath::Max(1, ISO) in the EV100 formula
LENS_ATTENUATION_DEFAULT = 0.78  # r.EyeAdaptation.LensAttenuation (ISO 12232:2006 constant)
EXPOSURE_CVARS = {  # cvar -> getter kind; read in the editor, recorded in meta.json
    "r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange": "int",
    "r.EyeAdaptation.LensAttenuation": "float",
    "r.EyeAdaptation.MethodOverride": "int",
}
LOCK_LABEL = "S2RHDR_LinearLock"
TAG = "s2rhdr"

# name -> value: everything that alters radiance after lighting, set to "off"/identity.
EFFECTS_OFF: dict[str, Any] = {
    "bloom_intensity": 0.0,
    "vignette_intensity": 0.0,
    "film_grain_intensity": 0.0,
    "lens_flare_intensity": 0.0,
    "scene_fringe_intensity": 0.0,  # chromatic aberration
    "motion_blur_amount": 0.0,
    "motion_blur_max": 0.0,
    "tone_curve_amount": 0.0,  # with expand_gamut = 0 the curve is fully removed
    "expand_gamut": 0.0,
    "blue_correction": 0.0,
    "sharpen": 0.0,
    "local_exposure_highlight_contrast_scale": 1.0,  # != 1 enables local exposure
    "local_exposure_shadow_contrast_scale": 1.0,
    "local_exposure_detail_strength": 1.0,
    "color_grading_intensity": 0.0,  # LUT off
    "white_temp": 6500.0,  # neutral white balance
    "white_tint": 0.0,
    "depth_of_field_focal_distance": 0.0,  # 0 = no depth of field (as CameraFocusMethod.DISABLE)
}
# Curves applied even in manual mode (bias curve: GetAutoExposureCompensationFromCurve) or by
# local exposure: overridden with "no curve".
CURVES_OFF = ("auto_exposure_bias_curve", "local_exposure_highlight_contrast_curve",
              "local_exposure_shadow_contrast_curve")
_IDENTITY = (1.0, 1.0, 1.0, 1.0)
# Colour-grading vectors (Vector4) that must be identity: global and per tonal range.
GRADING_IDENTITY: dict[str, tuple[float, ...]] = {}
for _suffix in ("", "_shadows", "_midtones", "_highlights"):
    GRADING_IDENTITY.update({
        f"color_saturation{_suffix}": _IDENTITY, f"color_contrast{_suffix}": _IDENTITY,
        f"color_gamma{_suffix}": _IDENTITY,  # never a display gamma
        f"color_gain{_suffix}": _IDENTITY, f"color_offset{_suffix}": (0.0, 0.0, 0.0, 0.0)})
COLORS_IDENTITY = {"scene_color_tint": _IDENTITY}  # LinearColor


def luminance_max(cvars: dict[str, float]) -> float:
    """``LuminanceMaxFromLensAttenuation()`` of PostProcessEyeAdaptation.cpp."""
    extend = cvars.get("r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange", 0)
    if not int(extend):
        return 1.0
    attenuation = float(cvars.get("r.EyeAdaptation.LensAttenuation", LENS_ATTENUATION_DEFAULT))
    return LENS_ATTENUATION_DEFAULT / max(attenuation, 0.01)


def engine_ev100(iso: float, shutter_speed: float, fstop: float) -> float:
    """The engine's EV100 of physical camera settings (ISO clamped at 1 as the engine does)."""
    return math.log2(fstop * fstop * shutter_speed * 100.0 / max(ISO_MIN, iso))


def physical_exposure(ev100: float, fstop: float, iso: float = 100.0) -> dict[str, float]:
    """ISO / shutter speed (1/s) / f-stop as close to ``ev100`` as the engine's clamps allow:
    S solved at ISO 100; when S leaves 1..2000 it is clamped and ISO moves (never below 1).

    >>> physical_exposure(12.0, 8.0)["camera_shutter_speed"]
    64.0
    """
    n = float(fstop)
    if n <= 0:
        raise ValueError(f"f-stop must be positive, got {fstop}")
    speed = 2.0 ** float(ev100) * iso / (100.0 * n * n)
    lo, hi = SHUTTER_RANGE
    if not lo <= speed <= hi:
        speed = min(max(speed, lo), hi)
        iso = max(ISO_MIN, 100.0 * n * n * speed / 2.0 ** float(ev100))
    return {"camera_iso": iso, "camera_shutter_speed": speed, "depth_of_field_fstop": n}


def exposure_setup(ev100: float, fstop: float, cvars: dict[str, float] | None = None
                   ) -> dict[str, Any]:
    """The manual exposure whose pixel value is ``L * 2^-EV100`` in this project.

    ``cvars`` are the editor's values of :data:`EXPOSURE_CVARS` (defaults assumed if absent).
    """
    cvars = dict(cvars or {})
    physical = physical_exposure(ev100, fstop)
    ev_phys = engine_ev100(physical["camera_iso"], physical["camera_shutter_speed"], fstop)
    lum_max = luminance_max(cvars)
    bias = math.log2(lum_max) + ev_phys - float(ev100)
    return {"ev100": float(ev100), "scale": 2.0 ** -float(ev100), "physical": physical,
            "engine_ev100": ev_phys, "luminance_max": lum_max,
            "auto_exposure_bias": bias if abs(bias) > 1e-12 else 0.0, "cvars": cvars}


def settings_values(setup: dict[str, Any]) -> dict[str, Any]:
    """Every post-process value the lock sets (without the ``override_`` flags); enums,
    vectors and colours symbolic (converted to engine types in :func:`apply_lock`)."""
    values: dict[str, Any] = {
        "auto_exposure_method": "AEM_MANUAL",
        "auto_exposure_apply_physical_camera_exposure": True,
        "auto_exposure_bias": float(setup["auto_exposure_bias"]),
    }
    values.update(setup["physical"])
    values.update(EFFECTS_OFF)
    values.update(dict.fromkeys(CURVES_OFF))
    values.update(GRADING_IDENTITY)
    values.update(COLORS_IDENTITY)
    return values


def read_exposure_cvars() -> dict[str, float]:
    """The editor's :data:`EXPOSURE_CVARS` (an unreadable lens attenuation falls back to the
    default with a warning: 0 would make LuminanceMax 78)."""
    import unreal

    from s2rhdr_unreal import compat

    out = {name: compat.read_cvar(name, kind) for name, kind in EXPOSURE_CVARS.items()}
    if out["r.EyeAdaptation.LensAttenuation"] <= 0.0:
        unreal.log_warning("S2RHDR_INFO exposure: r.EyeAdaptation.LensAttenuation unreadable; "
                           f"assuming {LENS_ATTENUATION_DEFAULT}")
        out["r.EyeAdaptation.LensAttenuation"] = LENS_ATTENUATION_DEFAULT
    override = int(out["r.EyeAdaptation.MethodOverride"])
    if override not in (-1, 3):
        unreal.log_warning(f"S2RHDR_INFO exposure: r.EyeAdaptation.MethodOverride={override} "
                           "overrides the manual exposure; the job sets it to -1 for the render")
    return out


def _engine_value(unreal: Any, name: str, value: Any) -> Any:
    if name == "auto_exposure_method":
        return getattr(unreal.AutoExposureMethod, value)
    if name in GRADING_IDENTITY:
        return unreal.Vector4(*value)
    if name in COLORS_IDENTITY:
        return unreal.LinearColor(*value)
    return value


def level_blendables(unreal: Any) -> list[str]:
    """Labels of level PostProcessVolumes whose settings carry post-process materials
    (``weighted_blendables`` with a weight > 0): priority cannot remove those."""
    sub = unreal.get_editor_subsystem(unreal.EditorActorSubsystem)
    found = []
    for actor in sub.get_all_level_actors():
        if not isinstance(actor, unreal.PostProcessVolume) or actor.actor_has_tag(TAG):
            continue
        blendables = actor.get_editor_property("settings").get_editor_property(
            "weighted_blendables")
        entries = list(blendables.get_editor_property("array") or [])
        if any(e.get_editor_property("object") is not None
               and float(e.get_editor_property("weight")) > 0.0 for e in entries):
            found.append(actor.get_actor_label())
    return sorted(found)


def apply_lock(ev100: float, fstop: float, *, sequence: Any,
               cvars: dict[str, float] | None = None) -> tuple[Any, dict[str, Any]]:
    """Add the unbound PostProcessVolume carrying the lock to ``sequence`` as a spawnable
    (it then exists in whatever world MRQ renders and is saved with the sequence).

    Returns ``(binding, record)``: the exposure set-up and the level volumes whose
    post-process materials the lock cannot remove, for meta.json."""
    import unreal

    from s2rhdr_unreal import compat

    setup = exposure_setup(ev100, fstop, read_exposure_cvars() if cvars is None else cvars)
    blendables = level_blendables(unreal)
    if blendables:
        unreal.log_warning("S2RHDR_INFO lock: level volume(s) with post-process materials the "
                           "lock cannot remove: " + ", ".join(blendables)
                           + " (remove their blendables or use another level)")
    volume = compat.spawn_actor(unreal.PostProcessVolume, unreal.Vector(0.0, 0.0, 0.0),
                                unreal.Rotator(0.0, 0.0, 0.0))
    volume.set_actor_label(LOCK_LABEL)
    volume.set_editor_property("tags", [TAG])
    volume.set_editor_property("unbound", True)
    volume.set_editor_property("priority", VOLUME_PRIORITY)
    volume.set_editor_property("blend_weight", 1.0)
    volume.set_editor_property("enabled", True)
    settings = volume.get_editor_property("settings")  # a struct copy: modify, then set back
    for name, value in settings_values(setup).items():
        settings.set_editor_property(name, _engine_value(unreal, name, value))
        settings.set_editor_property(f"override_{name}", True)
    volume.set_editor_property("settings", settings)
    binding = compat.add_spawnable(sequence, volume)
    binding.set_display_name(LOCK_LABEL)
    compat.destroy_actor(volume)
    return binding, {**setup, "level_blendables": blendables}


def configure_color_output(config: Any) -> Any:
    """MRQ "Color Output": tone curve off (linear EXR), OpenColorIO off (it would force the
    tone curve back on). Gamma is never applied anywhere."""
    import unreal

    color = config.find_or_add_setting_by_class(unreal.MoviePipelineColorSetting)
    color.set_editor_property("disable_tone_curve", True)
    ocio = color.get_editor_property("ocio_configuration")
    ocio.set_editor_property("is_enabled", False)
    color.set_editor_property("ocio_configuration", ocio)
    return color
