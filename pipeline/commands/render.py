"""``s2rhdr-render batch`` renders scene specs (or plans) into a dataset, resumably;
``s2rhdr-render status`` shows where the batches on a root stand (read-only)."""

from __future__ import annotations

import click

from pipeline.backends import BACKENDS, QUALITIES
from pipeline.claims import DEFAULT_TIMEOUT_S
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
@click.option("--skip-selftest", is_flag=True,
              help="unreal: render without a passing `s2rhdr-render unreal-selftest` verdict.")
@click.option("--claim-timeout", type=click.FloatRange(min=1.0), default=DEFAULT_TIMEOUT_S,
              show_default=True, metavar="SECONDS",
              help="Take over a shot claimed by another batch whose heartbeat is older "
                   "(a dead owner on this host is taken over at once).")
@click.option("--min-free-gb", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="Stop cleanly before a shot whose estimated size would leave less free.")
@click.option("--max-retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Re-run a shot whose worker process or Ray node died (not one that "
                   "failed by itself).")
@click.option("--verify-hashes", is_flag=True,
              help="Re-hash the files of complete shots before skipping them (default: "
                   "presence and sizes).")
def batch(specs: tuple[str, ...], out: str, backend: str, quality: str,
          jobs: int, executor: str, address: str | None, force: bool, only: tuple[str, ...],
          seeds: str | None, variations: int | None, profile: str | None,
          resolution: str | None, backend_options: tuple[str, ...], quiet: bool,
          claim_timeout: float, min_free_gb: float, max_retries: int, verify_hashes: bool,
          skip_selftest: bool) -> None:
    """Render SPECS (spec .yaml files, folders of them, or plan .json files) into --out.

    Each shot is claimed, renders into a staging folder beside --out (OUT.s2rhdr-work/)
    and is moved into place only when complete and validated; re-running the same command
    skips complete shots, redoes partial or changed ones and cleans up after killed runs.
    Several batches (or nodes) may share one --out: each renders only unclaimed shots.
    Exit status 1 if any shot failed or the disk is too full to go on.

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
    if skip_selftest:
        options["skip_selftest"] = "1"
    plans = load_plans(list(specs), only=only, seeds=_seeds(seeds), profile=profile,
                       resolution=parse_resolution(resolution) if resolution else None,
                       variations=variations)
    outcomes = run_batch(plans, out, backend=backend, quality=quality, jobs=jobs,
                         executor=executor, address=address, force=force, options=options,
                         show_progress=not quiet, claim_timeout=claim_timeout,
                         min_free_gb=min_free_gb, max_retries=max_retries,
                         verify_hashes=verify_hashes)
    click.echo(summary_table(outcomes))
    failed = [o.name for o in outcomes if o.status == "failed"]
    if outcomes.stopped:
        left = sum(o.status == "pending" for o in outcomes)
        raise RenderError(f"stopped: {outcomes.stopped}",
                          hint=f"{left} shot(s) not started; free space (or lower "
                               "--min-free-gb) and re-run the same command")
    if failed:
        raise RenderError(f"{len(failed)} of {len(outcomes)} shot(s) failed: "
                          f"{', '.join(failed)}", hint="see the table above; re-run to retry")


@click.command("status")
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--claim-timeout", type=click.FloatRange(min=1.0), default=DEFAULT_TIMEOUT_S,
              show_default=True, metavar="SECONDS",
              help="Heartbeat age after which a claim counts as stale (as in batch).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(root: str, claim_timeout: float, as_json: bool) -> None:
    """Summarise a dataset root: complete, claimed (by whom, heartbeat age), failed (why),
    pending shots and the estimated time left. Reads only, so it is safe while batches run.

    \b
    Examples:
      s2rhdr-render status out/ds
      watch -n 30 s2rhdr-render status /shared/ds
    """
    from pipeline.batch_status import format_status, root_status

    st = root_status(root, claim_timeout=claim_timeout)
    if as_json:
        import json

        click.echo(json.dumps(st, indent=1, sort_keys=True))
    else:
        click.echo(format_status(st))


COMMANDS = [batch, status]
