"""Turns every failure into one line on stderr and an exit code (2), and a closed stdout pipe into 0."""
from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from indexer.errors import (
    IndexCorrupt,
    IndexError_,
    IndexLocked,
    IndexMissing,
    IndexStale,
    QueriesFileError,
    SemanticSearchUnavailable,
)

EXIT_HITS, EXIT_NO_HITS, EXIT_ERROR = 0, 1, 2

_HINTS = {
    IndexMissing: "build it with `codesearch index`",
    IndexCorrupt: "`codesearch index --full` repairs it",
    IndexLocked: "try again when it finishes",
    IndexStale: "rebuild it with `codesearch index --full`",
}


class UsageProblem(Exception):
    """A combination of options or inputs that cannot work; the message says what to do instead."""


def stderr() -> Console:
    """A console on the current stderr (created per call: tests swap the streams)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def notice(message: str) -> None:
    stderr().print(f"[cyan]notice[/]: {escape(message)}")


def one_line(exc: BaseException) -> str:
    """The exception as one line, with a hint for the index errors."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, IndexCorrupt):
        return f"{text} (`{exc.repair}` repairs it)"
    for kind, hint in _HINTS.items():
        if isinstance(exc, kind) and "`codesearch " not in text:
            return f"{text} ({hint})"
    return text


def error_line(exc: BaseException) -> str:
    """What the CLI prints after `error: ` (and the server answers) for a failure."""
    message = one_line(exc)
    if not isinstance(exc, _expected_errors()):
        message = f"unexpected {type(exc).__name__}: {message} (rerun with --debug for the traceback)"
    return message


def _expected_errors() -> tuple[type[BaseException], ...]:
    from codesearch.settings import SettingsError

    from codesearch.client import ServerError
    from indexer.related import NoChunkAt

    known: list[type[BaseException]] = [
        UsageProblem, ServerError, NoChunkAt, SettingsError, SemanticSearchUnavailable, QueriesFileError,
        IndexError_, *_HINTS, OSError
    ]
    # A ModelError can only come from an imported model package; importing it here would load torch.
    model_errors = sys.modules.get("model.errors")
    if model_errors is not None:
        known.append(model_errors.ModelError)
    return tuple(known)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file descriptor (a test runner's buffer)
        pass
    finally:
        os.close(devnull)


@contextmanager
def reported(debug: bool) -> Iterator[None]:
    """Run a command body: known errors become one line and exit 2; --debug adds the traceback."""
    try:
        yield
        sys.stdout.flush()
    except typer.Exit:
        raise
    except BrokenPipeError:  # `codesearch search ... | head -1`: the reader had enough
        _silence_stdout()
        raise typer.Exit(EXIT_HITS) from None
    except KeyboardInterrupt:
        stderr().print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: nothing may escape as a traceback
        if debug:
            traceback.print_exc(file=sys.stderr)
        stderr().print(f"[red]error[/]: {escape(error_line(exc))}")
        raise typer.Exit(EXIT_ERROR) from None
