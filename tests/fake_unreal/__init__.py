"""A recording fake of the ``unreal`` module, trimmed to one engine version's real API.

Why a fake: Unreal cannot run in CI, and the ``unreal-stub`` dumps cannot be imported (and
return ``None`` from every call). This fake keeps state the way the editor does -- editor
properties with struct *copies* on get, delegates that fire, sequences with bindings, tracks,
sections and keyed channels, an MRQ queue with settings -- and records every call, so tests
can assert what the plugin asked the engine to do.

``make_module(version)`` builds one flavour and then trims it to that version's API: the
``unreal-stub`` dump (5.4 = 0.1, 5.5 = 0.2.1, 5.6 = 0.3; ``stub_oracle``) for engine classes
and the MRQ table (``mrq_table``) for Movie Render Queue. A class, method, enum member or
editor property the version lacks raises ``AttributeError`` like the real module; a property
set with the wrong type or a read-only property raises; deprecated members called are
recorded in ``unreal.deprecated_calls``. "5.3" has no dump: the 5.4 dump with the MRQ rows of
5.3 (EXR numbering, 32-bit post-process flag), for the MRQ differences only.

Concerns live in their own modules: ``core`` (object model, version checks), ``world``
(structs, post-process, assets, actors, lights), ``sequencer``, ``mrq``, ``editor``
(subsystems, cvars, scripting keep-alive, ticks, menus) and ``restrict``.
"""

from __future__ import annotations

import types

from . import editor, mrq, restrict, sequencer, world
from .core import Builder
from .stub_oracle import StubUnavailable

VERSIONS = ("5.3", "5.4", "5.5", "5.6")
DUMPED = ("5.4", "5.5", "5.6")  # flavours with their own API dump
__all__ = ["DUMPED", "VERSIONS", "StubUnavailable", "make_module"]


def make_module(version: str = "5.6") -> types.ModuleType:
    """The fake ``unreal`` of one engine version (raises StubUnavailable without its dump)."""
    b = Builder(version)
    world.install(b)
    sequencer.install(b)
    mrq.install(b)
    editor.install(b)
    restrict.apply(b)
    return b.m
