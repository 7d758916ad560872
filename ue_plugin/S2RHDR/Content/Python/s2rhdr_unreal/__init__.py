"""S2R-HDR inside the Unreal editor: shot plan -> Level Sequence -> linear EXR via MRQ.

One module per job: ``compat`` (engine-version differences), ``linear`` (the linear-output
lock), ``sequence`` (Level Sequence from a plan), ``render`` (the MRQ job), ``writer`` (dataset
layout after the render), ``menu`` (editor menu), ``headless`` (``-ExecutePythonScript``).
Only the standard library, ``unreal`` and the vendored pure-Python ``pipeline`` modules (+
PyYAML) are used here: no numpy, torch or OpenEXR inside the editor.
"""

__version__ = "0.1.0"
