"""A Rich progress display on stderr that implements the indexer's `Progress` protocol."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from codesearch.output import printable_path

_STAGE_LABELS = {"scan": "scanning files", "chunk": "chunking files", "embed": "embedding chunks"}
# Past this many, per-file warnings are only counted (the summary lists skipped files by reason).
MAX_WARNINGS_SHOWN = 20


class _TokensPerSecond(ProgressColumn):
    """Tokens embedded per second in the current stage; blank for stages that embed nothing."""

    def render(self, task: Task) -> Text:
        tokens = task.fields.get("tokens", 0)
        if not tokens or not task.elapsed:
            return Text("")
        return Text(f"{tokens / task.elapsed:,.0f} tok/s", style="cyan")


class IndexProgress:
    """Stage bars (files, chunks), tokens/s and ETA; warnings printed above the bars."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.warnings = 0
        self._bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<17}"),
            BarColumn(),
            MofNCompleteColumn(),
            _TokensPerSecond(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> "IndexProgress":
        self._bars.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finish_stage()
        self._bars.stop()

    def stage(self, name: str, total: int | None) -> None:
        self._finish_stage()
        self._task = self._bars.add_task(_STAGE_LABELS.get(name, name), total=total, tokens=0)

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        if self._task is None:
            return
        task = self._bars.tasks[self._task]
        self._bars.update(self._task, advance=n, tokens=task.fields["tokens"] + tokens)

    def warn(self, path: str, reason: str) -> None:
        self.warnings += 1
        if self.warnings <= MAX_WARNINGS_SHOWN:
            self.console.print(f"[yellow]warning[/]: {escape(printable_path(path))}: {escape(reason)}",
                               highlight=False)
        elif self.warnings == MAX_WARNINGS_SHOWN + 1:
            self.console.print("[yellow]warning[/]: more files skipped; the summary counts them by reason")

    def _finish_stage(self) -> None:
        """Mark the running stage done, so a stage that ended early does not look stuck."""
        if self._task is None:
            return
        task = self._bars.tasks[self._task]
        done = task.completed if task.total is None else task.total
        self._bars.update(self._task, total=done, completed=done)
        self._bars.stop_task(self._task)
        self._task = None
