"""The torch-free core: the dataset contract shared by the pipeline, the loader and the editor.

EXR I/O (``exr``), the on-disk layout and its constants (``layout``), Radiance ``.hdr`` and
16-bit TIFF files (``hdr``, ``tiff``), the one atomic-write primitive (``atomic``), the one
user-error base class (``errors``), progress bars (``progress``) and the console-script
runner (``clirunner``). Nothing here imports torch or cv2 at import time; ``errors``,
``atomic`` and ``layout`` are standard library only, so the Unreal plugin vendors them.
"""
