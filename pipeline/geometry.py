"""Camera and pose maths shared by the planner and every backend (standard library only).

Conventions (DESIGN.md section 2):

* World: Unreal axes, X forward, Y right, Z up (left-handed), metres.
* Rotations: ``(roll, pitch, yaw)`` in degrees as Unreal shows them. The axes of a rotator
  are the rows of Unreal's ``FRotationTranslationMatrix`` (forward, right, up), so a rotator
  means exactly what it means in the editor.
* Camera space of ``world_to_camera`` / ``K``: OpenCV (x right, y down, z forward), so
  ``u = fx * x / z + cx`` with pixel centres at ``i + 0.5`` and ``(cx, cy) = (W / 2, H / 2)``.
* Intrinsics: square pixels, the horizontal field of view comes from focal length and sensor
  width (Unreal's filmback with the aspect ratio constrained to the output resolution).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]
Mat4 = tuple[tuple[float, float, float, float], ...]


def rotator_axes(rotation: Sequence[float]) -> Mat3:
    """Return (forward, right, up) unit vectors of an Unreal rotator ``(roll, pitch, yaw)``."""
    roll, pitch, yaw = (math.radians(float(a)) for a in rotation)
    sr, cr = math.sin(roll), math.cos(roll)
    sp, cp = math.sin(pitch), math.cos(pitch)
    sy, cy = math.sin(yaw), math.cos(yaw)
    forward = (cp * cy, cp * sy, sp)
    right = (sr * sp * cy - cr * sy, sr * sp * sy + cr * cy, -sr * cp)
    up = (-(cr * sp * cy + sr * sy), cy * sr - cr * sp * sy, cr * cp)
    return forward, right, up


def look_at_rotator(location: Sequence[float], target: Sequence[float], roll: float = 0.0) -> Vec3:
    """Rotator whose forward axis points from ``location`` to ``target``."""
    dx, dy, dz = (float(t) - float(s) for t, s in zip(target, location))
    horiz = math.hypot(dx, dy)
    if horiz == 0.0 and dz == 0.0:
        raise ValueError("look_at target coincides with the camera location")
    yaw = math.degrees(math.atan2(dy, dx))
    pitch = math.degrees(math.atan2(dz, horiz))
    return (float(roll), pitch, yaw)


def heading_rotator(direction: Sequence[float]) -> Vec3:
    """Rotator of an upright actor facing along ``direction`` (yaw only, no pitch or roll)."""
    return (0.0, 0.0, math.degrees(math.atan2(float(direction[1]), float(direction[0]))))


def world_to_camera(location: Sequence[float], rotation: Sequence[float]) -> Mat4:
    """4x4 matrix from world (metres) to OpenCV camera space of a camera at ``location``."""
    forward, right, up = rotator_axes(rotation)
    rows = (right, tuple(-u for u in up), forward)
    c = [float(v) for v in location]
    t = tuple(-sum(r[i] * c[i] for i in range(3)) for r in rows)
    return tuple((*rows[k], t[k]) for k in range(3)) + ((0.0, 0.0, 0.0, 1.0),)


def camera_to_world(location: Sequence[float], rotation: Sequence[float]) -> Mat4:
    """Inverse of :func:`world_to_camera` (columns are right, down, forward, location)."""
    forward, right, up = rotator_axes(rotation)
    down = tuple(-u for u in up)
    cols = (right, down, forward)
    loc = [float(v) for v in location]
    return tuple(
        (cols[0][i], cols[1][i], cols[2][i], loc[i]) for i in range(3)
    ) + ((0.0, 0.0, 0.0, 1.0),)


def intrinsics(focal_length_mm: float, sensor_width_mm: float, width: int, height: int) -> Mat3:
    """Pinhole K for square pixels; horizontal FOV from focal length and sensor width."""
    f = float(focal_length_mm) * float(width) / float(sensor_width_mm)
    return ((f, 0.0, width / 2.0), (0.0, f, height / 2.0), (0.0, 0.0, 1.0))


def horizontal_fov_deg(focal_length_mm: float, sensor_width_mm: float) -> float:
    """Horizontal field of view in degrees (what Mitsuba's ``fov_axis='x'`` expects)."""
    return math.degrees(2.0 * math.atan(float(sensor_width_mm) / (2.0 * float(focal_length_mm))))


def transform_point(m: Sequence[Sequence[float]], p: Sequence[float]) -> Vec3:
    """Apply a 4x4 affine matrix to a 3-vector."""
    return tuple(
        m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3] for r in range(3)
    )  # type: ignore[return-value]


def project(k: Sequence[Sequence[float]], w2c: Sequence[Sequence[float]],
            point: Sequence[float]) -> tuple[float, float, float]:
    """Project a world point to ``(u, v, z)``: pixel coordinates (continuous) and depth."""
    x, y, z = transform_point(w2c, point)
    if z <= 0.0:
        return (math.nan, math.nan, z)
    return (k[0][0] * x / z + k[0][2], k[1][1] * y / z + k[1][2], z)


def to_unreal_cm(location: Sequence[float]) -> Vec3:
    """Metres (plan) to Unreal centimetres."""
    return tuple(float(v) * 100.0 for v in location)  # type: ignore[return-value]
