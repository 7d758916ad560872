"""Picklable task functions for executor tests (spawned workers import this module)."""

from pipeline.errors import S2RError


def square_or_fail(x: int) -> int:
    if x == 3:
        raise S2RError("unit 3 is bad", hint="fix unit 3")
    return x * x
