"""The embedded Mitsuba 3 backend: ShotPlan -> one sequence folder in the dataset layout.

The scene is built once per shot (``mitsuba_scene.build_scene``) and posed per frame in place
(``mi.traverse`` + ``params.update()``), never rebuilt. Up to three renders a frame:

1. the image: ``path`` integrator, Gaussian pixel filter, the profile's spp (indoor presets
   at default/final quality: doubling rounds until clean, ``mitsuba_sampling``);
2. the surface guides (only when the diffuse/normal passes are requested): ``aov``
   integrator without an inner integrator (albedo + shading normal), Gaussian filter,
   ``min(spp, 4)`` samples. Wrapping ``path`` in ``aov`` instead made the image 3x slower;
3. the geometry (only for depth/mask/flow): 1 spp at the pixel centre, box filter, world
   position + shape id,
   so ids and positions are never averaged across edges. ``pipeline.flow`` turns them into
   exact depth, mask and flow.

Pixel values are luminance x ``plan.exposure.scale``: the emitters are scaled, the image is
written as rendered (no tone curve, no clamp except HALF's 65504, counted in meta.json).
Warm-up frames are skipped (Mitsuba has no temporal state); output numbering is kept.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.backends import QUALITIES
from pipeline.backends import mitsuba_scene as ms
from pipeline.backends.mitsuba_sampling import Sampling, render_image, sampling_for
from pipeline.backends.mitsuba_variant import activate, device
from pipeline.errors import RenderError
from pipeline.flow import FLIP_Y, actor_mask, camera_depth, forward_flow
from pipeline.plan_model import ActorPose, FramePlan, ShotPlan
from s2rhdr_loader.core import atomic, exr, layout

# quality -> (resolution scale, spp cap or None for the spec's spp)
PROFILES: dict[str, tuple[float, int | None]] = {
    "preview": (0.25, 4),
    "default": (1.0, 16),
    "final": (1.0, None),
}
DEFAULT_SPP = 64
# Interiors are lit indirectly (a window, a lamp bouncing off walls): at the same spp they
# are far noisier than streets, so their profile caps are this many times higher (preview 16,
# default 64) and default/final then continue adaptively (``mitsuba_sampling``; measured noise
# per quality: docs/rendering.md).
INDOOR_PRESETS = ("interior", "room")
INDOOR_SPP_FACTOR = 4


def profile(plan: ShotPlan, quality: str) -> tuple[ShotPlan, int, int]:
    """The plan as actually rendered at ``quality`` (resolution and K scaled), spp, max depth.

    K is rebuilt from the plan's horizontal FOV for the new resolution, so
    ``camera_params/NNNN.json`` always describes the pixels on disk.
    """
    if quality not in PROFILES:
        raise RenderError(f"unknown quality {quality!r}", hint=f"use one of {', '.join(QUALITIES)}")
    q = dict(plan.render.quality.get("mitsuba", {}) or {})
    spec_spp = int(q.get("spp", DEFAULT_SPP))
    max_depth = int(q.get("max_depth", 6))
    s, cap = PROFILES[quality]
    preset = str(dict(plan.environment.backends.get("mitsuba", {}) or {}).get("preset", ""))
    if cap is not None and preset in INDOOR_PRESETS:
        cap *= INDOOR_SPP_FACTOR
    spp = max(1, spec_spp if cap is None else min(cap, spec_spp))
    w0, h0 = plan.render.resolution
    if s == 1.0:
        w, h = int(w0), int(h0)
    else:
        w, h = max(16, round(w0 * s)), max(8, round(h0 * s))
    fx = float(plan.camera.K[0][0]) * w / float(w0)
    k = ((fx, 0.0, w / 2.0), (0.0, fx, h / 2.0), (0.0, 0.0, 1.0))
    render = dataclasses.replace(plan.render, resolution=(w, h))
    camera = dataclasses.replace(plan.camera, K=k)
    return dataclasses.replace(plan, render=render, camera=camera), spp, max_depth


def _tick(progress: Any, note: str) -> None:
    if progress is None:
        return
    if hasattr(progress, "update"):
        progress.update(1, note=note)
    else:
        progress(1)


def _shape_ids(mi: Any, scene: Any) -> dict[str, int]:
    """Shape key -> the value the ``shape_index`` AOV reports for it.

    LLVM/CUDA variants report the shape's JIT registry id (creation order, which is *not*
    ``scene.shapes()`` order); scalar variants report the index in ``scene.shapes()`` + 1.
    """
    import drjit as dr

    out = {}
    for i, shape in enumerate(scene.shapes()):
        if dr.is_jit_v(mi.Float):
            out[shape.id()] = int(dr.reinterpret_array(mi.UInt32, mi.ShapePtr(shape))[0])
        else:
            out[shape.id()] = i + 1
    return out


class _Poser:
    """Applies a frame's camera and actor poses to the loaded scene in place."""

    def __init__(self, mi: Any, scene: Any, build: ms.SceneBuild):
        self.mi, self.params, self.build = mi, mi.traverse(scene), build
        self.moving = [p for p in build.parts if p.actor >= 0]
        self.rest_vertices = {}
        self.buffer_type: Any = None  # mi.Float (JIT) or drjit.scalar.ArrayXf (scalar)
        for p in self.moving:
            if p.mesh:
                buf = self.params[f"{p.key}.vertex_positions"]
                self.buffer_type = type(buf)
                self.rest_vertices[p.key] = np.array(buf, dtype=np.float64).reshape(-1, 3)

    def pose(self, frame: FramePlan, poses: dict[int, ActorPose]) -> None:
        mi, params = self.mi, self.params
        cam = ms.sensor_to_world(frame.camera.location, frame.camera.rotation)
        for key in ("cam.to_world", "cam_ids.to_world"):
            params[key] = mi.Transform4f(cam.tolist())
        for part in self.moving:
            pose = poses.get(part.actor)
            m = ms.part_transform(part, pose)
            if pose is None or not pose.visible:
                m = ms.HIDDEN @ m
            if part.mesh:
                v = self.rest_vertices[part.key] @ m[:3, :3].T + m[:3, 3]
                params[f"{part.key}.vertex_positions"] = self.buffer_type(
                    v.astype(np.float32).ravel())
            else:
                params[f"{part.key}.to_world"] = mi.Transform4f((m @ part.rest).tolist())
        params.update()


def _poses(frame: FramePlan, plan: ShotPlan) -> dict[int, ActorPose]:
    index = {a.id: k for k, a in enumerate(plan.actors)}
    return {index[p.id]: p for p in frame.actors if p.id in index}


def _motions(build: ms.SceneBuild, ids: dict[str, int], now: dict[int, ActorPose],
             nxt: dict[int, ActorPose]) -> dict[int, np.ndarray]:
    """shape id -> world motion t -> t+1 in plan (Unreal) axes, for every moving part."""
    out = {}
    for part in build.parts:
        if part.actor < 0 or part.key not in ids:
            continue
        a0 = ms.part_transform(part, now.get(part.actor))
        a1 = ms.part_transform(part, nxt.get(part.actor))
        out[ids[part.key]] = ms.F @ (a1 @ np.linalg.inv(a0)) @ ms.F
    return out


def _split(arr: np.ndarray, n_expected: int, what: str) -> np.ndarray:
    if arr.ndim != 3 or arr.shape[2] != n_expected:
        raise RenderError(f"mitsuba returned {arr.shape} for the {what} pass, "
                          f"expected {n_expected} channels")
    return arr


def _write_passes(out_dir: Path, plan: ShotPlan, frame: FramePlan, passes: set[str],
                  img: np.ndarray, guides: np.ndarray | None, geo: np.ndarray | None,
                  id_to_actor: dict[int, int], nxt: FramePlan | None,
                  motions: dict[int, np.ndarray] | None) -> list[Path]:
    """Write one frame's EXRs and camera record; geometry passes come from the 1-spp render."""
    i = frame.index
    r = plan.render
    h, w = img.shape[:2]
    half = {"compression": r.exr_compression, "pixel_type": "half"}
    flt = {"compression": r.exr_compression, "pixel_type": "float"}
    out: list[Path] = []

    def put(name: str, data: np.ndarray, **kw: Any) -> None:
        kw.setdefault("channels", layout.PASS_CHANNELS[name])
        if name in layout.FLOAT_PASSES:
            kw["pixel_type"] = "float"
        out.append(Path(exr.write_exr(layout.frame_path(out_dir, name, i), data, **kw).path))

    put("img", img, pixel_type=r.exr_pixel_type, compression=r.exr_compression,
        attributes={"s2rhdrFrame": str(i), "s2rhdrBackend": "mitsuba"})
    if guides is not None:
        guides = _split(guides, 6, "albedo/normal")  # an aov-only render: no RGB channels
        if "diffuse" in passes:
            put("diffuse", guides[..., 0:3], **half)
        if "normal" in passes:
            n = guides[..., 3:6] * FLIP_Y
            norm = np.linalg.norm(n, axis=-1, keepdims=True)
            put("normal", np.where(norm > 1e-6, n / np.maximum(norm, 1e-6), 0.0), **half)
    if geo is not None:
        geo = _split(geo, 4, "geometry")
        pos = geo[..., 0:3].astype(np.float64) * FLIP_Y
        sid = np.rint(geo[..., 3]).astype(np.int64)
        w2c = np.array(frame.camera.world_to_camera, dtype=np.float64)
        if "depth" in passes:
            put("depth", camera_depth(pos, sid, w2c), **flt)
        if "mask" in passes:
            put("mask", actor_mask(sid, id_to_actor), **flt)
        if "flow" in passes:
            if nxt is None or motions is None:  # last frame: no successor, zero (in meta.json)
                flow = np.zeros((h, w, 2), np.float32)
            else:
                k = np.array(plan.camera.K, dtype=np.float64)
                flow = forward_flow(pos, sid, motions, k, w2c, k,
                                    np.array(nxt.camera.world_to_camera, dtype=np.float64))
            put("flow", flow, **flt)
    out.append(layout.write_camera_params(out_dir, i, plan.camera_params(i)))
    return out


OPTIONS = ("spp", "max_depth")


def parse_options(options: dict[str, Any] | None) -> dict[str, int]:
    """``-O KEY=VALUE`` options as integers >= 1 (a one-line error otherwise)."""
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise RenderError(f"unknown mitsuba option(s) {', '.join(unknown)}",
                          hint=f"use {', '.join(OPTIONS)}")
    try:
        forced = {k: int(v) for k, v in opts.items()}
    except (TypeError, ValueError):
        raise RenderError(f"mitsuba options must be integers, got {opts}") from None
    if any(v < 1 for v in forced.values()):
        raise RenderError(f"mitsuba options must be >= 1, got {forced}")
    return forced


@dataclasses.dataclass
class _Shot:
    """A loaded scene and everything the frame loop needs about it."""

    plan: ShotPlan  # as rendered (profile applied)
    spp: int
    sampling: Sampling
    max_depth: int
    build: ms.SceneBuild
    scene: Any
    ids: dict[str, int]
    id_to_actor: dict[int, int]
    poser: _Poser
    guide_integrator: Any
    geo_integrator: Any
    passes: set[str]


def _load_shot(mi: Any, plan: ShotPlan, quality: str, forced: dict[str, int]) -> _Shot:
    plan_r, spp, max_depth = profile(plan, quality)
    spp, max_depth = forced.get("spp", spp), forced.get("max_depth", max_depth)
    w, h = plan_r.render.resolution
    k = np.array(plan_r.camera.K, dtype=np.float64)
    fov = math.degrees(2 * math.atan(w / (2 * k[0, 0])))
    build = ms.build_scene(plan_r, w, h, fov, spp, max_depth)
    preset = str(dict(plan.environment.backends.get("mitsuba", {}) or {}).get("preset", ""))
    sampling = sampling_for(spp, quality, preset in INDOOR_PRESETS, "spp" in forced)
    try:
        scene = mi.load_dict(build.scene_dict, parallel=False, optimize=False)
    except Exception as exc:  # Mitsuba raises RuntimeError with a long multi-line text
        raise RenderError(f"{plan.name}: mitsuba could not build the scene "
                          f"({' '.join(str(exc).split())[:300]})") from None
    ids = _shape_ids(mi, scene)
    return _Shot(
        plan=plan_r, spp=spp, sampling=sampling, max_depth=max_depth, build=build,
        scene=scene, ids=ids,
        id_to_actor={ids[p.key]: p.actor for p in build.parts if p.actor >= 0 and p.key in ids},
        poser=_Poser(mi, scene, build),
        guide_integrator=mi.load_dict({"type": "aov", "aovs": "alb:albedo,nn:sh_normal"}),
        geo_integrator=mi.load_dict({"type": "aov", "aovs": "pp:position,si:shape_index"}),
        passes=set(plan_r.render.passes) | {"img"})


@dataclasses.dataclass
class _Frame:
    img: np.ndarray
    guides: np.ndarray | None
    geo: np.ndarray | None
    spp: int  # what the image took (adaptive sampling: varies per frame)
    noise: float | None  # the adaptive stop's final estimate


def _render_frame(mi: Any, shot: _Shot, frame: FramePlan) -> _Frame:
    """The image, surface guides and geometry renders of one posed frame."""
    seed = (int(shot.plan.seed) * 1_000_003 + frame.index) & 0x7FFFFFFF

    def image(spp: int, s: int) -> np.ndarray:
        return np.array(mi.render(shot.scene, sensor=0, spp=spp, seed=s), dtype=np.float32)

    img, spp, noise = render_image(image, shot.sampling, seed)
    guides = geo = None
    if shot.passes & {"diffuse", "normal"}:
        guides = np.array(mi.render(shot.scene, sensor=0, integrator=shot.guide_integrator,
                                    spp=min(shot.spp, 4), seed=seed), dtype=np.float32)
    if shot.passes & {"depth", "mask", "flow"}:
        geo = np.array(mi.render(shot.scene, sensor=1, integrator=shot.geo_integrator, spp=1,
                                 seed=seed), dtype=np.float32)
    return _Frame(_split(img, 3, "image"), guides, geo, spp, noise)


@dataclasses.dataclass
class _Stats:
    clamped: dict[str, int] = dataclasses.field(default_factory=dict)
    per_frame: list[float] = dataclasses.field(default_factory=list)
    spp: dict[str, int] = dataclasses.field(default_factory=dict)
    noise: dict[str, float] = dataclasses.field(default_factory=dict)
    mitsuba_s: float = 0.0


def _render_frames(mi: Any, dr: Any, shot: _Shot, out_dir: Path, name: str,
                   progress: Any) -> tuple[list[Path], _Stats]:
    """Pose, render and write every output frame; writing overlaps the next render."""
    plan_r = shot.plan
    by_index = {f.index: f for f in plan_r.timeline}
    stats = _Stats()
    written: list[Path] = []
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s2rhdr-exr")
    pending: Future[list[Path]] | None = None
    note_of_pending = ""
    try:
        for frame in plan_r.output_frames():
            t_frame = time.perf_counter()
            now = _poses(frame, plan_r)
            shot.poser.pose(frame, now)
            t0 = time.perf_counter()
            rendered = _render_frame(mi, shot, frame)
            img, guides, geo = rendered.img, rendered.guides, rendered.geo
            dr.sync_thread()
            stats.mitsuba_s += time.perf_counter() - t0
            if not np.isfinite(img).all():
                raise RenderError(f"{name}: frame {frame.index} has non-finite pixels")
            i = frame.index
            stats.spp[f"{i:04d}"] = rendered.spp
            if rendered.noise is not None:
                stats.noise[f"{i:04d}"] = round(rendered.noise, 4)
            if plan_r.render.exr_pixel_type == "half":
                over = int(np.count_nonzero((img > exr.HALF_MAX).any(axis=-1)))
                if over:
                    stats.clamped[f"{i:04d}"] = over
            nxt = by_index.get(i + 1)
            motions = _motions(shot.build, shot.ids, now, _poses(nxt, plan_r)) \
                if nxt is not None else None
            # Flow maths and EXR writing overlap the next frame's render (one writer thread;
            # at most one frame queued, so memory stays bounded and errors surface promptly).
            if pending is not None:
                written += pending.result()
                _tick(progress, note_of_pending)
            pending = writer.submit(_write_passes, out_dir, plan_r, frame, shot.passes, img,
                                    guides, geo, shot.id_to_actor, nxt, motions)
            note_of_pending = f"{name} {i:04d}"
            stats.per_frame.append(time.perf_counter() - t_frame)
        if pending is not None:
            written += pending.result()
            _tick(progress, note_of_pending)
    finally:  # a failed frame still waits for the queued write, then stops the thread
        writer.shutdown(wait=True)
    return written, stats


def _sampling_meta(sampling: Sampling, stats: _Stats) -> dict[str, Any]:
    if not sampling.adaptive:
        return {"adaptive": False, "spp": sampling.spp}
    return {"adaptive": True, "noise_target": sampling.noise_target,
            "first_spp": sampling.spp, "max_spp": sampling.max_spp,
            "spp_per_frame": stats.spp, "noise_per_frame": stats.noise,
            "noise_definition": "75th percentile over 8x8 blocks of the robust relative "
                                "per-pixel noise from two half-buffers (mitsuba_sampling)"}


def environment_map_record(plan: ShotPlan, notes: dict[str, Any]) -> dict[str, Any] | None:
    """meta.json ``environment_map``: the stable record the dataset card reads (name, file,
    sha256, licence), None when the plan has no map; a named map that is not installed is
    recorded with ``used: false`` (the analytic sun and sky were rendered instead)."""
    requested = dict(plan.environment.backends.get("mitsuba", {}) or {}).get("envmap")
    if not requested:
        return None
    used = notes.get("envmap")
    if used is None:
        return {"name": str(requested["map"]), "used": False, "file": None, "sha256": None,
                "licence": None, "note": "not installed: the analytic sun and sky were used"}
    return {"name": used["map"], "used": True, "file": used["file"], "sha256": used["sha256"],
            "licence": used["licence"]}


def _meta(plan: ShotPlan, shot: _Shot, quality: str, variant: str, stats: _Stats,
          total: float, versions: dict[str, str]) -> dict[str, Any]:
    w, h = shot.plan.render.resolution
    return {
        "backend": "mitsuba", "variant": variant, "device": device(variant),
        "quality": quality, "spp": max(stats.spp.values(), default=shot.spp),
        "sampling": _sampling_meta(shot.sampling, stats),
        "max_depth": shot.max_depth, "resolution": [w, h],
        "versions": versions,
        "seed": plan.seed, "spec_hash": plan.spec_hash, "name": plan.name,
        "frames": len(shot.plan.output_frames()), "warmup_frames_skipped": plan.warmup_frames,
        "timings": {"total_s": round(total, 4), "mitsuba_render_s": round(stats.mitsuba_s, 4),
                    "per_frame_s": [round(t, 4) for t in stats.per_frame]},
        "clamped_pixels": {"total": int(sum(stats.clamped.values())),
                           "per_frame": stats.clamped,
                           "note": "pixels with a channel above 65504 stored as HALF"},
        "pixel_units": "luminance (cd/m^2) x exposure.scale; emitters scaled, image as rendered",
        "flow_last_frame": "zero (no successor frame in the plan)",
        "lighting": shot.build.notes,
        "environment_map": environment_map_record(plan, shot.build.notes),
        "preset": str(dict(plan.environment.backends.get("mitsuba", {}) or {})
                      .get("preset", "street")),
    }


def render(plan: ShotPlan, out_dir: Path, *, quality: str = "default", progress: Any = None,
           options: dict[str, Any] | None = None, verbose: bool = True) -> list[Path]:
    """Render every output frame of ``plan`` into ``out_dir`` (a sequence folder).

    ``options`` (``-O KEY=VALUE`` on the command line): ``spp`` and ``max_depth`` override the
    quality profile.
    """
    t_start = time.perf_counter()
    forced = parse_options(options)
    variant = activate(verbose)
    import drjit as dr
    import mitsuba as mi

    shot = _load_shot(mi, plan, quality, forced)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, stats = _render_frames(mi, dr, shot, out_dir, plan.name, progress)
    written.append(atomic.atomic_write_text(out_dir / layout.PLAN_FILE, shot.plan.to_json()))
    versions = {"mitsuba": mi.__version__, "drjit": dr.__version__, "s2rhdr": __version__}
    meta = _meta(plan, shot, quality, variant, stats, time.perf_counter() - t_start, versions)
    written.append(atomic.atomic_write_json(out_dir / layout.META_FILE, meta))
    return written


class MitsubaBackend:
    """The embedded renderer as a :class:`pipeline.backends.Backend`: one CPU per shot."""

    name = "mitsuba"

    def render(self, plan: ShotPlan, out_dir: Path, *, quality: str = "default",
               progress: Any = None, options: dict[str, Any] | None = None) -> list[Path]:
        return render(plan, Path(out_dir), quality=quality, progress=progress, options=options)

    def resources(self, options: dict[str, Any]) -> dict[str, float]:
        import os

        from pipeline.backends.mitsuba_variant import ENV_VAR, GPU

        return {"CPU": 1.0, "GPU": 1.0} if os.environ.get(ENV_VAR) == GPU else {"CPU": 1.0}

    def passes_written(self, plan: ShotPlan) -> tuple[str, ...]:
        return tuple(dict.fromkeys(("img", *plan.render.passes)))
