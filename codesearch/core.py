"""The one search path of every front end (the CLI, the server's socket and its MCP tools).

A front end turns its input into a `SearchRequest`, has the query encoder loaded (`load_query_encoder`)
and calls `search`, which decides the mode the index and the encoder allow (with the same notices and
errors everywhere) and asks `indexer.search.search`. Front ends add transport, never ranking.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from codesearch import encoders
from codesearch.errors import UsageProblem
from indexer.types import Hit

MODES = ("hybrid", "semantic", "lexical")
KINDS = ("file", "function", "method", "class", "section")
_NO_VECTORS = "run `codesearch index --model FOLDER_OR_ID` with a model available to add them"


@dataclass(frozen=True)
class SearchRequest:
    query: str
    k: int = 10
    mode: str = "hybrid"
    langs: tuple[str, ...] = ()
    path_globs: tuple[str, ...] = ()  # fnmatch globs on the relative path; "!glob" excludes
    kinds: tuple[str, ...] = ()
    files_only: bool = False

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise UsageProblem("the query is empty")
        if self.mode not in MODES:
            raise UsageProblem(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.k < 1:
            raise UsageProblem(f"k must be at least 1, not {self.k}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise UsageProblem(f"kind must be one of {', '.join(KINDS)}, not {unknown[0]!r}")

    def params(self) -> dict[str, Any]:
        """The request under the argument names of the MCP `search` tool and the socket."""
        return {"query": self.query, "k": self.k, "mode": self.mode, "languages": list(self.langs),
                "paths": list(self.path_globs), "kind": list(self.kinds), "files_only": self.files_only}


def request_from_params(params: Mapping[str, Any]) -> SearchRequest:
    """A SearchRequest from the MCP/socket argument names; `kind` may be one kind or a list of them."""
    known = {"query", "k", "mode", "languages", "paths", "kind", "files_only"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise UsageProblem(f"unknown search argument {unknown[0]!r} (known: {', '.join(sorted(known))})")
    kind = params.get("kind") or ()
    try:
        return SearchRequest(
            query=str(params["query"]), k=int(_given(params, "k", 10)), mode=str(params.get("mode") or "hybrid"),
            langs=tuple(map(str, params.get("languages") or ())), path_globs=tuple(map(str, params.get("paths") or ())),
            kinds=(kind,) if isinstance(kind, str) else tuple(map(str, kind)),
            files_only=bool(params.get("files_only", False)),
        )
    except KeyError:
        raise UsageProblem("search needs a query") from None
    except (TypeError, ValueError) as exc:
        raise UsageProblem(f"bad search arguments: {exc}") from None


def _given(params: Mapping[str, Any], name: str, default: Any) -> Any:
    value = params.get(name)
    return default if value is None else value


@dataclass
class Answer:
    hits: list[Hit]
    mode: str  # the mode actually used ("lexical" after a fallback)
    notices: list[str] = field(default_factory=list)  # one line each, for stderr (or the MCP result)


def has_vectors(index) -> bool:
    return index.vectors is not None and index.vectors.ntotal > 0


def query_model(index, settings, model_chosen: bool) -> str:
    """The model that must embed queries: the index's own, unless the user chose one."""
    return settings.model if model_chosen else index.meta.get("model_id") or settings.model


def load_query_encoder(index, settings, model_chosen: bool, mode: str = "hybrid", *, one_query: bool = False,
                       queries: bool = False):
    """(encoder or None, why it is unavailable); loads nothing when `mode` or the index cannot use one.
    `one_query`: a process that embeds a single query (the CLI) gets the torch-free encoder; `queries`: a
    server gets the torch one, in float32 unless asked otherwise (encoders.load_if_available)."""
    if mode == "lexical" or not has_vectors(index):
        return None, ""
    return encoders.load_if_available(query_model(index, settings, model_chosen), settings.device, settings.dtype,
                                      settings.batch_tokens, one_query=one_query, queries=queries)


def _one_faiss_thread() -> None:
    """FAISS and torch each bring an OpenMP thread pool; when both run for a query, the idle pool's
    spinning threads can take the CPU from the other. FAISS searches an IVF index only (a flat one is
    scanned by indexer.vectors.score_query, on torch's pool where torch runs), and one query needs no
    more than one thread. Measured when flat indexes still went through FAISS: in one run on a busy
    2-core machine this took a warm hybrid query at 100k chunks from 2.3 s to 0.22 s p50; in another,
    dominated by torch's own threads, it changed little (BENCHMARKS.md, Latency). OpenMP keeps the
    setting per thread: set by every thread that searches."""
    import faiss

    faiss.omp_set_num_threads(1)


def usable_mode(index, mode: str, encoder, unavailable: str) -> tuple[str, list[str]]:
    """The mode that is possible with this index and encoder, and the notices saying why it is lower.
    Raises UsageProblem when semantic search was asked for and is impossible."""
    if mode == "lexical":
        return mode, []
    if not has_vectors(index):
        if mode == "semantic":
            raise UsageProblem(f"--mode semantic needs vectors, but the index was built lexical-only; {_NO_VECTORS}")
        return "lexical", [f"searching lexically: the index has no vectors (built lexical-only); {_NO_VECTORS}"]
    if encoder is None:
        if mode == "semantic":
            raise UsageProblem(f"--mode semantic needs the model: {unavailable}")
        return "lexical", [f"searching lexically: {unavailable}"]
    return mode, []


def search(index, request: SearchRequest, encoder, unavailable: str, root: Path) -> Answer:
    """Answer one request against an open index (indexer.store.open_index)."""
    from indexer.search import SearchOptions, search as search_index

    mode, notices = usable_mode(index, request.mode, encoder, unavailable)
    if mode != "lexical":
        _one_faiss_thread()
    options = SearchOptions(mode=mode, k=request.k, langs=request.langs, path_globs=request.path_globs,
                            kinds=request.kinds, files_only=request.files_only, root=str(root))
    result = search_index(index, request.query, encoder if mode != "lexical" else None, options)
    return Answer(result.hits, result.mode, notices)
