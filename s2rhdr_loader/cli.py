"""``s2rhdr-loader``: build the patch cache, reproduce the official preprocessing, split, inspect.

User errors print one ``error: ...`` line and exit with status 2; a run where some
sequences failed (the others still finished) exits with status 1 after a summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from s2rhdr_loader import __version__
from s2rhdr_loader.core.clirunner import run_click
from s2rhdr_loader.core.layout import LayoutError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="s2rhdr-loader")
def cli() -> None:
    """Serve rendered linear-HDR sequences to fusion networks.

    \b
    Examples:
      s2rhdr-loader info out/demo
      s2rhdr-loader split out/demo --fractions 0.8 0.1 0.1
      s2rhdr-loader cache out/demo -o out/demo_cache
      s2rhdr-loader official-preprocess data/S2R-HDR -o data/S2R-HDR-processed-patch
      s2rhdr-loader export-official out/demo -o data/S2R-HDR
    """


def _failures(failed: dict[str, str]) -> None:
    for name, msg in sorted(failed.items()):
        click.echo(f"failed: {name}: {msg}", err=True)
    if failed:
        click.echo(f"{len(failed)} sequence(s) failed; fix them and rerun (finished ones are "
                   "skipped)", err=True)
        sys.exit(1)


@cli.command("cache")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="cache folder (index.json + one .npy per sequence)")
@click.option("--verify", is_flag=True, help="re-hash every cached array afterwards")
@click.option("--quiet", is_flag=True, help="no progress bar")
def cache_cmd(root: Path, out: Path, verify: bool, quiet: bool) -> None:
    """Convert every sequence to a memory-mapped half-float array (resumable)."""
    from s2rhdr_loader.cache import build_cache, verify_cache

    rep = build_cache(root, out, progress=not quiet)
    click.echo(f"cache {out}: {len(rep.built)} built, {len(rep.skipped)} already cached, "
               f"{len(rep.failed)} failed")
    if verify:
        problems = verify_cache(out)
        for p in problems:
            click.echo(f"corrupt: {p}", err=True)
        if problems:
            sys.exit(1)
        click.echo("verify: all arrays match their recorded sha256")
    _failures(rep.failed)


@cli.command("official-preprocess")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 256))
@click.option("--patch-size", default=640, show_default=True, type=click.IntRange(1))
@click.option("--stride", default=512, show_default=True, type=click.IntRange(2))
@click.option("--full-frames", is_flag=True,
              help="write normalised full frames (S2R-HDR-processed) instead of patches")
@click.option("--patch-names", "naming", default="release", show_default=True,
              type=click.Choice(["release", "grid"]),
              help="release: exactly the release's folder names (_1536_0, _1280_512); "
                   "grid: the un-clamped grid corner (_1536_0, _1536_512)")
@click.option("--quiet", is_flag=True, help="no progress bar")
def preprocess_cmd(src: Path, out: Path, jobs: int, patch_size: int, stride: int,
                   full_frames: bool, naming: str, quiet: bool) -> None:
    """Reproduce the release's p1-p99 normalisation and 640/512 patches (clips highlights!)."""
    from s2rhdr_loader.preprocess import official_preprocess

    rep = official_preprocess(src, out, jobs=jobs, patch=None if full_frames else patch_size,
                              stride=stride, naming=naming, progress=not quiet)
    lists = ", ".join(f"{n} in {name}" for name, n in rep.lists.items())
    click.echo(f"official-preprocess {out}: {len(rep.done)} done, {len(rep.skipped)} skipped, "
               f"{len(rep.failed)} failed, {rep.outputs} outputs ({lists})")
    _failures(rep.failed)


@cli.command("export-official")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="new dataset root in the release's form (<scene>/img/HDR/0003.exr ...)")
@click.option("--aux", default="rgb", show_default=True,
              type=click.Choice(["rgb", "original", "none"]),
              help="rgb: depth/normal/flow/mask rewritten as R,G,B channels OpenCV reads; "
                   "original: linked unchanged (OpenEXR readers); none: left out")
@click.option("--copy", is_flag=True, help="copy files instead of hard-linking them")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 256))
@click.option("--force", is_flag=True, help="re-export scenes that are already up to date")
@click.option("--fractions", nargs=3, type=float, default=(0.8, 0.1, 0.1), show_default=True,
              help="train val test (when ROOT has no splits.json)")
@click.option("--quiet", is_flag=True, help="no progress bar")
def export_cmd(root: Path, out: Path, aux: str, copy: bool, jobs: int, force: bool,
               fractions: tuple[float, float, float], quiet: bool) -> None:
    """Write ROOT in the official release's raw form, with trainlist/testlist.txt (resumable)."""
    from s2rhdr_loader.export import export_official

    rep = export_official(root, out, aux=aux, copy=copy, jobs=jobs, force=force,
                          fractions=fractions, progress=not quiet)
    files = ", ".join(f"{n} {k}" for k, n in rep.files.items() if n)
    lists = ", ".join(f"{n} in {name}" for name, n in rep.lists.items())
    click.echo(f"export-official {out}: {len(rep.done)} exported, {len(rep.skipped)} up to "
               f"date, {len(rep.failed)} failed; files: {files or 'none written'}; {lists}")
    if rep.truncated:
        click.echo(f"note: {len(rep.truncated)} sequence(s) have more than 24 frames; the first "
                   f"24 were exported ({', '.join(rep.truncated[:5])})", err=True)
    if rep.small:
        click.echo(f"warning: {len(rep.small)} sequence(s) are smaller than 640x640, the "
                   f"release's training patch ({', '.join(rep.small[:5])})", err=True)
    _failures(rep.failed)


@cli.command("split")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--fractions", nargs=3, type=float, default=(0.8, 0.1, 0.1), show_default=True,
              help="train val test")
@click.option("--dry-run", is_flag=True, help="print the split without writing splits.json")
def split_cmd(root: Path, fractions: tuple[float, float, float], dry_run: bool) -> None:
    """Assign sequences to train/val/test by a hash of their name; write ROOT/splits.json."""
    from s2rhdr_loader.core.layout import discover
    from s2rhdr_loader.splits import assign, source_groups, write_splits

    names = [s.name for s in discover(root)]
    if not names:
        raise LayoutError(f"{root}: no sequences found")
    groups = assign(names, fractions, source_groups(root))
    for split, members in groups.items():
        click.echo(f"{split}: {len(members)}" + (f"  ({', '.join(members[:8])}"
                                                 f"{' ...' if len(members) > 8 else ''})"
                                                 if members else ""))
    if not dry_run:
        click.echo(f"wrote {write_splits(root, names, fractions)}")


@cli.command("info")
@click.argument("root", type=click.Path(path_type=Path))
def info_cmd(root: Path) -> None:
    """List sequences: layout variant, frame count, resolution, split."""
    from s2rhdr_loader.core.exr import read_header
    from s2rhdr_loader.core.layout import discover
    from s2rhdr_loader.splits import resolve

    seqs = discover(root)
    if not seqs:
        raise LayoutError(f"{root}: no sequences found")
    where = {n: s for s, ns in resolve(root, [q.name for q in seqs]).items() for n in ns}
    for seq in seqs:
        head = read_header(seq.frames[0])
        click.echo(f"{seq.name}\t{seq.variant}\t{seq.num_frames} frames\t"
                   f"{head.width}x{head.height}\t{head.compression}\t{where[seq.name]}")
    click.echo(f"{len(seqs)} sequences")


def main(argv: list[str] | None = None) -> None:
    """Console entry: user errors become one line and exit status 2, never a traceback."""
    # LayoutError, ExrError, HdrError, ... all derive from S2RError
    run_click(cli, argv, "s2rhdr-loader")


if __name__ == "__main__":
    main()
