"""s2rhdr pipeline: scene specs -> shot plans -> renders -> validation and statistics.

This package is imported inside the Unreal editor (spec, plan, shake, geometry, errors), so
importing it must stay cheap and standard-library only; heavy modules import numpy themselves.
"""

__version__ = "0.1.0"
