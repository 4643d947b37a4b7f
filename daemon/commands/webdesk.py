"""Placeholder: filled in by issue 14 work."""


def register(sub) -> None:
    pass
