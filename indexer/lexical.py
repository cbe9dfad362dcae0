"""Code-aware tokens for the SQLite FTS5 lexical index: identifiers kept whole and split into parts.

The store creates `chunks_fts` from FTS_COLUMNS and FTS_TOKENIZE and fills each row with fts_row(chunk);
the search layer turns queries into FTS5 MATCH expressions with the same tokenizer.
"""
from __future__ import annotations

import re
from typing import Sequence

from indexer.types import Chunk

FTS_COLUMNS = ("path", "symbol", "body")
# BM25 weight of each column, in FTS_COLUMNS order. A query word in the file's path (its directories and
# name, shared by every chunk of the file) or in the chunk's symbol name says more about what the code is
# than one in its body: a file is named for what it holds. Applied at query time (indexer.bm25), so a
# change needs no reindex. (2, 4, 1) before; (10, 5, 1) measured 0.877 -> 0.881 on the dev split
# (BENCHMARKS.md), path weights 8-15 within 0.001 of each other.
FTS_WEIGHTS = (10.0, 5.0, 1.0)
# We pre-tokenise ourselves and emit space-separated lower-case tokens; "_" stays inside a token so that
# a whole snake_case identifier survives FTS5's own tokenizer.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2 tokenchars '_'"

# Identifiers in any script (`naïve_bayes`, `größe`), and runs of digits.
_IDENT = re.compile(r"[^\W\d]\w*|\d+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def split_identifier(ident: str) -> list[str]:
    """`getHTTPResponse` -> [get, http, response]; `snake_case` -> [snake, case]; lower-cased."""
    parts: list[str] = []
    for piece in ident.split("_"):
        if piece.isascii():
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
        elif piece:
            # Case boundaries are split in ASCII only: another script's word stays whole rather than torn.
            parts.append(piece.lower())
    return parts


def code_tokens(text: str) -> list[str]:
    """Each identifier whole (lower-cased), followed by its parts when it has more than one."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        whole = ident.lower().strip("_")
        if not whole:
            continue
        out.append(whole)
        parts = split_identifier(ident)
        if len(parts) > 1:
            out.extend(parts)
    return out


def fts_row(chunk: Chunk) -> tuple[str, ...]:
    """The FTS5 column values for one chunk, in FTS_COLUMNS order."""
    return (
        " ".join(code_tokens(chunk.path.replace("/", " ").replace(".", " "))),
        " ".join(code_tokens(" ".join(s for s in (chunk.parent, chunk.symbol) if s))),
        " ".join(code_tokens(chunk.text)),
    )


def match_expression(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression that ORs the (already code-tokenised) terms; None when there are none."""
    quoted = [f'"{t}"' for t in terms if t]
    return " OR ".join(quoted) if quoted else None
