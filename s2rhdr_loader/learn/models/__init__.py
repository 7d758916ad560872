"""Reference HDR fusion networks: ``build_model("ahdr" | "transformer", **kwargs)``."""

from s2rhdr_loader.learn.models.ahdr import AHDRNet
from s2rhdr_loader.learn.models.registry import MODELS, TINY, build_model, count_parameters
from s2rhdr_loader.learn.models.transformer import HDRTransformer

__all__ = ["AHDRNet", "HDRTransformer", "MODELS", "TINY", "build_model", "count_parameters"]
