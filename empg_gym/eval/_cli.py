"""Shared bits of the ``empg-eval`` and ``empg-leaderboard`` command lines.

A closed pipe (``empg-leaderboard show | head``) is not an error of the command: :func:`pipe_closed` quiets
the interpreter's final flush so no traceback or ``Exception ignored`` line is printed.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["SIGPIPE_STATUS", "nonneg_int", "pipe_closed", "positive_int"]

#: Exit status of a command whose output pipe closed before it finished (128 + SIGPIPE, as a shell reports).
SIGPIPE_STATUS = 141


def pipe_closed() -> None:
    """After a ``BrokenPipeError``: point stdout and stderr at /dev/null so the exit flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # a replaced stream without a file descriptor (tests)
            pass
    os.close(devnull)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def nonneg_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v
