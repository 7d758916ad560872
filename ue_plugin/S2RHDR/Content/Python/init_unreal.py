"""Editor start-up hook of the S2R-HDR plugin (run by PythonScriptPlugin for every enabled plugin).

Cheap and idempotent on purpose: it only registers the menu, and only in an interactive editor.
Headless renders (``-unattended``) import what they need from their own script.
"""

import unreal


def _start() -> None:
    if not unreal.is_editor() or unreal.SystemLibrary.is_unattended():
        return
    try:
        from s2rhdr_unreal import menu

        menu.register()
    except Exception as exc:  # never break editor start-up because of our menu
        unreal.log_warning(f"S2R-HDR: menu not registered ({exc})")


_start()
