"""Scene spec: parse and validate ``scene_specs/*.yaml`` into frozen dataclasses.

Why so strict: a typo in a spec silently renders the wrong dataset for hours, so every
unknown key, wrong type or impossible value is rejected up front with a one-line
``file:line:column: message (hint)`` error (``pipeline.errors.SpecError``).

The package, along its seams:

- :mod:`pipeline.spec.values`: vectors, locations, unresolved random values
  (:class:`Uniform`, :class:`Normal`, :class:`Choice`; ``pipeline.randomize`` draws them);
- :mod:`pipeline.spec.nodes`: YAML composed into located nodes (SafeLoader, no tags);
- :mod:`pipeline.spec.readers`: converters and the field declaration :func:`spec_field`;
- :mod:`pipeline.spec.model`: the dataclasses, each field declared once (default+converter);
- :mod:`pipeline.spec.schema`: cross-field rules and :func:`check_consistency`;
- :mod:`pipeline.spec.load`: files, ``_defaults.yaml``, folders, :func:`spec_hash`.

See ``docs/scene-spec.md``. Standard library + PyYAML only (vendored into the Unreal editor).
"""

from __future__ import annotations

from pipeline.spec.load import (
    DEFAULTS_FILE,
    load_spec,
    load_specs,
    spec_files,
    spec_hash,
    spec_to_dict,
)
from pipeline.spec.model import (
    ACTOR_KINDS,
    DEFAULT_PROXY,
    DEFAULT_SPEED,
    HANDHELD_PROFILES,
    LIGHT_KINDS,
    MATERIALS,
    MITSUBA_PRESETS,
    PROXIES,
    ActorSpec,
    CameraSpec,
    EnvironmentSpec,
    EnvmapSpec,
    ExposureSpec,
    ExrSpec,
    HandheldSpec,
    LightSpec,
    MitsubaActor,
    MitsubaEnvironment,
    MitsubaQuality,
    PropSpec,
    QualitySpec,
    RandomizeSpec,
    RenderSpec,
    RotationKey,
    SceneSpec,
    SkySpec,
    SunSpec,
    UnrealActor,
    UnrealEnvironment,
    UnrealQuality,
)
from pipeline.spec.nodes import MAX_NODES, SpecLoader
from pipeline.spec.schema import check_consistency
from pipeline.spec.values import RANDOM_TYPES, Choice, Loc, Normal, Uniform, Vec3, is_random

__all__ = [
    "ACTOR_KINDS", "DEFAULTS_FILE", "DEFAULT_PROXY", "DEFAULT_SPEED", "HANDHELD_PROFILES",
    "LIGHT_KINDS", "MATERIALS", "MAX_NODES", "MITSUBA_PRESETS", "PROXIES", "RANDOM_TYPES",
    "ActorSpec", "CameraSpec", "Choice", "EnvironmentSpec", "EnvmapSpec", "ExposureSpec",
    "ExrSpec", "HandheldSpec", "LightSpec", "Loc", "MitsubaActor", "MitsubaEnvironment",
    "MitsubaQuality", "Normal", "PropSpec", "QualitySpec", "RandomizeSpec", "RenderSpec",
    "RotationKey", "SceneSpec", "SkySpec", "SpecLoader", "SunSpec", "Uniform", "UnrealActor",
    "UnrealEnvironment", "UnrealQuality", "Vec3", "check_consistency", "is_random", "load_spec",
    "load_specs", "spec_files", "spec_hash", "spec_to_dict",
]
