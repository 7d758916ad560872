"""The learning stack: fusion networks, the S2R-Adapter, test-time adaptation, losses, the
training loop, checkpoints and the ``s2rhdr-train`` command.

This is the only part of the toolkit that needs torch for more than tensors in a batch; the
datasets (``s2rhdr_loader``) and the dataset contract (``s2rhdr_loader.core``) do not import it.
"""
