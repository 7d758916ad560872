"""``s2rhdr-render``: the command-line entry point.

Subcommands live next to the code they drive (``pipeline/commands/*.py``); this module only
assembles them and turns user errors into one-line messages with a non-zero exit status.
"""

from __future__ import annotations

import click

from pipeline import __version__
from s2rhdr_loader.core.clirunner import run_click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="s2rhdr-render")
def cli() -> None:
    """Render, check and describe linear HDR image-sequence datasets.

    \b
    Examples:
      s2rhdr-render validate-spec scene_specs/
      s2rhdr-render plan scene_specs/street_day_walk.yaml -o plan.json
      s2rhdr-render batch scene_specs/ --out out/demo --quality preview
      s2rhdr-render validate out/demo
      s2rhdr-render report out/demo -o out/demo_report
    """


def _register() -> None:
    # Each command module owns its commands; keep this list sorted.
    from pipeline.commands import analysis, render, spec_cmds, unreal_cmds

    for module in (analysis, render, spec_cmds, unreal_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: no traceback for user errors, exit status 2 (1 for failures)."""
    _register()
    run_click(cli, argv, "s2rhdr-render")


if __name__ == "__main__":
    main()
