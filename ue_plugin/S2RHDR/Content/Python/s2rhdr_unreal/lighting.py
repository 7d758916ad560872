"""The plan's sun, sky and lights as Unreal light actors, so both backends light the same scene.

:func:`light_records` is pure (every class, unit, intensity, rotation and colour, from the
plan); :func:`apply` spawns them. Each light is configured on a level actor tagged ``s2rhdr``,
turned into a *spawnable* of the shot's sequence (like the linear-lock volume: it then exists
in whatever world MRQ renders, and the level is never modified or saved) and the level copy is
destroyed. Rebuilding the sequence replaces the spawnables, and any ``s2rhdr``-tagged level
actor left by a crashed run is destroyed first, so re-running is idempotent.

Units (docs/unreal.md "Lighting"):

- sun -> ``DirectionalLight``: intensity = illuminance in **lux** (the unit of directional
  lights), pointing *from* the sun (forward = -``SunPlan.direction()``), angular diameter as
  ``light_source_angle``; ``atmosphere_sun_light`` so the ``SkyAtmosphere`` is lit by it, the
  disk hidden (``atmosphere_sun_disk_color_scale`` = 0) when the plan says ``visible: false``.
  With ``atmosphere_sun_light`` the intensity is the *outer-space* illuminance and the ground
  receives it times the atmosphere's transmittance T (coloured): the plugin asks the engine
  for T (``SkyAtmosphereComponent.get_atmosphere_transmitance_on_ground_at_planet_top``, all
  supported versions) and sets colour x intensity = plan colour x lux / T per channel, so the
  ground gets the plan's illuminance and colour (:func:`through_atmosphere`). The engine's own
  ``get_atmospheric_light_to_match_illuminance_on_ground`` (5.5+; ``SkyAtmosphereComponent.cpp``:
  lux / luminance(T)) is recorded next to it in meta.json as a cross-check.
- point / spot -> ``PointLight`` / ``SpotLight`` with ``intensity_units = CANDELAS``.
- area -> ``RectLight`` ``source_width/height`` in cm, ``intensity_units = NITS`` (cd/m^2,
  the plan's luminance) where ``LightUnits.NITS`` exists (5.6 stub: it does), else CANDELAS
  with ``luminance x area``.
- sky -> ``SkyLight`` (captured scene, real-time capture) + ``SkyAtmosphere`` when there is a
  sun. Unreal's atmosphere computes the sky's luminance from the sun; the API has no zenith
  luminance setting, so ``SkyPlan.luminance`` is NOT enforced (recorded in meta.json for the
  calibration check). A plan without sun and with a black sky spawns no sky light.

Colours: light colours are 8-bit in Unreal and clamp at 1, while plan colours are
luminance-normalised and may exceed 1. The colour is divided by its largest component and the
intensity multiplied by it, so colour x intensity (what the renderer uses) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.geometry import look_at_rotator, to_unreal_cm

TAG = "s2rhdr"
POINT_RADIUS_CM = 10000.0  # attenuation window radius: <1 % off inverse-square within ~30 m
LIGHT_CLASSES = ("DirectionalLight", "SkyLight", "SkyAtmosphere", "PointLight", "SpotLight",
                 "RectLight")


def use_level_lighting(plan: Any) -> bool:
    """``environment.unreal.use_level_lighting: true`` keeps the level's own lights."""
    return bool((plan.environment.backends.get("unreal") or {}).get("use_level_lighting"))


def split_color(color: Sequence[float]) -> tuple[tuple[float, float, float], float]:
    """(colour with max component 1, factor): ``colour x factor`` equals the plan colour."""
    c = [max(0.0, float(v)) for v in color]
    peak = max(c)
    if peak <= 0.0:
        return (0.0, 0.0, 0.0), 0.0
    return (c[0] / peak, c[1] / peak, c[2] / peak), peak


def sky_light_wanted(plan: Any) -> bool:
    """``environment.unreal.sky_light: false`` drops the SkyLight (the self-test scene)."""
    return bool((plan.environment.backends.get("unreal") or {}).get("sky_light", True))


def through_atmosphere(color: Sequence[float], lux: float,
                       transmittance: Sequence[float]) -> dict[str, Any]:
    """Outer-space light whose ground illuminance is ``lux`` with colour ``color``:
    intensity x colour x T = lux x colour per channel (T floored at 1e-4)."""
    t = [max(float(v), 1e-4) for v in list(transmittance)[:3]]
    tint, peak = split_color([c / v for c, v in zip(color, t)])
    return {"intensity": float(lux) * peak, "color": list(tint), "transmittance": t,
            "ground_lux": float(lux)}


def sun_rotator(sun: Any) -> tuple[float, float, float]:
    """Rotator whose forward axis points from the sun into the scene."""
    d = sun.direction()
    return look_at_rotator((0.0, 0.0, 0.0), (-d[0], -d[1], -d[2]))


def _record(label: str, cls: str, location_m: Sequence[float], rotation: Sequence[float],
            color: Sequence[float] | None, intensity: float | None, units: str | None,
            **props: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"label": label, "class": cls, "location_m": list(location_m),
                           "rotation": [float(a) for a in rotation], "props": props}
    if color is not None and intensity is not None:
        tint, peak = split_color(color)
        rec.update(color=list(tint), intensity=float(intensity) * peak, units=units)
    return rec


def light_records(plan: Any, *, has_nits: bool = True) -> list[dict[str, Any]]:
    """Every light actor the plan needs (empty with ``use_level_lighting``)."""
    if use_level_lighting(plan):
        return []
    env, name = plan.environment, plan.name
    out: list[dict[str, Any]] = []
    origin = (0.0, 0.0, 0.0)
    if env.sun is not None:
        sun = env.sun
        out.append(_record(
            f"{name}_sun", "DirectionalLight", origin, sun_rotator(sun), sun.color,
            sun.illuminance_lux, "LUX", atmosphere_sun_light=True,
            atmosphere_sun_disk_color_scale=(1.0, 1.0, 1.0, 1.0) if sun.visible
            else (0.0, 0.0, 0.0, 1.0),
            light_source_angle=float(sun.angular_diameter_deg)))
        out.append(_record(f"{name}_atmosphere", "SkyAtmosphere", origin, origin, None, None,
                           None, sky_luminance_factor=(1.0, 1.0, 1.0, 1.0)))
    if (env.sun is not None or env.sky.luminance > 0) and sky_light_wanted(plan):
        # intensity 1, white: the captured sky as rendered (no unit: a scale factor)
        out.append(_record(f"{name}_sky", "SkyLight", origin, origin, (1.0, 1.0, 1.0), 1.0,
                           None, source_type="SLS_CAPTURED_SCENE", real_time_capture=True))
    for i, light in enumerate(env.lights):
        label = f"{name}_light{i}_{light.kind}"
        if light.kind == "point":
            out.append(_record(label, "PointLight", light.position, light.rotation, light.color,
                               light.intensity_cd, "CANDELAS", source_radius=0.0,
                               attenuation_radius=POINT_RADIUS_CM))
        elif light.kind == "spot":
            out.append(_record(label, "SpotLight", light.position, light.rotation, light.color,
                               light.intensity_cd, "CANDELAS", source_radius=0.0,
                               attenuation_radius=POINT_RADIUS_CM,
                               outer_cone_angle=float(light.cone_deg),
                               inner_cone_angle=0.75 * float(light.cone_deg)))
        elif light.kind == "area":
            w, h = (float(s) for s in light.size)
            nits = float(light.luminance)
            out.append(_record(label, "RectLight", light.position, light.rotation, light.color,
                               nits if has_nits else nits * w * h,
                               "NITS" if has_nits else "CANDELAS",
                               source_width=w * 100.0, source_height=h * 100.0,
                               barn_door_length=0.0, attenuation_radius=POINT_RADIUS_CM))
        else:
            raise ValueError(f"light {i}: unknown kind {light.kind!r}; use area, point or spot")
    return out


def summary(plan: Any) -> dict[str, Any]:
    """What meta.json records about the lighting (the records, or the level's own)."""
    if use_level_lighting(plan):
        return {"source": "level"}
    return {"source": "plan", "actors": light_records(plan),
            "sky_zenith_cd_m2_planned": float(plan.environment.sky.luminance),
            "sky_zenith_enforced": False}


# ---- engine side ---------------------------------------------------------------------------

def _component(actor: Any, cls: str) -> Any:
    name = "sky_atmosphere_component" if cls == "SkyAtmosphere" else "light_component"
    return actor.get_editor_property(name)


def _configure(unreal: Any, actor: Any, rec: dict[str, Any]) -> None:
    comp = _component(actor, rec["class"])
    comp.set_editor_property("mobility", unreal.ComponentMobility.MOVABLE)
    if "units" in rec:
        if rec["units"] not in (None, "LUX"):  # directional: always lux; sky light: a scale
            comp.set_editor_property("intensity_units", getattr(unreal.LightUnits, rec["units"]))
        comp.set_editor_property("intensity", float(rec["intensity"]))
        comp.set_light_color(unreal.LinearColor(*rec["color"], 1.0))
    for key, value in rec["props"].items():
        if key == "source_type":
            value = getattr(unreal.SkyLightSourceType, value)
        elif isinstance(value, tuple):
            value = unreal.LinearColor(*value)
        comp.set_editor_property(key, value)


def remove_leftovers(unreal: Any) -> int:
    """Destroy level actors tagged ``s2rhdr`` (left by a run that crashed mid-build)."""
    from s2rhdr_unreal import compat

    sub = unreal.get_editor_subsystem(unreal.EditorActorSubsystem)
    stale = [a for a in sub.get_all_level_actors() if a.actor_has_tag(TAG)]
    for actor in stale:
        compat.destroy_actor(actor)
    return len(stale)


def level_light_labels(unreal: Any) -> list[str]:
    """Labels of the level's own light actors (they add to the plan's lighting)."""
    classes = tuple(getattr(unreal, c) for c in LIGHT_CLASSES if hasattr(unreal, c))
    sub = unreal.get_editor_subsystem(unreal.EditorActorSubsystem)
    return [a.get_actor_label() for a in sub.get_all_level_actors()
            if isinstance(a, classes) and not a.actor_has_tag(TAG)]


def _sun_compensation(unreal: Any, plan: Any, spawned: dict[str, Any]) -> dict[str, Any]:
    """Re-set the sun so the ground receives the plan's illuminance through the atmosphere."""
    from s2rhdr_unreal import compat

    sun_actor, atmo_actor = spawned.get("DirectionalLight"), spawned.get("SkyAtmosphere")
    if sun_actor is None or atmo_actor is None:
        return {}
    sun = plan.environment.sun
    light = _component(sun_actor, "DirectionalLight")
    atmo = _component(atmo_actor, "SkyAtmosphere")
    t = atmo.get_atmosphere_transmitance_on_ground_at_planet_top(light)
    t_rgb = [float(t.get_editor_property(c)) for c in ("r", "g", "b")]
    rec = through_atmosphere(sun.color, sun.illuminance_lux, t_rgb)
    light.set_editor_property("intensity", rec["intensity"])
    light.set_light_color(unreal.LinearColor(*rec["color"], 1.0))
    rec["engine_outer_space_lux_white"] = compat.engine_outer_space_lux(
        atmo, unreal.Vector(*sun.direction()), sun.illuminance_lux)
    return rec


def apply(plan: Any, sequence: Any) -> tuple[list[Any], dict[str, Any]]:
    """Spawn the plan's lights as spawnables of ``sequence``; returns their bindings and what
    meta.json records about the sun's atmosphere compensation."""
    import unreal

    from s2rhdr_unreal import compat

    remove_leftovers(unreal)
    if use_level_lighting(plan):
        unreal.log("S2RHDR_INFO lighting: the level's own lights (use_level_lighting)")
        return [], {}
    own = level_light_labels(unreal)
    if own:
        unreal.log_warning("S2RHDR_INFO lighting: the level's own lights add to the plan's: "
                           + ", ".join(sorted(own)[:10])
                           + " (remove them or set environment.unreal.use_level_lighting)")
    spawned: list[tuple[dict[str, Any], Any]] = []
    for rec in light_records(plan, has_nits=hasattr(unreal.LightUnits, "NITS")):
        actor = compat.spawn_actor(getattr(unreal, rec["class"]),
                                   unreal.Vector(*to_unreal_cm(rec["location_m"])),
                                   unreal.Rotator(*rec["rotation"]))
        actor.set_actor_label(rec["label"])
        actor.set_editor_property("tags", [TAG])
        _configure(unreal, actor, rec)
        spawned.append((rec, actor))
    sun = _sun_compensation(unreal, plan, {r["class"]: a for r, a in spawned})
    bindings = []
    for rec, actor in spawned:  # the templates are copied now: after the compensation
        binding = compat.add_spawnable(sequence, actor)
        binding.set_display_name(rec["label"])
        compat.destroy_actor(actor)
        bindings.append(binding)
    return bindings, ({"sun_through_atmosphere": sun} if sun else {})
