"""Suite-wide fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: one thread is faster and immune to spin-wait contention on a 2-core box."""
    import sys

    torch = sys.modules.get("torch")  # only when a test imported torch: keep others light
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
