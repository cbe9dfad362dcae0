"""The records that flow between the walker, the chunker, the store and the search layer."""
from __future__ import annotations

from dataclasses import dataclass, field

# Chunk kinds. "file" chunks hold a whole file (or a top-level-aligned piece of one that does not fit
# the model's context); the others are definitions found by tree-sitter, or text sections.
KINDS = ("file", "function", "method", "class", "section")


@dataclass(frozen=True)
class SourceFile:
    """A file the walker decided belongs to the project."""

    path: str  # POSIX path relative to the repository root
    abs_path: str
    size: int
    mtime_ns: int
    language: str | None  # tree-sitter language name ("python", "tsx", ...) or a text kind ("markdown")


@dataclass(frozen=True)
class Chunk:
    """A span of one file that is embedded and searched as a unit."""

    path: str
    kind: str  # one of KINDS
    symbol: str | None  # "parse_config", "HttpClient.send"; None for whole-file chunks
    parent: str | None  # enclosing class/impl/module symbol, if any
    language: str | None
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start_byte: int
    end_byte: int  # exclusive
    text: str  # the source text of the span
    embed_text: str  # what the encoder sees: a short header (path, symbol) + text
    content_hash: str  # hash of embed_text: the embedding-cache key, with the model id
    tokens: int = 0  # token count of embed_text by the real tokenizer (0 when no tokenizer)


@dataclass
class Hit:
    """One search result."""

    chunk_id: int
    path: str
    kind: str
    symbol: str | None
    parent: str | None
    language: str | None
    start_line: int
    end_line: int
    score: float
    text: str
    # The score parts behind the hit ("semantic", "lexical", "rrf", "definition_boost", ...),
    # shown by --explain.
    explain: dict[str, float] = field(default_factory=dict)
    stale: bool = False  # the file changed on disk since it was indexed
