"""The numbers and names of the MRQ job for one shot, without touching the engine.

Pure (no ``unreal`` import) so the writer, the host's fake editor and the tests share it.
The one place that knows which MRQ pass class renders the beauty and under which
``{render_pass}`` name MRQ writes its files (``MoviePipelineDeferredPasses.h``: the deferred
pass identifies itself as ``FinalImage``, ``MoviePipelineDeferredPass_PathTracer`` as
``PathTracer``; an additional post-process material pass is named ``<pass identifier> +
<material name>``, ``GatherOutputPassesImpl`` in ``MoviePipelineDeferredPasses.cpp``).
"""

from __future__ import annotations

from typing import Any

QUALITIES = ("preview", "default", "final")
DEFAULTS = {"spatial_samples": 8, "temporal_samples": 1, "warmup_frames": 32}
FILE_NAME_FORMAT = "{render_pass}/{frame_number}"
# renderer -> (MRQ pass class, the pass identifier MRQ writes as {render_pass})
MAIN_PASSES = {"deferred": ("MoviePipelineDeferredPassBase", "FinalImage"),
               "path_tracer": ("MoviePipelineDeferredPass_PathTracer", "PathTracer")}
# Post-process materials MRQ renders next to the beauty, per layout pass. WorldDepth is the
# asset MRQ itself pre-seeds (MoviePipelineDeferredPasses.cpp DefaultDepthAsset); WorldNormal
# is in the same plugin folder (used by BEDLAM and others) but not named in Epic's docs.
AUX_MATERIALS = {"depth": "/MovieRenderPipeline/Materials/MovieRenderQueue_WorldDepth",
                 "normal": "/MovieRenderPipeline/Materials/MovieRenderQueue_WorldNormal"}
# No motion blur; FloatRGBA scene colour; no project-wide override of the manual exposure
# (r.EyeAdaptation.MethodOverride, -1 = none: PostProcessEyeAdaptation.cpp).
BASE_CVARS = {"r.MotionBlurQuality": 0.0, "r.SceneColorFormat": 4.0,
              "r.EyeAdaptation.MethodOverride": -1.0}


def pass_class(renderer: str) -> str:
    """The MRQ setting class that renders the beauty for ``renderer``."""
    return MAIN_PASSES[_renderer(renderer)][0]


def main_pass_name(renderer: str) -> str:
    """MRQ's ``{render_pass}`` for the beauty: ``FinalImage`` or ``PathTracer``."""
    return MAIN_PASSES[_renderer(renderer)][1]


def aux_pass_name(renderer: str, layout_pass: str) -> str:
    """MRQ's ``{render_pass}`` for a material pass: the main pass name + material name."""
    return main_pass_name(renderer) + AUX_MATERIALS[layout_pass].rsplit("/", 1)[-1]


def requested_aux(plan: Any) -> list[str]:
    """Auxiliary layout passes of the plan this backend renders through MRQ materials."""
    return [p for p in AUX_MATERIALS if p in tuple(plan.render.passes)]


def _renderer(name: str) -> str:
    if name not in MAIN_PASSES:
        raise ValueError(f"unknown unreal renderer {name!r}; use deferred or path_tracer")
    return name


def mrq_settings(plan: Any, quality: str = "default") -> dict[str, Any]:
    """Every number of the MRQ job, from the plan's ``render.quality.unreal`` and the
    requested quality (``preview`` renders 1 sample with a short warm-up)."""
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; use one of {', '.join(QUALITIES)}")
    q = dict(DEFAULTS)
    q.update(dict(plan.render.quality.get("unreal") or {}))
    renderer = str(q.get("renderer", "deferred"))
    if q.get("path_tracer"):
        renderer = "path_tracer"
    _renderer(renderer)
    spatial = int(q.get("spp", q["spatial_samples"]) if renderer == "path_tracer"
                  else q["spatial_samples"])
    temporal = int(q["temporal_samples"])
    engine_warmup = int(q["warmup_frames"])
    if quality == "preview":
        spatial, temporal, engine_warmup = 1, 1, min(engine_warmup, 8)
        renderer = "deferred"
    if spatial < 1 or temporal < 1 or engine_warmup < 0:
        raise ValueError("unreal quality: samples must be >= 1 and warm-up >= 0")
    cvars = dict(BASE_CVARS)
    cvars.update({str(k): float(v) for k, v in dict(q.get("cvars") or {}).items()})
    width, height = plan.render.resolution
    # With use_camera_cut_for_warm_up MRQ takes its engine warm-up from the camera cut's
    # extension before frame 0 (the plan's warm-up frames) and IGNORES engine_warm_up_count
    # (MoviePipeline.cpp: NumWarmupFrames = bUseCameraCutForWarmUp ? <cut> : EngineWarmUpCount).
    # The quality's count then becomes render warm-up frames (rendered and discarded: Lumen /
    # TSR history), so it is not silently lost; the numbers set are the numbers MRQ uses.
    cut_warmup = int(plan.warmup_frames)
    engine_count, render_count = ((cut_warmup, engine_warmup) if cut_warmup > 0
                                  else (engine_warmup, 0))
    aux = requested_aux(plan)
    return {
        "renderer": renderer,
        "pass_class": pass_class(renderer),
        "pass_names": {"img": main_pass_name(renderer),
                       **{p: aux_pass_name(renderer, p) for p in aux}},
        "spatial_samples": spatial,
        "temporal_samples": temporal,
        # MRQ accumulates its own jittered samples; engine AA would blur across frames.
        "anti_aliasing": "AAM_NONE" if spatial * temporal > 1 else "AAM_TSR",
        "engine_warm_up_count": engine_count,
        "render_warm_up_count": render_count,
        "use_camera_cut_for_warm_up": cut_warmup > 0,
        "resolution": (int(width), int(height)),
        "frame_range": (0, int(plan.frames)),
        "exr_compression": str(plan.render.exr_compression).upper(),
        "cvars": cvars,
    }
