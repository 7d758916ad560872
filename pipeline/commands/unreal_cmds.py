"""``s2rhdr-render install-plugin`` and ``unreal-selftest``: the Unreal project side."""

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


@click.command("unreal-selftest")
@click.option("--project", type=click.Path(path_type=Path), default=None,
              help="The .uproject (default: $S2RHDR_UNREAL_PROJECT or the config file).")
@click.option("--editor", type=click.Path(path_type=Path), default=None,
              help="UnrealEditor-Cmd (default: $S2RHDR_UNREAL_EDITOR or the config file).")
@click.option("--from", "source", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Analyse the frames the editor menu's 'Self-test linear "
                                 "output' wrote there instead of rendering headless.")
@click.option("--backend-option", "-O", "backend_options", multiple=True, metavar="KEY=VALUE",
              help="Launcher option (timeout_s=..., retries=..., extra_args=...).")
def unreal_selftest(project: Path | None, editor: Path | None, source: Path | None,
                    backend_options: tuple[str, ...]) -> None:
    """Check that PROJECT's Unreal output is linear HDR before a batch relies on it.

    \b
    Renders the calibration scene (cards of known luminance, emitters at -6..+6 EV, a
    sun-lit white card) through the same linear lock and Movie Render Queue job as every
    shot, then checks on this machine: pixels = L x exposure.scale within 2 %, log-log
    slope 1 +- 0.02, no clipping below 65504, no bloom / depth-of-field halo, constant
    frames, the sun-lit card within 10 %. Writes the verdict to
    <project>/Saved/S2RHDR/selftest-verdict.json; `batch --backend unreal` refuses to run
    without a passing one (override: --skip-selftest). Exit status 1 when the check fails.
    """
    from pipeline.backends.unreal import run_selftest
    from pipeline.commands.render import _options
    from pipeline.errors import RenderError

    options = _options(backend_options)
    if project is not None:
        options["project"] = str(project)
    if editor is not None:
        options["editor"] = str(editor)
    analysis, verdict = run_selftest(options, source=source)
    checks = analysis.checks
    if "slope" in checks:
        click.echo(f"  slope {checks['slope']:.4f}  median L-ratio {checks['median_ratio']:.4f}"
                   f"  halo {checks['halo_max']:.2%}  drift {checks['drift']:.2%}"
                   f"  sun card {checks['sun_ratio']:.3f}  max {checks['frame_max']:.4g}")
    click.echo(f"verdict: {verdict}")
    if not analysis.ok:
        raise RenderError(f"Unreal self-test failed: {analysis.line()}")
    click.echo(f"ok: {analysis.line()}")


COMMANDS = [install_plugin, unreal_selftest]
