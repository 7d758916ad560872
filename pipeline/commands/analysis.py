"""``validate``, ``stats`` and ``report``: check and describe rendered (and real) HDR datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.errors import S2RError
from pipeline.executors import EXECUTORS
from s2rhdr_loader.core.errors import OptionError


def _parallel(f):
    f = click.option("--executor", type=click.Choice(EXECUTORS), default="local",
                     show_default=True, help="local processes or a Ray cluster")(f)
    f = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
                     help="worker processes (unit: one sequence or a chunk of frames)")(f)
    return click.option("--quiet", "-q", is_flag=True, help="no progress bar")(f)


def _stats_options(f):
    from pipeline import stats as S

    opts = [
        click.option("--name", "names", multiple=True,
                     help="dataset label per ROOT (repeat; default: folder name)"),
        click.option("--normalisation", type=click.Choice(S.NORMALISATIONS), default="auto",
                     show_default=True, help="auto = official_p1p99 for renders, native for "
                     "real labels"),
        click.option("--fhlp-unit", type=click.Choice(S.FHLP_UNITS), default="rgb_elements",
                     show_default=True),
        click.option("--threshold", type=float, default=0.1, show_default=True,
                     help="highlight threshold t (diffuse white / peak)"),
        click.option("--si-domain", type=click.Choice(S.SI_DOMAINS), default="mu_law255",
                     show_default=True),
        click.option("--cf-domain", type=click.Choice(S.SI_DOMAINS + ("follow_si",)),
                     default="follow_si", show_default=True),
        click.option("--luma", "luma_weights", type=click.Choice(tuple(S.LUMA_WEIGHTS)),
                     default="bt709", show_default=True),
        click.option("--dr-mode", type=click.Choice(S.DR_MODES), default="p98_p2",
                     show_default=True),
        click.option("--dr-zero-policy", type=click.Choice(S.DR_ZERO_POLICIES), default="eps",
                     show_default=True),
        click.option("--eps", type=float, default=1e-6, show_default=True,
                     help="luminance floor for the eps zero policy"),
        click.option("--frames", default="all", show_default=True,
                     help="frame sampling per sequence: all | every:K | random:N"),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="seed of random:N sampling"),
        click.option("--no-percent", is_flag=True, help="FHLP/EHL/ALL/stdL as fractions"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _build_options(kw: dict):
    from pipeline.stats import StatsOptions

    return StatsOptions(normalisation=kw["normalisation"], fhlp_unit=kw["fhlp_unit"],
                        threshold=kw["threshold"], si_domain=kw["si_domain"],
                        cf_domain=kw["cf_domain"], luma_weights=kw["luma_weights"],
                        dr_mode=kw["dr_mode"], dr_zero_policy=kw["dr_zero_policy"],
                        eps=kw["eps"], frames=kw["frames"], seed=kw["seed"],
                        percent=not kw["no_percent"])


def _out_dir(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise S2RError(f"{path}: output path exists and is not a folder",
                       hint="pass a folder for -o")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(roots, out: Path, kw: dict):
    from pipeline.stats import run_stats

    return run_stats(roots, _build_options(kw), names=list(kw["names"]) or None,
                     jobs=kw["jobs"], executor=kw["executor"],
                     cache_dir=out / ".cache", progress=not kw["quiet"])


def _print_table(doc: dict) -> None:
    from pipeline.stats import METRICS

    click.echo(f"{'dataset':<20} {'frames':>7} " + " ".join(f"{m:>7}" for m in METRICS))
    for ds in doc["datasets"]:
        vals = [ds["metrics"][m]["mean"] for m in METRICS]
        cells = " ".join(f"{v:7.2f}" if v is not None else f"{'-':>7}" for v in vals)
        click.echo(f"{ds['name'][:20]:<20} {ds['num_frames_measured']:>7} {cells}")
        if ds["errors"]:
            click.echo(f"  {len(ds['errors'])} file(s) skipped, e.g. "
                       f"{ds['errors'][0]['message']}", err=True)


@click.command("validate")
@click.argument("root", type=click.Path(file_okay=False))
@click.option("--min-dr-stops", type=float, default=4.0, show_default=True,
              help="warn (fail with --strict) about frames whose luminance p0.1..p99.9 "
                   "spans fewer stops")
@click.option("--drift-stops", type=float, default=1.0, show_default=True,
              help="warn when the median luminance of consecutive frames jumps more")
@click.option("--mode", type=click.Choice(("full", "quick")), default="full", show_default=True,
              help="full decodes every pass; quick (what the batch runs after each shot) "
                   "reads the other passes' headers only")
@click.option("--decode-passes", is_flag=True, hidden=True, help="same as --mode full")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="where to write validation.json [default: ROOT.s2rhdr-work/validation.json, "
                   "beside the root: readers list every entry of a root]")
@click.option("--no-json", is_flag=True, help="do not write validation.json")
@click.option("--strict", is_flag=True, help="warnings fail too")
@_parallel
def validate(root, min_dr_stops, drift_stops, mode, decode_passes, json_path, no_json, strict,
             jobs, executor, quiet):
    """Check every frame and sequence of ROOT; exit 0 if it passes, 1 if it fails.

    Each sequence gets the verdict the batch gives a rendered shot (the core of
    pipeline.validate.check_shot), in full mode by default.
    """
    from pipeline.validate import ValidateOptions, validate_dataset, write_validation

    opts = ValidateOptions(min_dr_stops=min_dr_stops, drift_stops=drift_stops,
                           mode="full" if decode_passes else mode)
    result = validate_dataset(root, opts, jobs=jobs, executor=executor, progress=not quiet)
    click.echo(result.text())
    if not no_json:
        from s2rhdr_loader.core.layout import work_dir

        target = Path(json_path) if json_path else work_dir(root) / "validation.json"
        try:
            write_validation(result, target)
            click.echo(f"wrote {target}")
        except OSError as exc:
            raise S2RError(f"{target}: cannot write validation.json ({exc.strerror})",
                           hint="pass --json PATH to a writable place or --no-json") from None
    failed = not result.passed or (strict and result.summary()["warnings"])
    sys.exit(1 if failed else 0)


@click.command("stats")
@click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
@click.option("-o", "--out", type=click.Path(), help="output folder")
@click.option("--self-check", is_flag=True,
              help="run the known-answer suite of every metric (no ROOT needed); exit 1 if "
                   "any check fails")
@_stats_options
@_parallel
def stats(roots, out, self_check, **kw):
    """FHLP, EHL, SI, CF, stdL, ALL, DR per frame, sequence and dataset -> stats.json/.csv.

    ROOT is a rendered dataset (or one sequence), a folder of real benchmark labels
    (HDRImg.hdr / hdr_img.hdr) or any folder of HDR images (*.exr, *.hdr: your own
    captures). Finished units are cached in OUT/.cache, so a killed run resumes where it
    stopped.
    """
    if self_check:
        from pipeline.known_answers import report_lines, run_checks

        checks = run_checks()
        for line in report_lines(checks):
            click.echo(line)
        sys.exit(0 if all(c.passed for c in checks) else 1)
    from pipeline.stats import write_stats

    out_dir = _out_dir(_need_roots(roots, out, "stats"))
    run = _run(roots, out_dir, kw)
    for p in write_stats(run.doc, out_dir):
        click.echo(f"wrote {p}")
    _print_table(run.doc)


def _need_roots(roots, out, command: str) -> str:
    if not roots:
        raise OptionError(f"{command}: no ROOT given",
                          hint=f"s2rhdr-render {command} ROOT... -o OUT"
                          + (" (or --self-check)" if command == "stats" else ""))
    if not out:
        raise OptionError(f"{command}: missing -o/--out", hint="pass an output folder")
    return out


@click.command("report")
@click.argument("roots", nargs=-1, type=click.Path(file_okay=False))
@click.option("-o", "--out", type=click.Path(), help="output folder")
@_stats_options
@_parallel
def report(roots, out, **kw):
    """Statistics + PNG plots + a self-contained report.html dataset card for ROOT(s).

    Several ROOTs (e.g. our render and a real benchmark) are compared in one report; a
    ROOT.s2rhdr-work/validation.json written by `validate` is summarised when present.
    """
    from pipeline.report import write_report
    from pipeline.stats import write_stats

    out_dir = _out_dir(_need_roots(roots, out, "report"))
    run = _run(roots, out_dir, kw)
    written = write_stats(run.doc, out_dir) + write_report(run, out_dir)
    for p in written:
        click.echo(f"wrote {p}")
    _print_table(run.doc)


COMMANDS = [validate, stats, report]
