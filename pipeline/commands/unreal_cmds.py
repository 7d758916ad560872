"""``s2rhdr-render install-plugin``: install the Unreal plugin into a project."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("install-plugin")
@click.argument("project", type=click.Path(path_type=Path))
@click.option("--no-enable", is_flag=True,
              help="Copy the plugin but leave the .uproject unchanged.")
def install_plugin(project: Path, no_enable: bool) -> None:
    """Install the S2R-HDR plugin into PROJECT (a .uproject file).

    \b
    Copies ue_plugin/S2RHDR to <project>/Plugins/S2RHDR, vendors the pure-Python
    spec/plan modules and PyYAML into its Content/Python/Lib/site-packages, and enables
    the plugin in the .uproject. Re-running it updates an existing install.
    """
    from pipeline.plugin_install import install

    report = install(project, enable=not no_enable)
    click.echo(f"installed {report.plugin_dir}")
    click.echo(f"  vendored: {', '.join(report.modules)}, PyYAML {report.yaml_version}")
    click.echo("  enabled in the .uproject" if report.enabled else
               "  not enabled (enable S2RHDR in Edit > Plugins)")


COMMANDS = [install_plugin]
