"""The fake's object model: UObjects, structs (copied on get), enums, a call recorder, and
editor properties checked against the engine version's API dump.

An editor property is accepted only when the fake models it (``_PROPS``) *and* the real API
of the chosen version has it: the class's ``unreal-stub`` docstring (props, read-only flags,
documented type) or, for Movie Render Queue classes, the MRQ table (``mrq_table.py``).
"""

from __future__ import annotations

import copy
import itertools
import types
from collections.abc import Callable
from typing import Any

from . import mrq_table, stub_oracle

# fake flavour -> the dump its non-MRQ API comes from ("5.3" has none: the 5.4 dump with the
# MRQ rows of 5.3, used only for the MRQ differences of 5.2/5.3)
DUMP_OF = {"5.3": "5.4", "5.4": "5.4", "5.5": "5.5", "5.6": "5.6"}
SCALARS = {"bool": (bool,), "float": (int, float), "double": (int, float), "int32": (int,),
           "int64": (int,), "uint8": (int,), "int": (int,), "str": (str,), "Name": (str,),
           "Text": (str,)}


def key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


class Builder:
    """Builds one engine flavour: the module, the recorder and the class helpers."""

    def __init__(self, version: str):
        if version not in DUMP_OF:
            raise ValueError(f"fake unreal: unknown version {version!r}; use {list(DUMP_OF)}")
        self.version, self.ver = version, key(version)
        self.dump = stub_oracle.load_table(DUMP_OF[version])
        self.mrq = mrq_table.names(version)
        m = types.ModuleType("unreal")
        m.__fake_version__ = version
        m.calls: list[tuple[str, str, tuple, dict]] = []
        m.log_lines: list[str] = []
        m.assets: dict[str, Any] = {}
        m.world: list[Any] = []  # actors in the editor world (destroyed ones removed)
        m.deprecated_calls: list[str] = []  # members the dump marks deprecated, as called
        self.m = m
        self.ids = itertools.count(1)
        self._object_model()

    # ---- recording -----------------------------------------------------------------
    def record(self, target: Any, method: str, *args: Any, **kwargs: Any) -> None:
        name = target if isinstance(target, str) else type(target).__name__
        self.m.calls.append((name, method, args, kwargs))

    # ---- the real API of this version ----------------------------------------------
    def real_names(self, klass: type) -> list[str]:
        """Names in ``klass``'s MRO that are real API classes (dump or MRQ table)."""
        return [k.__name__ for k in klass.__mro__
                if k.__name__ in self.dump["classes"] or k.__name__ in self.mrq]

    def prop_known(self, klass: type, name: str) -> bool:
        real = self.real_names(klass)
        if not real:
            return True  # a fake-internal class
        for rname in real:
            if rname in self.mrq and name in self.mrq[rname]:
                return True
            if rname in self.dump["classes"] and name in stub_oracle.all_props(self.dump, rname):
                return True
        return False

    def prop_info(self, klass: type, name: str) -> tuple[str | None, bool]:
        """(documented type, read-only) from the dump, for the first real class."""
        for rname in self.real_names(klass):
            if rname in self.dump["classes"]:
                return (stub_oracle.prop_type(self.dump, rname, name),
                        name in stub_oracle.read_only_props(self.dump, rname))
        return None, False

    def check_type(self, owner: str, name: str, type_: str | None, value: Any) -> None:
        """Refuse a value whose type differs from the one the dump documents."""
        if type_ is None:
            return
        m = self.m
        if type_ in SCALARS:
            ok = isinstance(value, SCALARS[type_]) and (type_ == "bool"
                                                         or not isinstance(value, bool))
        elif type_.startswith("Array["):
            ok = isinstance(value, (list, tuple))
        else:
            target = getattr(m, type_, None)
            if not isinstance(target, type):
                return  # not modelled: cannot check
            if issubclass(target, m._Struct):
                ok = isinstance(value, target)
            elif issubclass(target, m._Obj):
                ok = value is None or isinstance(value, target)
            elif getattr(target, "_IS_ENUM", False):
                ok = isinstance(value, m._EnumValue) and value.enum == type_
            else:
                return
        if not ok:
            raise TypeError(f"{owner}.{name}: expected {type_}, got {type(value).__name__} "
                            f"(fake unreal {self.version})")

    # ---- object model --------------------------------------------------------------
    def _object_model(self) -> None:
        m = self.m

        class _EnumValue:
            def __init__(self, enum: str, name: str, value: int):
                self.enum, self.name, self.value = enum, name, value

            def __repr__(self) -> str:
                return f"{self.enum}.{self.name}"

        m._EnumValue = _EnumValue
        m._Obj = _obj_class(self)
        m._Struct, m._Vec = _struct_classes(m._Obj)

    # ---- class helpers -------------------------------------------------------------
    def enum(self, name: str, members: list[str] | dict[str, int]) -> type:
        items = members if isinstance(members, dict) else {k: i for i, k in enumerate(members)}
        klass = type(name, (), {"_IS_ENUM": True})
        for k, v in items.items():
            setattr(klass, k, self.m._EnumValue(name, k, v))
        setattr(self.m, name, klass)
        return klass

    def cls(self, name: str, base: type | None = None, props: dict[str, Any] | None = None,
            **members: Any) -> type:
        klass = type(name, (base or self.m._Obj,), {"_PROPS": dict(props or {}), **members})
        setattr(self.m, name, klass)
        return klass

    def vec(self, name: str, fields: tuple[str, ...], default: Any = 0.0, *,
            ctor_only: bool = False, **members: Any) -> type:
        """A struct; ``ctor_only``: the fields are constructor arguments only, NOT editor
        properties (SoftObjectPath, MovieSceneTimeWarpVariant have none)."""
        props = {} if ctor_only else dict.fromkeys(fields, default)
        klass = type(name, (self.m._Vec,), {"_FIELDS": fields, "_PROPS": props, **members})
        setattr(self.m, name, klass)
        return klass


def _obj_class(b: Builder) -> type:
    """UObject: editor properties checked against the version, recorded, structs copied."""

    class _Obj:
        _PROPS: dict[str, Any] = {}
        _ANY_PROPS: Callable[[str], bool] | None = None

        def __init__(self, **kwargs: Any):
            object.__setattr__(self, "_values", {})
            object.__setattr__(self, "_id", next(b.ids))
            for k, v in kwargs.items():
                self.set_editor_property(k, v)

        @classmethod
        def _fake_models(cls, name: str) -> bool:
            for klass in cls.__mro__:
                if name in klass.__dict__.get("_PROPS", {}):
                    return True
                check = klass.__dict__.get("_ANY_PROPS")
                if check is not None and check(name):
                    return True
            return False

        @classmethod
        def _allowed(cls, name: str) -> bool:
            return cls._fake_models(name) and b.prop_known(cls, name)

        @classmethod
        def _default(cls, name: str) -> Any:
            for klass in cls.__mro__:
                props = klass.__dict__.get("_PROPS", {})
                if name in props:
                    d = props[name]
                    return d() if callable(d) else d
            return None

        def _check(self, name: str) -> None:
            if not self._allowed(name):
                raise AttributeError(f"{type(self).__name__}: Failed to find property "
                                     f"'{name}' (fake unreal {b.version})")

        def set_editor_property(self, name: str, value: Any, notify_mode: Any = None) -> None:
            self._check(name)
            type_, read_only = b.prop_info(type(self), name)
            if read_only:
                raise RuntimeError(f"{type(self).__name__}: property '{name}' is read-only "
                                   f"and cannot be set (fake unreal {b.version})")
            b.check_type(type(self).__name__, name, type_, value)
            self._validate(name, value)
            b.record(self, "set_editor_property", name, value)
            self._values[name] = value

        def set_editor_properties(self, mapping: dict[str, Any]) -> None:
            for k, v in mapping.items():
                self.set_editor_property(k, v)

        def _validate(self, name: str, value: Any) -> None:
            """Per-class checks the dump cannot express (overridden)."""

        def get_editor_property(self, name: str) -> Any:
            self._check(name)
            if name not in self._values:
                self._values[name] = self._default(name)
            value = self._values[name]
            return copy.deepcopy(value) if isinstance(value, b.m._Struct) else value

        def prop(self, name: str) -> Any:
            """Test helper: the stored value (no copy, no recording)."""
            return self._values.get(name, self._default(name))

        def __getattr__(self, name: str) -> Any:
            if not name.startswith("_") and type(self)._allowed(name):
                return self.get_editor_property(name)
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

        def get_name(self) -> str:
            return self._values.get("_name", f"{type(self).__name__}_{self._id}")

        def __deepcopy__(self, memo: dict) -> Any:
            return self  # UObjects are references; only structs are copied

        @classmethod
        def static_class(cls) -> type:
            return cls

    return _Obj


def _struct_classes(_Obj: type) -> tuple[type, type]:
    """Structs (deep-copied on get) and vector-like structs built from positional fields."""

    class _Struct(_Obj):
        def __deepcopy__(self, memo: dict) -> Any:
            new = object.__new__(type(self))
            object.__setattr__(new, "_values", copy.deepcopy(self._values, memo))
            object.__setattr__(new, "_id", self._id)
            for k, v in self.__dict__.items():
                if k not in ("_values", "_id"):
                    object.__setattr__(new, k, copy.deepcopy(v, memo))
            return new

    class _Vec(_Struct):
        _FIELDS: tuple[str, ...] = ()

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__()
            for k, v in zip(self._FIELDS, args):
                self._values[k] = v
            for k, v in kwargs.items():
                self._values[k] = v

        def tuple(self) -> tuple:
            return tuple(self.prop(k) for k in self._FIELDS)

    return _Struct, _Vec
