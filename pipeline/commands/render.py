"""``s2rhdr-render batch``: render scene specs (or plans) into a dataset, resumably."""

from __future__ import annotations

import click

from pipeline.backends import BACKENDS, QUALITIES
from pipeline.errors import RenderError
from pipeline.executors import EXECUTORS


def _seeds(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected comma-separated integers, e.g. 0,1,2",
                                 param_hint="--seeds") from None


def _options(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE",
                                     param_hint="--backend-option")
        out[key.strip()] = value
    return out


@click.command("batch")
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Dataset root (created; manifest.json lives here).")
@click.option("--backend", type=click.Choice(sorted(BACKENDS)), default="mitsuba",
              show_default=True, help="Renderer.")
@click.option("--quality", type=click.Choice(QUALITIES), default="default", show_default=True,
              help="preview: 1/4 resolution, 4 spp; default: full resolution, <=16 spp; "
                   "final: the spec's spp.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Shots rendered in parallel (local processes).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (with --executor ray), "
              "e.g. auto or ray://host:10001.")
@click.option("--force", is_flag=True, help="Re-render shots even if they are complete.")
@click.option("--only", multiple=True, metavar="NAME", help="Render only this shot (repeatable).")
@click.option("--seeds", default=None, metavar="LIST",
              help="Render every spec once per seed (e.g. 0,1,2) as <name>-s<seed>.")
@click.option("--variations", type=click.IntRange(0, 100000), default=None, metavar="N",
              help="Turn every spec into N seeded variations <name>-vNNNN (ranges from its "
                   "randomize: block; default: the spec's randomize.variations).")
@click.option("--profile", type=click.Choice(["s2rhdr"]), default=None,
              help="Shape every shot for a consumer: s2rhdr = the official release (24 frames "
                   "at 1920x1080; then `s2rhdr-loader export-official`).")
@click.option("--resolution", default=None, metavar="WxH",
              help="Override every spec's resolution (after --profile), e.g. 320x180.")
@click.option("--backend-option", "-O", "backend_options", multiple=True, metavar="KEY=VALUE",
              help="Option for the backend (repeatable), e.g. -O editor=/opt/UE/UnrealEditor-Cmd "
                   "-O project=/p/S2R.uproject for unreal.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def batch(specs: tuple[str, ...], out: str, backend: str, quality: str,
          jobs: int, executor: str, address: str | None, force: bool, only: tuple[str, ...],
          seeds: str | None, variations: int | None, profile: str | None,
          resolution: str | None, backend_options: tuple[str, ...], quiet: bool) -> None:
    """Render SPECS (spec .yaml files, folders of them, or plan .json files) into --out.

    Each shot renders into a temporary folder and is moved into place only when complete
    and validated; re-running the same command skips complete shots, redoes partial or
    changed ones and cleans up after killed runs. Exit status 1 if any shot failed.

    \b
    Examples:
      s2rhdr-render batch scene_specs/ --out out/demo --quality preview --jobs 2
      s2rhdr-render batch scene_specs/street_day.yaml --out out/ds --only street_day --force
      s2rhdr-render batch scene_specs/ --out out/ds --seeds 0,1,2 --quality final
      s2rhdr-render batch scene_specs/ --out out/release --profile s2rhdr
      s2rhdr-render batch scene_specs/street_city_noon.yaml --out out/ds --variations 100
      s2rhdr-render batch scene_specs/ --out /shared/ds --executor ray --address auto
      s2rhdr-render batch plan.json --out out/one      # a plan from `s2rhdr-render plan`
    """
    from pipeline.batch import load_plans, run_batch, summary_table
    from pipeline.profiles import parse_resolution

    options = _options(backend_options)
    plans = load_plans(list(specs), only=only, seeds=_seeds(seeds), profile=profile,
                       resolution=parse_resolution(resolution) if resolution else None,
                       variations=variations)
    outcomes = run_batch(plans, out, backend=backend, quality=quality, jobs=jobs,
                         executor=executor, address=address, force=force, options=options,
                         show_progress=not quiet)
    click.echo(summary_table(outcomes))
    failed = [o.name for o in outcomes if o.status == "failed"]
    if failed:
        raise RenderError(f"{len(failed)} of {len(outcomes)} shot(s) failed: "
                          f"{', '.join(failed)}", hint="see the table above; re-run to retry")


COMMANDS = [batch]
