"""The `codesearch` command line: index, search, status, eval and serve, wired to the indexer and the encoder.

Only this package prints and picks exit codes: 0 hits (or success), 1 no hits, 2 error. Results go to
stdout; progress, notices, warnings and errors to stderr. torch is imported only by commands that embed
documents (`index` with a model, `eval`); `search` embeds its query without it (see encoders.py).
"""
from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from codesearch import core, encoders, reports
from codesearch.errors import EXIT_ERROR, EXIT_HITS, EXIT_NO_HITS, UsageProblem, notice, reported, stderr
from codesearch.output import file_line_reader, json_messages, render_human, vimgrep_lines, write_json
from codesearch.settings import Settings, explicit_model, load_settings

app = typer.Typer(
    name="codesearch",
    help="Local semantic code search: index a repository with ModernBERT, then search it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Mode(str, Enum):
    hybrid = "hybrid"
    semantic = "semantic"
    lexical = "lexical"


class Kind(str, Enum):
    file = "file"
    function = "function"
    method = "method"
    class_ = "class"
    section = "section"


# Options shared by the commands that may load the model.
ModeOpt = typer.Option(None, "--mode", help="hybrid (default), semantic or lexical.")
ModelOpt = typer.Option(None, "--model", help="Model folder or Hugging Face hub id (default: gte-modernbert-base).")
DeviceOpt = typer.Option(None, "--device", help="torch device: auto, cpu, cuda, cuda:1, ... (default: auto).")
DtypeOpt = typer.Option(None, "--dtype", help="Encoder precision: auto, float32, bfloat16, int8 (default: auto).")
IndexDirOpt = typer.Option(
    None, "--index-dir", help="Index folder (default: .codesearch/ at the repository root).", show_default=False
)


@app.callback()
def _global(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error."),
) -> None:
    """Local semantic code search: index a repository with ModernBERT, then search it."""
    ctx.obj = {"debug": debug}


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.obj and ctx.obj.get("debug"))


def find_root(start: Path) -> Path:
    """The repository root for a path: the nearest folder holding an index or a config file, else the
    nearest git work tree, else the folder itself."""
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    chain = [base, *base.parents]
    for folder in chain:
        if (folder / ".codesearch").is_dir() or (folder / ".codesearch.toml").is_file():
            return folder
    for folder in chain:
        if (folder / ".git").exists():
            return folder
    return base


def root_of(path: Path | None) -> Path:
    """The repository root for a command's PATH argument (default: the working directory)."""
    if path is not None and not path.exists():
        raise UsageProblem(f"{path}: no such file or folder")
    return find_root(path or Path.cwd())


class _ResultConsole(Console):
    """The stdout console. Rich exits with status 1 on a closed pipe; we let `reported` exit with 0."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def _out() -> Console:
    return _ResultConsole(highlight=False)


@app.command()
def index(
    ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="Repository to index (default: the current repository)."),
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    dtype: Optional[str] = DtypeOpt,
    batch_tokens: Optional[int] = typer.Option(None, "--batch-tokens", help="Tokens per encoder batch."),
    since: Optional[str] = typer.Option(None, "--since", help="Only look at files git says changed since REV."),
    full: bool = typer.Option(False, "--full", help="Rebuild from scratch instead of updating."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display and no summary."),
    lexical_only: bool = typer.Option(False, "--lexical-only", help="Build the lexical index only (no model)."),
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Build or update the index (incremental: unchanged files and cached embeddings are reused).

    An index that was built lexical-only stays so, without trying to load a model, until a model is
    set (--model, CODESEARCH_MODEL or the config file).
    """
    with reported(_debug(ctx)):
        root = path.resolve() if path else find_root(Path.cwd())
        if not root.is_dir():
            raise UsageProblem(f"{path} is not a folder")
        flags = dict(model=model, device=device, dtype=dtype, batch_tokens=batch_tokens, index_dir=index_dir)
        settings = load_settings(root, _given(flags))
        chosen = explicit_model(_given(flags), root)
        encoder = None
        built_lexical, indexed_with = _indexed_model(settings, root)
        if not lexical_only and (chosen or not built_lexical):
            model_id = settings.model if chosen else indexed_with or settings.model
            encoder, unavailable = encoders.load_if_available(
                model_id, settings.device, settings.dtype, settings.batch_tokens
            )
            if encoder is None and indexed_with:
                # Going on lexically would drop the index's vectors: make that an explicit choice.
                raise UsageProblem(f"the index holds vectors of {indexed_with} and would lose them: {unavailable} "
                                   "(or drop them with --lexical-only)")
            if encoder is None:
                notice(f"building a lexical-only index: {unavailable}; later runs keep it lexical-only "
                       "until a model is given with --model")
        summary = _run_index(root, settings, encoder, since=since, full=full, quiet=quiet)
        if not quiet:
            reports.print_index_summary(_out(), summary, settings.index_path(root))


def _indexed_model(settings: Settings, root: Path) -> tuple[bool, str | None]:
    """For an existing index: whether it was built lexical-only, and the model whose vectors it holds
    (an update keeps it). (False, None) when there is no readable index yet."""
    from indexer.errors import IndexError_
    from indexer.index import indexed_model

    try:
        return indexed_model(_index_folder(settings, root))
    except IndexError_:  # unreadable or unsafe: the indexer reports that itself
        return False, None


def _run_index(root: Path, settings: Settings, encoder, *, since: str | None, full: bool, quiet: bool):
    from indexer.pipeline import IndexOptions, index_repository

    from codesearch.progress import IndexProgress

    options = IndexOptions(**({"embed_batch_tokens": settings.batch_tokens} if settings.batch_tokens else {}))
    index_dir = settings.index_path(root)
    if quiet:
        return index_repository(root, index_dir, encoder, options, since=since, full=full)
    with IndexProgress(stderr()) as progress:
        return index_repository(root, index_dir, encoder, options, since=since, full=full, progress=progress)


@app.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="What to look for: words, a question or an identifier."),
    path: Optional[Path] = typer.Argument(
        None, help="Search the repository holding PATH, restricted to PATH when it is a part of it."
    ),
    mode: Optional[Mode] = ModeOpt,
    top: Optional[int] = typer.Option(None, "-k", "--top", min=1, help="Number of hits (default: 10)."),
    lang: List[str] = typer.Option(
        [], "--lang", help="Only this language (repeatable): a name, alias or extension, e.g. python, py, golang."
    ),
    path_glob: List[str] = typer.Option(
        [], "--path", help="Only paths matching GLOB (repeatable); a leading ! excludes."
    ),
    kind: List[Kind] = typer.Option([], "--kind", help="Only hits of this kind (repeatable)."),
    files_only: bool = typer.Option(False, "--files-only", "-l", help="Print each matching file once."),
    explain: bool = typer.Option(False, "--explain", help="Show the score parts behind each hit."),
    context: Optional[int] = typer.Option(None, "--context", "-C", min=0, help="Lines around each hit (default: 3)."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines like `rg --json` (see README)."),
    vimgrep: bool = typer.Option(False, "--vimgrep", help="path:line:column:text lines for quickfix lists."),
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    dtype: Optional[str] = DtypeOpt,
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Search the index. Exit status: 0 hits, 1 no hits, 2 error."""
    with reported(_debug(ctx)):
        if as_json and vimgrep:
            raise UsageProblem("--json and --vimgrep cannot be combined")
        if not query.strip():
            raise UsageProblem("the query is empty")
        langs = _languages(lang)
        started = time.perf_counter()
        root = root_of(path)
        flags = dict(model=model, device=device, dtype=dtype, index_dir=index_dir, top=top, context=context,
                     mode=mode.value if mode else None)
        settings = load_settings(root, _given(flags))
        globs = list(path_glob) + _restriction(root, path)
        request = core.SearchRequest(query=query, k=settings.top, mode=settings.mode, langs=tuple(langs),
                                     path_globs=tuple(globs), kinds=tuple(k.value for k in kind),
                                     files_only=files_only)
        answer = _search(root, settings, request, explicit_model(_given(flags), root))
        for line in answer.notices:
            notice(line)
        hits, used_mode = answer.hits, answer.mode
        read_line = file_line_reader(root)
        if as_json:
            write_json(sys.stdout, json_messages(hits, query, used_mode, time.perf_counter() - started,
                                                 explain=explain, read_line=read_line))
        elif vimgrep:
            for line in vimgrep_lines(hits, query, read_line):
                sys.stdout.write(line + "\n")
        else:
            render_human(_out(), hits, query, context=settings.context, explain=explain, files_only=files_only,
                         read_line=read_line)
    raise typer.Exit(EXIT_HITS if hits else EXIT_NO_HITS)


def _languages(names: list[str]) -> list[str]:
    """The language names that --lang values mean (aliases and case accepted); unknown ones are errors."""
    from indexer.languages import canonical_language, language_names

    chosen = []
    for name in names:
        language = canonical_language(name)
        if language is None:
            raise UsageProblem(f"--lang {name!r} is not a language codesearch knows; use one of "
                               f"{', '.join(language_names())} (or an alias such as py, golang, c++)")
        chosen.append(language)
    return chosen


def _restriction(root: Path, path: Path | None) -> list[str]:
    """A glob limiting hits to PATH when PATH lies inside the repository rather than being its root."""
    if path is None:
        return []
    rel = path.resolve().relative_to(root).as_posix()
    if rel == ".":
        return []
    return [f"{rel}/**" if path.is_dir() else rel]


def _search(root: Path, settings: Settings, request: core.SearchRequest, model_chosen: bool) -> core.Answer:
    """The answer of the index's server when one runs (the same answer, with the encoder warm), else of
    an in-process search."""
    from codesearch.client import remote_search
    from indexer.index import open_index

    index_dir = _index_folder(settings, root)
    answer = remote_search(index_dir, request, settings.model if model_chosen else None)
    if answer is not None:
        return answer
    index = open_index(index_dir)
    encoder, unavailable = core.load_query_encoder(index, settings, model_chosen, request.mode, one_query=True)
    return core.search(index, request, encoder, unavailable, root)


def _search_encoder(index, settings: Settings, model_chosen: bool):
    """The encoder for evaluating `index` (many queries: the torch encoder) and the mode that is possible
    with it (a notice when lower)."""
    encoder, unavailable = core.load_query_encoder(index, settings, model_chosen, settings.mode)
    mode, notices = core.usable_mode(index, settings.mode, encoder, unavailable)
    for line in notices:
        notice(line)
    return encoder, mode


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    queries: Path = typer.Argument(..., help="JSON Lines of {\"query\": ..., \"relevant\": [path or path:start-end]}."),
    path: Optional[Path] = typer.Argument(None, help="A path in the indexed repository (default: the current one)."),
    mode: Optional[Mode] = ModeOpt,
    per_query: bool = typer.Option(False, "--per-query", help="Add one row per query."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: mode, metrics and per-query records."),
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    dtype: Optional[str] = DtypeOpt,
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Measure search quality on labelled queries: NDCG@10, MRR@10 and recall@1/5/10 for files and chunks."""
    with reported(_debug(ctx)):
        from indexer.evaluate import evaluate as evaluate_queries, load_queries
        from indexer.search import SearchOptions
        from indexer.index import open_index

        labelled = load_queries(queries)
        root = root_of(path)
        flags = _given(dict(model=model, device=device, dtype=dtype, index_dir=index_dir,
                            mode=mode.value if mode else None))
        settings = load_settings(root, flags)
        index = open_index(_index_folder(settings, root))
        encoder, used_mode = _search_encoder(index, settings, explicit_model(flags, root))
        report = evaluate_queries(index, labelled, encoder, SearchOptions(mode=used_mode, root=str(root)))
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
        else:
            reports.print_eval(_out(), report, per_query=per_query)


@app.command()
def status(
    ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="A path in the repository (default: the current one)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Show the index location and state: missing, corrupt, stale or current. Exit 0 readable, 1 missing, 2 corrupt."""
    with reported(_debug(ctx)):
        from codesearch.client import server_info
        from indexer.state import IndexState, index_status

        root = root_of(path)
        settings = load_settings(root, _given(dict(index_dir=index_dir)))
        where = _index_folder(settings, root)
        state = index_status(root, where)
        server = server_info(where)
        if as_json:
            reports.write_status_json(sys.stdout, state, root, where, server)
        else:
            reports.print_status(_out(), state, root, where, server)
        code = {IndexState.MISSING: EXIT_NO_HITS, IndexState.CORRUPT: EXIT_ERROR}.get(state.state, EXIT_HITS)
    raise typer.Exit(code)


def _index_folder(settings: Settings, root: Path) -> Path:
    """The index folder of a repository, refused when it holds a symlink (`index` checks it itself)."""
    from indexer.confined import refuse_symlinks

    where = settings.index_path(root)
    refuse_symlinks(where)
    return where


@app.command()
def serve(
    ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="A path in the indexed repository (default: the current one)."),
    watch: bool = typer.Option(False, "--watch", help="Reindex as files change (debounced, incremental)."),
    daemon: bool = typer.Option(False, "--daemon", help="Run in the background, socket only (no stdio)."),
    stop: bool = typer.Option(False, "--stop", help="Stop the server of this index."),
    detached: bool = typer.Option(False, "--detached", hidden=True, help="Serve the socket only (what --daemon runs)."),
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    dtype: Optional[str] = DtypeOpt,
    index_dir: Optional[Path] = IndexDirOpt,
) -> None:
    """Serve the index to editors and agents with the encoder loaded once: MCP on stdin/stdout and JSON
    Lines on the index's socket, which `codesearch search` then uses. Ends on stdin EOF, SIGTERM or --stop."""
    with reported(_debug(ctx)):
        from codesearch import serve as server
        from codesearch.service import IndexService, quiet_openmp

        quiet_openmp()
        from indexer.errors import IndexMissing
        from indexer.store import DB_NAME

        root = root_of(path)
        flags = _given(dict(model=model, device=device, dtype=dtype, index_dir=index_dir))
        settings = load_settings(root, flags)
        where = _index_folder(settings, root)
        if stop:
            info = server.stop(where)
            if info is None:
                notice(f"no server runs for {where}")
                raise typer.Exit(EXIT_NO_HITS)
            _out().print(f"stopped the server of {escape(info['root'])} (pid {info['pid']})")
            return
        if not (where / DB_NAME).is_file():
            raise IndexMissing(f"no index at {where} (run `codesearch index` first)")
        if daemon:
            info = server.start_daemon(root, where, flags, watch)
            _out().print(f"serving {escape(str(root))} (pid {info['pid']}); stop it with `codesearch serve --stop`")
            return
        with server.server_lock(where):
            service = IndexService(root, settings, explicit_model(flags, root))
            server.run(service, stdio=not detached, watch=watch)


def _given(flags: dict) -> dict:
    """Flags as load_settings wants them: paths as strings, unset ones left as None."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()}


def main() -> None:
    """Console-script entry point."""
    app(prog_name="codesearch")
