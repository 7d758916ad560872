"""Placeholder command module; its owner replaces COMMANDS with real click commands."""

COMMANDS: list = []
