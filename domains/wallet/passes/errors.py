"""Errors raised by the wallet pass library."""

from __future__ import annotations


class PkpassError(Exception):
    """A pass cannot be built, or a bundle fails verification.

    `problems` lists every individual finding, so a caller (or a test) can show them all
    instead of fixing one at a time.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [message])
