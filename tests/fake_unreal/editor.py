"""Fake editor services: subsystems, the system library (console variables, quit), Python
scripting keep-alive, logging, slate ticks, paths, dialogs and tool menus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import Builder

ENGINE_VERSIONS = {"5.3": "5.3.2", "5.4": "5.4.4", "5.5": "5.5.4", "5.6": "5.6.0"}
# engine defaults of the cvars the plugin reads (PostProcessEyeAdaptation.cpp; new projects
# turn ExtendDefaultLuminanceRange on in DefaultEngine.ini)
DEFAULT_CVARS = {"r.DefaultFeature.AutoExposure.ExtendDefaultLuminanceRange": 1,
                 "r.EyeAdaptation.LensAttenuation": 0.78, "r.EyeAdaptation.MethodOverride": -1}


def install(b: Builder) -> None:
    _subsystems(b)
    _system(b)
    _scripting_and_ticks(b)
    _menus(b)


def _subsystems(b: Builder) -> None:
    m = b.m
    subsystems: dict[type, Any] = {}

    def get_editor_subsystem(klass: type) -> Any:
        if klass not in subsystems:
            subsystems[klass] = klass()
        return subsystems[klass]

    m.get_editor_subsystem = get_editor_subsystem

    def spawn(klass: type, location: Any, rotation: Any = None, transient: bool = False) -> Any:
        b.record("EditorActorSubsystem", "spawn_actor_from_class", klass, location, rotation)
        actor = klass()
        actor._values["_location"], actor._values["_rotation"] = location, rotation
        m.world.append(actor)
        return actor

    def destroy(actor: Any) -> bool:
        b.record("EditorActorSubsystem", "destroy_actor", actor)
        if actor in m.world:
            m.world.remove(actor)
            return True
        return False

    def load_level(self: Any, asset_path: str) -> bool:
        b.record("LevelEditorSubsystem", "load_level", asset_path)
        m.current_level = asset_path
        return asset_path in m.assets

    def new_level(self: Any, asset_path: str, is_partitioned_world: bool = False) -> bool:
        b.record("LevelEditorSubsystem", "new_level", asset_path)
        m.assets[asset_path] = m.World(asset_path)
        m.current_level = asset_path
        return True

    def save_current_level(self: Any) -> bool:
        b.record("LevelEditorSubsystem", "save_current_level")
        m.saved[m.current_level] = "level"
        return True

    m.current_level = None
    b.cls("EditorActorSubsystem", m._Obj,
          spawn_actor_from_class=lambda self, *a, **k: spawn(*a, **k),
          destroy_actor=lambda self, actor_to_destroy: destroy(actor_to_destroy),
          get_all_level_actors=lambda self: list(m.world))
    b.cls("LevelEditorSubsystem", m._Obj, load_level=load_level, new_level=new_level,
          save_current_level=save_current_level)


def _system(b: Builder) -> None:
    m = b.m
    m.cvars = dict(DEFAULT_CVARS)
    m.unattended = False
    version = ENGINE_VERSIONS[b.version]

    class SystemLibrary:
        @staticmethod
        def get_engine_version() -> str:
            return f"{version}-fake+++UE5+Release-{b.version}"

        @staticmethod
        def quit_editor() -> None:
            b.record("SystemLibrary", "quit_editor")

        @staticmethod
        def is_unattended() -> bool:
            return m.unattended

        @staticmethod
        def get_console_variable_float_value(variable_name: str) -> float:
            return float(m.cvars.get(variable_name, 0.0))  # the engine: 0 for unknown names

        @staticmethod
        def get_console_variable_int_value(variable_name: str) -> int:
            return int(m.cvars.get(variable_name, 0))

    m.SystemLibrary = SystemLibrary
    m.paths = {"project": "/tmp/fake_project/", "saved": "/tmp/fake_project/Saved/"}

    class Paths:
        @staticmethod
        def project_dir() -> str:
            return m.paths["project"]

        @staticmethod
        def project_saved_dir() -> str:
            return m.paths["saved"]

        @staticmethod
        def convert_relative_path_to_full(path: str, base_path: str = "") -> str:
            return path

    m.Paths = Paths
    m.dialogs = []

    class EditorDialog:
        @staticmethod
        def show_message(title: Any, message: Any, message_type: Any, default_value: Any = None,
                         message_category: Any = None) -> Any:
            m.dialogs.append((str(title), str(message)))

    m.EditorDialog = EditorDialog

    def new_object(type_: type, outer: Any = None, name: str = "") -> Any:
        b.record("unreal", "new_object", type_.__name__)
        return type_()

    m.new_object = new_object
    m.is_editor = lambda: True
    for fn in ("log", "log_warning", "log_error"):
        def _log(msg: Any, _fn: str = fn) -> None:
            m.log_lines.append(str(msg))
            b.record("unreal", _fn, str(msg))
        setattr(m, fn, _log)
    m.log_flush = lambda: None


def _scripting_and_ticks(b: Builder) -> None:
    m = b.m
    m.keep_alive = False

    class EditorPythonScripting:
        @staticmethod
        def set_keep_python_script_alive(new_keep_alive: bool) -> None:
            b.record("EditorPythonScripting", "set_keep_python_script_alive", new_keep_alive)
            m.keep_alive = bool(new_keep_alive)

        @staticmethod
        def get_keep_python_script_alive() -> bool:
            return m.keep_alive

    m.EditorPythonScripting = EditorPythonScripting

    def after_script() -> bool:
        """What ``EditorPythonExecuter.cpp`` does on the tick after an
        ``-ExecutePythonScript`` script returned: quit unless kept alive. True = quits."""
        if not m.keep_alive:
            b.record("EditorPythonExecuter", "quit_after_script")
        return not m.keep_alive

    m.after_script = after_script
    m.tick_callbacks = {}

    def register_slate_post_tick_callback(callable_: Callable[[float], None]) -> int:
        handle = next(b.ids)
        m.tick_callbacks[handle] = callable_
        return handle

    def unregister_slate_post_tick_callback(handle: int) -> None:
        m.tick_callbacks.pop(handle, None)

    m.register_slate_post_tick_callback = register_slate_post_tick_callback
    m.unregister_slate_post_tick_callback = unregister_slate_post_tick_callback

    def tick(delta: float = 1.0) -> None:
        for fn in list(m.tick_callbacks.values()):
            fn(delta)

    m.tick = tick


def _menus(b: Builder) -> None:
    m = b.m

    class ToolMenuEntry(m._Struct):
        _PROPS = {"name": "", "type": None, "owner": None}

        def set_label(self, label: str) -> None:
            self._values["_label"] = label

        def set_tool_tip(self, tool_tip: str) -> None:
            self._values["_tip"] = tool_tip

        def set_string_command(self, type_: Any, custom_type: str, string: str) -> None:
            self._values["_command"] = (type_, string)

    m.ToolMenuEntry = ToolMenuEntry

    class ToolMenu(m._Obj):
        def __init__(self, name: str = "") -> None:
            super().__init__()
            self.name, self.sections, self.entries, self.subs = name, [], [], {}

        def add_sub_menu(self, owner: str, section_name: str, name: str, label: str,
                         tool_tip: str = "") -> Any:
            sub = ToolMenu(f"{self.name}.{name}")
            sub.owner, sub.label = owner, label
            self.subs[name] = sub
            return sub

        def add_section(self, section_name: str, label: str = "", **_: Any) -> None:
            self.sections.append(section_name)

        def add_menu_entry(self, section_name: str, args: Any) -> None:
            if section_name not in self.sections:
                raise ValueError(f"fake ToolMenu: unknown section {section_name!r}")
            self.entries.append((section_name, args))

    m.ToolMenu = ToolMenu

    class ToolMenus(m._Obj):
        _instance: Any = None

        def __init__(self) -> None:
            super().__init__()
            self.menus: dict[str, Any] = {}
            self.refreshed = 0

        @classmethod
        def get(cls_) -> Any:
            if cls_._instance is None:
                cls_._instance = cls_()
            return cls_._instance

        def extend_menu(self, name: str) -> Any:
            return self.menus.setdefault(name, ToolMenu(name))

        def unregister_owner_by_name(self, owner_name: str) -> None:
            for menu in self.menus.values():
                menu.subs = {k: v for k, v in menu.subs.items() if v.owner != owner_name}

        def refresh_all_widgets(self) -> None:
            self.refreshed += 1

    m.ToolMenus = ToolMenus
