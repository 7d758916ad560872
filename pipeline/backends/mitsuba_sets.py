"""The procedural sets (``environment.mitsuba.preset``) with seeded layout and materials.

Each set keeps the region x in [-5, 40], |y| < 7 free for actors. ``SetStyle.seed`` (the
plan's ``set_seed``) varies building heights and colours, which parking spaces are taken
and by which car paint, puddles, tree positions and furniture; the geometry and materials
are chosen for highlights (see ``mitsuba_materials``). No random numbers: every choice is
``mitsuba_materials.unit(seed, key)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.backends import mitsuba_materials as mm
from pipeline.backends.mitsuba_shapes import Shapes
from pipeline.errors import RenderError

PRESETS = ("street", "plaza", "interior", "parking", "park", "room")
SIGN_LUMINANCE = 1500.0  # cd/m^2, a lit LED shop sign
LAMP_LUMINANCE = 40000.0  # cd/m^2, the glowing bowl of a street / floor lamp


@dataclass(frozen=True)
class SetStyle:
    seed: int  # layout and material variation
    wetness: float | None  # None: drawn from the seed (street, plaza, parking)
    lamps_on: bool  # dusk and night: lamp heads and signs glow brighter
    exposure: float  # emitters are scaled like every light

    def u(self, *key: object) -> float:
        return mm.unit(self.seed, *key)

    def wet(self, choices: tuple[float, ...]) -> float:
        return self.wetness if self.wetness is not None else mm.pick(choices, self.seed, "wet")

    def lamp(self, color: tuple[float, float, float] = (1.0, 0.85, 0.6)) -> dict | None:
        if not self.lamps_on:
            return None
        return mm.emitter(color, LAMP_LUMINANCE, self.exposure)


def _car(s: Shapes, key: str, x: float, y: float, style: SetStyle, yaw90: bool = False) -> None:
    """A parked car: glossy paint body, glass cabin, dark tyres."""
    col = mm.pick(mm.CAR_PAINTS, style.seed, key, "paint")
    alpha = mm.pick((0.0, 0.03, 0.08), style.seed, key, "alpha")
    lx, ly = (1.9, 4.4) if yaw90 else (4.4, 1.9)
    s.box(f"{key}_body", (x, y, 0.7), (lx, ly, 0.8), mm.paint(col, alpha))
    s.box(f"{key}_cabin", (x, y, 1.3), (lx * (0.92 if yaw90 else 0.55),
                                        ly * (0.55 if yaw90 else 0.92), 0.5), mm.glass())


def _lamp_post(s: Shapes, key: str, x: float, y: float, style: SetStyle,
               height: float = 5.0) -> None:
    s.cyl(f"{key}_pole", (x, y, 0.0), 0.08, height, mm.metal(0.15))
    s.sphere(f"{key}_head", (x, y, height + 0.2), 0.25, mm.diffuse((0.8, 0.8, 0.75)),
             style.lamp())


def _buildings(s: Shapes, style: SetStyle, side: int, row_y: float, xs: range,
               gap: tuple[float, float], prefix: str) -> None:
    for i, x in enumerate(xs):
        if gap[0] <= x <= gap[1]:
            continue
        h = 6.0 + 18.0 * style.u(prefix, i, "h")
        depth = 8.0 + 4.0 * style.u(prefix, i, "d")
        base = mm.pick(mm.FACADES, style.seed, prefix, i)
        s.box(f"{prefix}_{i}", (x, side * (row_y + depth / 2), h / 2), (9.5, depth, h),
              mm.facade(base, 3.0 + i + side, 2.0))
        if style.u(prefix, i, "sign") < 0.35:  # a lit shop sign above the ground floor
            col = mm.pick(mm.SIGNS, style.seed, prefix, i, "col")
            if style.lamps_on:  # lit at dusk and night; a coloured glossy panel by day
                s.panel(f"{prefix}_{i}_sign", (x, side * (row_y - 0.02), 3.2), -side,
                        (4.0, 0.8), mm.black(), mm.emitter(col, SIGN_LUMINANCE, style.exposure))
            else:
                s.panel(f"{prefix}_{i}_sign", (x, side * (row_y - 0.02), 3.2), -side,
                        (4.0, 0.8), mm.paint([0.8 * c for c in col], 0.05))


def street(s: Shapes, style: SetStyle) -> None:
    wet = style.wet((0.0, 0.1, 0.25, 0.4))
    s.static("env_ground", "rectangle", _ground(400), mm.asphalt((0.14, 0.14, 0.15), 1.0, wet,
                                                                 60))
    for side in (-1, 1):
        s.box(f"env_walk{side + 1}", (40, side * 11, 0.075), (140, 4, 0.15),
              mm.diffuse_tex((0.45, 0.43, 0.4), "checker", 2.0, 4.0))
        _buildings(s, style, side, 13, range(-30, 110, 10), (14, 26), f"env_bld{side + 1}")
        for k, x in enumerate(range(0, 100, 16)):
            _lamp_post(s, f"env_lamp{side + 1}_{k}", x + 3, side * 9.5, style)
        for k, x in enumerate(range(-12, 72, 6)):
            if 10 <= x <= 30 or style.u("car", side, k) < 0.3:
                continue
            _car(s, f"env_car{side + 1}_{k}", x + 0.5, side * 7.9, style)


def plaza(s: Shapes, style: SetStyle) -> None:
    wet = style.wet((0.0, 0.0, 0.15))
    s.static("env_ground", "rectangle", _ground(400),
             _paving((0.5, 0.47, 0.42), 11.0, wet, 100))
    for k in range(12):
        a = 2 * math.pi * k / 12
        h = 10.0 + 12.0 * style.u("bld", k)
        base = mm.pick(mm.FACADES, style.seed, "bld", k)
        s.box(f"env_bld{k}", (18 + 45 * math.cos(a), 45 * math.sin(a), h / 2), (14, 14, h),
              mm.facade(base, 12.0 + k, 2.0))
    fx, fy = 22.0 + 4.0 * style.u("fountain", "x"), 14.0
    s.cyl("env_fountain", (fx, fy, 0), 3.0, 0.8, mm.diffuse_tex((0.7, 0.7, 0.7), "noise", 13.0))
    s.disk("env_water", (fx, fy, 0.81), 2.8, mm.coat(mm.rgb((0.03, 0.05, 0.06)), 0.0, 1.33))
    for k in range(4):
        x = 5 + 8 * k
        s.box(f"env_bench{k}", (x, -12, 0.45), (2.0, 0.6, 0.08),
              mm.paint((0.35, 0.2, 0.1), 0.1))
        for j, dx in enumerate((-0.8, 0.8)):
            s.box(f"env_bench{k}_leg{j}", (x + dx, -12, 0.2), (0.08, 0.5, 0.4), mm.metal())
    for k in range(6):
        _lamp_post(s, f"env_lamp{k}", -4 + 9 * k, 9.0, style, 4.5)
    for k in range(3):
        if style.u("car", k) < 0.5:
            _car(s, f"env_car{k}", 30 + 6 * k, -18, style)


def interior(s: Shapes, style: SetStyle) -> None:
    def wall() -> dict:  # a fresh dict per shape: Mitsuba consumes the texture
        return mm.diffuse_tex((0.75, 0.72, 0.66), "noise", 21.0, 2.0)

    floor = {"type": "roughplastic", "distribution": "ggx", "alpha": 0.3, "int_ior": 1.5,
             "diffuse_reflectance": mm.diffuse_tex((0.45, 0.3, 0.18), "stripes", 22.0,
                                                   6.0)["reflectance"]}
    s.box("env_floor", (5, 0, -0.05), (24, 16, 0.1), floor)
    s.box("env_ceiling", (5, 0, 3.55), (24, 16, 0.1), wall())
    s.box("env_wall_back", (17, 0, 1.75), (0.2, 16, 3.5), wall())
    s.box("env_wall_front", (-7, 0, 1.75), (0.2, 16, 3.5), wall())
    s.box("env_wall_right", (5, 8, 1.75), (24, 0.2, 3.5), wall())
    # the left wall has a window band (1.0 .. 2.6 m) letting sun and sky in
    s.box("env_wall_left_lo", (5, -8, 0.5), (24, 0.2, 1.0), wall())
    s.box("env_wall_left_hi", (5, -8, 3.05), (24, 0.2, 0.9), wall())
    lacquer = mm.pick(((0.5, 0.35, 0.2), (0.15, 0.1, 0.06), (0.6, 0.6, 0.58)), style.seed, "tbl")
    for k in range(3):
        s.box(f"env_table{k}", (2 + 5 * k, 4, 0.4), (1.6, 0.9, 0.8), mm.paint(lacquer, 0.02))
        s.sphere(f"env_bowl{k}", (2 + 5 * k, 4, 0.95), 0.15,
                 mm.mirror() if k == 1 else mm.paint(mm.pick(mm.CAR_PAINTS, style.seed, k)))
    s.box("env_shelf", (14, -5, 1.0), (0.5, 3, 2.0),
          mm.diffuse_tex((0.3, 0.3, 0.35), "checker", 23.0))
    s.panel("env_mirror", (8, 7.88, 1.6), -1, (1.2, 1.6), mm.mirror())
    s.cyl("env_floorlamp", (12.5, 6.5, 0), 0.03, 1.6, mm.metal(0.08))
    s.sphere("env_floorlamp_shade", (12.5, 6.5, 1.75), 0.2, mm.diffuse((0.9, 0.85, 0.7)),
             mm.emitter((1.0, 0.8, 0.55), 3000.0, style.exposure))
    s.box("env_outside", (5, 0, -0.3), (200, 200, 0.2),
          mm.diffuse_tex((0.25, 0.35, 0.15), "noise", 24.0, 40.0))


def parking(s: Shapes, style: SetStyle) -> None:
    wet = style.wet((0.05, 0.2, 0.35))
    s.static("env_ground", "rectangle", _ground(300), mm.asphalt((0.3, 0.3, 0.3), 31.0, wet, 50))
    for row, y in enumerate((-9.0, 9.0)):
        for k in range(10):
            if 14 <= -8 + 6 * k <= 26 or style.u("car", row, k) < 0.2:
                continue
            _car(s, f"env_car{row}_{k}", -8 + 6 * k, y, style, yaw90=True)
    for k in range(6):
        s.box(f"env_pillar{k}", (-10 + 12 * k, 14, 2.0), (0.6, 0.6, 4.0),
              mm.diffuse_tex((0.6, 0.6, 0.6), "noise", 33.0 + k))
        _lamp_post(s, f"env_lamp{k}", -10 + 12 * k, 13.0, style, 4.0)
    s.box("env_wall", (20, 20, 3), (80, 0.4, 6),
          mm.diffuse_tex((0.5, 0.5, 0.48), "checker", 34.0, 8.0))
    s.box("env_rail", (20, 12.5, 0.8), (70, 0.06, 0.06), mm.metal(0.1))


def park(s: Shapes, style: SetStyle) -> None:
    s.static("env_ground", "rectangle", _ground(400),
             mm.diffuse_tex((0.12, 0.25, 0.07), "noise", 41.0, 80))
    s.box("env_path", (20, 0, 0.01), (120, 3, 0.02),
          mm.diffuse_tex((0.5, 0.45, 0.35), "noise", 42.0, 10.0))
    for k in range(14):
        x = -10 + 9 * k + 3.0 * style.u("tree", k, "x")
        y = (12 + 6 * style.u("tree", k, "y")) * (1 if k % 2 else -1)
        r = 1.8 + 1.2 * style.u("tree", k, "r")
        s.cyl(f"env_trunk{k}", (x, y, 0), 0.25, 3.5,
              mm.diffuse_tex((0.3, 0.2, 0.12), "noise", 44.0 + k))
        s.sphere(f"env_crown{k}", (x, y, 3.2 + r), r,
                 mm.diffuse_tex((0.1, 0.3, 0.06), "noise", 60.0 + k))
    px = 15.0 + 10.0 * style.u("pond")
    s.disk("env_pond", (px, -10.0, 0.03), 4.0, mm.coat(mm.rgb(0.02), 0.0, 1.33))
    for k in range(3):
        s.box(f"env_bench{k}", (4 + 12 * k, 4, 0.45), (2, 0.6, 0.08),
              mm.paint((0.4, 0.25, 0.12), 0.1))
        s.box(f"env_bench{k}_frame", (4 + 12 * k, 4, 0.22), (1.9, 0.08, 0.44), mm.metal())
        _lamp_post(s, f"env_lamp{k}", 10 + 12 * k, 2.5, style, 4.0)


def room(s: Shapes, style: SetStyle) -> None:
    """Furniture on a varnished floor, for indoor HDR maps (the map is the room's walls)."""
    wood = mm.pick(((0.45, 0.3, 0.18), (0.25, 0.15, 0.08), (0.6, 0.5, 0.38)), style.seed, "floor")
    floor = {"type": "roughplastic", "distribution": "ggx", "alpha": 0.15, "int_ior": 1.5,
             "diffuse_reflectance": mm.diffuse_tex(wood, "stripes", 71.0, 8.0)["reflectance"]}
    s.box("env_floor", (6, 0, -0.05), (16, 14, 0.1), floor)
    s.box("env_rug", (6, 0, 0.005), (4, 3, 0.01),
          mm.diffuse_tex(mm.pick(mm.FACADES, style.seed, "rug"), "checker", 72.0, 3.0))
    fabric = mm.pick(((0.15, 0.2, 0.35), (0.4, 0.1, 0.08), (0.5, 0.5, 0.45)), style.seed, "sofa")
    s.box("env_sofa_seat", (9.5, 0, 0.25), (1.0, 2.6, 0.5), mm.diffuse(fabric))
    s.box("env_sofa_back", (10.1, 0, 0.55), (0.3, 2.6, 1.1), mm.diffuse(fabric))
    s.box("env_table", (6.5, 0, 0.42), (1.4, 0.8, 0.05), mm.paint((0.05, 0.04, 0.03), 0.0))
    for j, (dx, dy) in enumerate(((-0.6, -0.3), (0.6, -0.3), (-0.6, 0.3), (0.6, 0.3))):
        s.cyl(f"env_table_leg{j}", (6.5 + dx, dy, 0), 0.025, 0.4, mm.metal(0.05))
    s.sphere("env_chrome", (6.3, 0.15, 0.57), 0.12, mm.mirror())
    s.cyl("env_vase", (6.8, -0.15, 0.445), 0.08, 0.3,
          mm.paint(mm.pick(mm.CAR_PAINTS, style.seed, "vase"), 0.0))
    s.cyl("env_lamp_pole", (9.5, -2.2, 0), 0.02, 1.5, mm.metal(0.05))
    s.sphere("env_lamp_shade", (9.5, -2.2, 1.65), 0.18, mm.diffuse((0.9, 0.85, 0.7)),
             mm.emitter((1.0, 0.8, 0.55), 3000.0, style.exposure))
    s.box("env_shelf", (4.0, 4.0, 0.9), (2.0, 0.4, 1.8),
          mm.diffuse_tex((0.35, 0.25, 0.15), "stripes", 73.0, 2.0))


def _ground(size: float):
    from pipeline.backends.mitsuba_shapes import scale

    return scale(size / 2, size / 2, 1.0)


def _paving(base: tuple[float, float, float], salt: float, wet: float, repeat: float) -> dict:
    dry = mm.diffuse_tex(base, "checker", salt, repeat)
    if wet <= 0:
        return dry
    puddles = mm.asphalt(base, salt, wet, repeat)
    puddles["bsdf_0"] = dry
    return puddles


SETS = {"street": street, "plaza": plaza, "interior": interior, "parking": parking,
        "park": park, "room": room}


def build_set(name: str, shapes: Shapes, style: SetStyle) -> None:
    if name not in SETS:
        raise RenderError(f"unknown mitsuba preset {name!r}",
                          hint=f"use one of {', '.join(PRESETS)}")
    SETS[name](shapes, style)
