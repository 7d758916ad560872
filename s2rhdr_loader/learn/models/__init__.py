"""Reference HDR fusion networks: ``build_model(name, **kwargs)`` with name in ``MODELS``.

``ahdr`` and ``transformer`` are ours; ``hdr-transformer`` and ``sctnet`` are the S2R-HDR
release's networks with its state-dict names (``release_nets.py``).
"""

from s2rhdr_loader.learn.models.ahdr import AHDRNet
from s2rhdr_loader.learn.models.registry import MODELS, TINY, build_model, count_parameters
from s2rhdr_loader.learn.models.release_nets import HDRTransformerRelease, SCTNet
from s2rhdr_loader.learn.models.transformer import HDRTransformer

__all__ = ["AHDRNet", "HDRTransformer", "HDRTransformerRelease", "MODELS", "SCTNet", "TINY",
           "build_model", "count_parameters"]
