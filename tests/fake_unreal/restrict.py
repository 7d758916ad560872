"""Trim the fake to one engine version: what that version's API lacks raises AttributeError.

Every public class of the fake must be a real API class: in the version's ``unreal-stub``
dump or in the MRQ table (else the fake would invent API and the build fails). Methods and
enum members the real class lacks are shadowed by :class:`_Absent` (``hasattr`` is then False,
as in the editor); classes the version lacks are removed; members the dump marks
``deprecated:`` are wrapped so that calling them is recorded in ``unreal.deprecated_calls``.
"""

from __future__ import annotations

import functools
from typing import Any

from . import mrq_table, stub_oracle
from .core import Builder

# Test-only accessors of the fake; the plugin never calls them (the name check proves it).
FAKE_METHODS = {"prop", "tuple", "get_id", "broadcast"}
FAKE_FUNCTIONS = {"add_asset", "simulate_render", "cvars_of", "tick", "after_script"}
_BASE = ("_ObjectBase", "StructBase", "_WrapperBase", "Object")


class _Absent:
    """A member this engine version does not have."""

    def __init__(self, owner: str, name: str, version: str):
        self.owner, self.name, self.version = owner, name, version

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        raise AttributeError(f"type object '{self.owner}' has no attribute '{self.name}' "
                             f"(not in UE {self.version})")


def _allowed(b: Builder, name: str, klass: type) -> set[str] | None:
    """Members the real class has in this version; None if the class is not there."""
    base = set().union(*(stub_oracle.all_members(b.dump, c) for c in _BASE))
    if name in mrq_table.CLASSES:
        if name not in b.mrq:
            return None
        members = set()
        for k in klass.__mro__:
            members |= b.mrq.get(k.__name__, set())
            if k.__name__ in b.dump["classes"]:
                members |= stub_oracle.all_members(b.dump, k.__name__)
        return members | base
    if name in b.dump["classes"]:
        return stub_oracle.all_members(b.dump, name) | base
    return None


def _wrap_deprecated(b: Builder, klass: type, attr: str, note: str) -> None:
    fn = getattr(klass, attr)
    owner = klass.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        b.m.deprecated_calls.append(f"{owner}.{attr} ({note})")
        return fn(*args, **kwargs)

    setattr(klass, attr, wrapper)


def apply(b: Builder) -> None:
    m = b.m
    real = stub_oracle.known_classes() | set(b.dump["classes"])
    for name, obj in list(vars(m).items()):
        if name.startswith("_") or not isinstance(obj, type):
            continue
        known = name in mrq_table.CLASSES or name in real
        if not known:
            raise AssertionError(f"fake unreal invents class {name} (in no dump or MRQ row)")
        allowed = _allowed(b, name, obj)
        if allowed is None:
            delattr(m, name)  # this version lacks the class
            continue
        for attr in dir(obj):
            if attr.startswith("_") or attr in FAKE_METHODS or attr in allowed:
                continue
            value = getattr(obj, attr, None)
            if callable(value) or isinstance(value, m._EnumValue):
                setattr(obj, attr, _Absent(name, attr, b.version))
        if name in b.dump["classes"]:
            for attr, note in stub_oracle.deprecated_members(b.dump, name).items():
                if attr in vars(obj) and callable(vars(obj)[attr]):
                    _wrap_deprecated(b, obj, attr, note)
    for name, obj in list(vars(m).items()):
        if name.startswith("_") or isinstance(obj, type) or not callable(obj):
            continue
        if name not in b.dump["functions"] and name not in FAKE_FUNCTIONS:
            raise AssertionError(f"fake unreal invents module function {name}")
