"""The one atomic-write primitive: write under a temporary name, then rename into place.

Why: a killed job must never leave a half-written file under its final name (a resumed batch
would trust it). :func:`atomic_path` yields a temporary path in the target's folder for any
writer (OpenEXR, cv2, safetensors, plain bytes); on success the file gets the mode a plain
``open()`` would give (``mkstemp`` creates 0600, and published data must be readable) and is
renamed over the target; on failure the temporary file is removed.

Standard library only (vendored into the Unreal editor).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def file_mode() -> int:
    """The mode a plainly created file would get under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """``with atomic_path(p, ".exr") as tmp: write(tmp)`` publishes ``p`` only if write succeeds.

    ``suffix`` is kept at the end of the temporary name for writers that pick the format from
    the extension (cv2). The parent folder is created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(data: Any) -> str:
    """The canonical JSON text of every record we write (sorted keys, no NaN)."""
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    return atomic_write_text(path, dumps_json(data))
