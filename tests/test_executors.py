"""Executors: every unit reported, failures isolated, the same answers serial or parallel."""

from __future__ import annotations

import io

import pytest

from pipeline.errors import S2RError
from pipeline.executors import run_tasks
from s2rhdr_loader.core.progress import Progress
from tests.helpers.tasks import square_or_fail


@pytest.mark.parametrize("jobs", [1, 2])
def test_failures_are_isolated_and_reported(jobs):
    out = {item: (res, err) for item, res, err in run_tasks(square_or_fail, range(5), jobs=jobs)}
    assert {k: v[0] for k, v in out.items() if v[1] is None} == {0: 0, 1: 1, 2: 4, 4: 16}
    assert str(out[3][1]) == "unit 3 is bad (fix unit 3)"


@pytest.mark.parametrize("jobs", [1, 2])
def test_items_are_taken_only_when_a_slot_is_free(jobs):
    """A batch claims a shot when it pulls it: never more than ``jobs`` ahead."""
    pulled = []

    def items():
        for i in range(5):
            pulled.append(i)
            yield i

    results = run_tasks(square_or_fail, items(), jobs=jobs)
    next(results)
    assert pulled == list(range(jobs))
    assert len(list(results)) == 4 and pulled == list(range(5))


def test_unknown_executor_is_a_user_error():
    with pytest.raises(S2RError, match="unknown executor"):
        list(run_tasks(square_or_fail, [1], executor="slurm"))


def test_ray_executor_matches_local():
    pytest.importorskip("ray")
    got = {i: r for i, r, e in run_tasks(square_or_fail, [0, 1, 2], executor="ray") if e is None}
    assert got == {0: 0, 1: 1, 2: 4}


def test_progress_reports_counts_and_eta_without_a_terminal():
    buf = io.StringIO()
    with Progress(4, "render", stream=buf, min_interval=0.0) as bar:
        for i in range(4):
            bar.update(1, note=f"shot{i}")
    lines = buf.getvalue().strip().splitlines()
    assert lines[0].startswith("render [") and "0/4" in lines[0]
    assert "4/4 100.0%" in lines[-1] and "shot3" in lines[-1]
