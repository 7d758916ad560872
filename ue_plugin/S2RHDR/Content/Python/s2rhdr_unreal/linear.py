"""The linear-output lock: what keeps Unreal's frames scene-linear HDR at a fixed exposure.

MRQ's "Disable Tone Curve" removes the filmic curve, but the captured FinalColorHDR is still
*after* exposure and post-processing, and any PostProcessVolume in the level can add bloom,
grain, vignette, local exposure or colour grading. One unbound volume with a very high priority
overrides all of that (each value needs its ``override_<name>`` flag, or the engine ignores it).

Exposure mapping (documented in docs/unreal.md): the plan's EV100 becomes UE's *physical*
manual exposure. UE computes ``EV100 = log2(N^2 * S * 100 / ISO)`` from f-stop ``N``, shutter
speed ``S`` (1/s, ``camera_shutter_speed``) and ``camera_iso``, and scales scene luminance by
``2^-EV100`` -- exactly ``ExposurePlan.scale``, so a pixel value means the same in
both backends. ``N`` is the camera's aperture (the CineCamera writes it into the post-process
chain after volumes anyway), so we solve for ``S`` at ISO 100 and move ISO only when ``S``
would leave the editor's 1..2000 range. ``auto_exposure_bias`` stays 0.
"""

from __future__ import annotations

import math
from typing import Any

VOLUME_PRIORITY = 1.0e6  # above any hand-placed volume
SHUTTER_RANGE = (1.0, 2000.0)  # 1/s, the editor's slider range

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
}
# Colour-grading vectors (Vector4) that must be identity.
GRADING_IDENTITY = {
    "color_saturation": (1.0, 1.0, 1.0, 1.0),
    "color_contrast": (1.0, 1.0, 1.0, 1.0),
    "color_gamma": (1.0, 1.0, 1.0, 1.0),  # never a display gamma
    "color_gain": (1.0, 1.0, 1.0, 1.0),
    "color_offset": (0.0, 0.0, 0.0, 0.0),
}


def physical_exposure(ev100: float, fstop: float, iso: float = 100.0) -> dict[str, float]:
    """ISO / shutter speed (1/s) / f-stop whose UE EV100 equals ``ev100``.

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
        iso = 100.0 * n * n * speed / 2.0 ** float(ev100)
    return {"camera_iso": iso, "camera_shutter_speed": speed, "depth_of_field_fstop": n}


def ev100_of(iso: float, shutter_speed: float, fstop: float) -> float:
    """UE's EV100 from physical camera settings (inverse of :func:`physical_exposure`)."""
    return math.log2(fstop * fstop * shutter_speed * 100.0 / iso)


def exposure_values(ev100: float, fstop: float) -> dict[str, Any]:
    """Post-process values for a fixed manual exposure (enum left symbolic for testing)."""
    values: dict[str, Any] = {
        "auto_exposure_method": "AEM_MANUAL",
        "auto_exposure_apply_physical_camera_exposure": True,
        "auto_exposure_bias": 0.0,
    }
    values.update(physical_exposure(ev100, fstop))
    return values


def settings_values(ev100: float, fstop: float) -> dict[str, Any]:
    """Every post-process value the lock sets (without the ``override_`` flags)."""
    values = exposure_values(ev100, fstop)
    values.update(EFFECTS_OFF)
    values.update(GRADING_IDENTITY)
    return values


def apply_lock(ev100: float, fstop: float, *, sequence: Any = None,
               label: str = "S2RHDR_LinearLock") -> Any:
    """Spawn the unbound PostProcessVolume carrying the lock.

    With ``sequence`` the volume becomes a spawnable of that sequence (returned binding), so
    it exists in whatever world MRQ renders, even if the level is reloaded from disk;
    otherwise the level actor is returned.
    """
    import unreal

    from s2rhdr_unreal import compat

    volume = compat.spawn_actor(unreal.PostProcessVolume, unreal.Vector(0.0, 0.0, 0.0),
                                unreal.Rotator(0.0, 0.0, 0.0))
    volume.set_actor_label(label)
    volume.set_editor_property("unbound", True)
    volume.set_editor_property("priority", VOLUME_PRIORITY)
    volume.set_editor_property("blend_weight", 1.0)
    volume.set_editor_property("enabled", True)
    settings = volume.get_editor_property("settings")  # a struct copy: modify, then set back
    for name, value in settings_values(ev100, fstop).items():
        if name == "auto_exposure_method":
            value = unreal.AutoExposureMethod.AEM_MANUAL
        elif name in GRADING_IDENTITY:
            value = unreal.Vector4(*value)
        settings.set_editor_property(name, value)
        settings.set_editor_property(f"override_{name}", True)
    volume.set_editor_property("settings", settings)
    if sequence is None:
        return volume
    binding = sequence.add_spawnable_from_instance(volume)
    binding.set_display_name(label)
    compat.destroy_actor(volume)
    return binding


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
