"""Train/val/test split BY SEQUENCE, deterministic and stable as the dataset grows.

Rule: ``u = int(sha256(name)[:16], 16) / 2**64``; ``u < train`` -> train, ``u < train + val``
-> val, else test. A sequence's split depends only on its own name, so adding sequences never
moves existing ones and no sequence can be in two splits (the release had no held-out split
and picked checkpoints on real test sets, defect #4). ``s2rhdr-loader split ROOT`` writes the
result to ``ROOT/splits.json``; when that file exists it wins over the rule (hand-edited
splits are respected), and sequences it does not list fall back to the rule.

Patches cut from one scene (``official-preprocess`` output, ``<scene>_<x>_<y>``) overlap, so
they are split by their source scene, never one by one: the scene comes from
the record ``official-preprocess`` keeps in ``<root>.s2rhdr-work/`` (or, older, in
``<root>/.official_preprocess.json``) or, for folders made by the release's own script, from
the scene-list names (``trainlist.txt`` ...) with the ``_<x>_<y>`` suffix removed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from s2rhdr_loader.core.atomic import atomic_write_json
from s2rhdr_loader.core.errors import OptionError
from s2rhdr_loader.core.layout import LayoutError, read_json
from s2rhdr_loader.preprocess import state_files
from s2rhdr_loader.release import LIST_FILES, read_list

SPLITS = ("train", "val", "test")
SPLITS_FILE = "splits.json"
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
FORMAT = "s2rhdr.splits"
_PATCH_NAME = re.compile(r"^(.+)_(\d+)_(\d+)$")


def _check(fractions: tuple[float, float, float]) -> tuple[float, float, float]:
    f = tuple(float(x) for x in fractions)
    if len(f) != 3 or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
        raise OptionError(f"split fractions must be three non-negative numbers summing to 1, "
                         f"got {fractions}")
    return f  # type: ignore[return-value]


def unit_hash(name: str) -> float:
    """The name's position in [0, 1): first 64 bits of its SHA-256."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16) / 2.0**64


def split_of(name: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    train, val, _ = _check(fractions)
    u = unit_hash(name)
    return "train" if u < train else "val" if u < train + val else "test"


def source_groups(root: str | os.PathLike) -> dict[str, str]:
    """Patch folder name -> source scene for preprocessed patch folders under ``root`` ({} if none).

    Why: the release's 640px patches of one scene overlap by up to 384 px; splitting them one
    by one would put the same pixels in train and test.
    """
    root = Path(root)
    for state in state_files(root):
        if state.is_file():
            data = read_json(state)
            done = data.get("done", {}) if isinstance(data, Mapping) else {}
            return {o: scene for scene, outs in done.items() if isinstance(outs, list)
                    for o in outs if o != scene}
    found = {}
    for name in LIST_FILES.values():
        if (root / name).is_file():
            for m in (_PATCH_NAME.match(n) for n in read_list(root / name)):
                if m:
                    found[m.group(0)] = m.group(1)
    return found


def assign(names: Iterable[str],
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           groups: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Rule split of ``names``; a name in ``groups`` takes the split of its group (scene)."""
    groups = groups or {}
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for name in sorted(set(names)):
        out[split_of(groups.get(name, name), fractions)].append(name)
    return out


def _from_file(path: Path) -> dict[str, list[str]]:
    data = read_json(path)
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise LayoutError(f"{path}: not an s2rhdr splits file (format != {FORMAT!r}); "
                          "delete it or rewrite it with `s2rhdr-loader split`")
    seen: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    for s in SPLITS:
        names = data.get(s, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise LayoutError(f"{path}: '{s}' must be a list of sequence names")
        for n in names:
            if n in seen:
                raise LayoutError(f"{path}: sequence {n!r} is in both '{seen[n]}' and '{s}'")
            seen[n] = s
        out[s] = sorted(names)
    return out


def resolve(root: str | os.PathLike, names: Iterable[str],
            fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> dict[str, list[str]]:
    """Split of the sequences ``names`` found under ``root`` (splits.json first, then the rule)."""
    names = sorted(set(names))
    groups = source_groups(root)
    path = Path(root) / SPLITS_FILE
    if not path.is_file():
        return assign(names, fractions, groups)
    listed = _from_file(path)
    where = {n: s for s, ns in listed.items() for n in ns}
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for n in names:
        out[where.get(n) or split_of(groups.get(n, n), fractions)].append(n)
    return out


def write_splits(root: str | os.PathLike, names: Iterable[str],
                 fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> Path:
    """Record the rule's split as ``root/splits.json`` (atomic)."""
    f = _check(fractions)
    groups = assign(names, f, source_groups(root))
    record = {"format": FORMAT, "version": 1,
              "rule": "sha256(name)[:16] as u in [0,1): train if u<f_train, "
                      "val if u<f_train+f_val, else test",
              "fractions": dict(zip(SPLITS, f)), **groups}
    return atomic_write_json(Path(root) / SPLITS_FILE, record)
