"""``validate-spec`` and ``plan``: check scene specs and turn one into a ``plan.json``."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.errors import S2RError, SpecError


@click.command("validate-spec")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Also plan each spec with this seed (checks the randomised values too).")
def validate_spec(paths: tuple[Path, ...], seed: int | None) -> None:
    """Check scene specs (files or folders of *.yaml; files starting with _ are skipped).

    Prints "OK <file> (<name>)" per valid spec and one "error: file:line:col: ..." line per
    invalid one; exits with status 2 if any spec is invalid. Every spec is also planned, so
    problems that appear only after randomisation are caught.

    \b
    Examples:
      s2rhdr-render validate-spec scene_specs/
      s2rhdr-render validate-spec scene_specs/street_day_walk.yaml my_specs/ --seed 3
    """
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec, spec_files

    bad = 0
    names: dict[str, Path] = {}
    for path in spec_files(paths):
        try:
            spec = load_spec(path)
            make_plan(spec, seed=seed)
            if spec.name in names:
                raise spec.error("name", f"name {spec.name!r} is also used by {names[spec.name]}",
                                 hint="sequence names must be unique in a batch")
            names[spec.name] = path
        except SpecError as exc:
            bad += 1
            click.echo(f"error: {exc.one_line()}", err=True)
            continue
        click.echo(f"OK {path} ({spec.name})")
    total = len(names) + bad
    if total == 0:
        raise S2RError(f"no spec files found in {', '.join(map(str, paths))}",
                       hint="specs are *.yaml files; names starting with _ are skipped")
    if bad:
        raise S2RError(f"{bad} of {total} spec(s) invalid")
    click.echo(f"{total} spec(s) valid")


@click.command("plan")
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Where to write the plan JSON (written atomically).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed for randomisation and shake (default: the spec's seed).")
def plan(spec: Path, output: Path, seed: int | None) -> None:
    """Resolve a scene spec into a plan.json: every frame's camera pose (with handheld shake),
    actor poses, lights in absolute units, exposure and output settings.

    The same spec and seed always give byte-identical output. Backends render plans, so
    inspecting the plan shows exactly what will be rendered.

    \b
    Examples:
      s2rhdr-render plan scene_specs/street_day_walk.yaml -o plan.json
      s2rhdr-render plan scene_specs/park_dusk_dogs.yaml -o /tmp/p7.json --seed 7
    """
    from pipeline.plan import make_plan
    from pipeline.spec import load_spec
    from s2rhdr_loader.core.atomic import atomic_write_text

    if output.is_dir():
        raise S2RError(f"{output}: is a folder", hint="give a file name, e.g. -o plan.json")
    if output.suffix.lower() in (".yaml", ".yml"):
        raise S2RError(f"{output}: refusing to write a plan over a YAML file",
                       hint="plans are JSON, e.g. -o plan.json")
    shot = make_plan(load_spec(spec), seed=seed)
    try:
        atomic_write_text(output, shot.to_json())
    except OSError as exc:
        raise S2RError(f"{output}: cannot write plan ({exc.strerror})") from None
    click.echo(f"wrote {output} ({shot.name}, seed {shot.seed}, "
               f"{shot.warmup_frames}+{shot.frames} frames)")


COMMANDS = [validate_spec, plan]
