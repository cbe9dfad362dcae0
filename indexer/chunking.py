"""Cut one file into chunks at two levels: the whole file, and each definition in it.

The *file* chunk holds the whole file when it fits the model's context; otherwise the file is split at
top-level syntax boundaries (lines for text, or when parsing fails) into pieces that fit. *Definition*
chunks hold each function, method, class, struct, impl, interface, trait or module found by
tree-sitter, with its leading comments; Markdown gets a *section* chunk per heading. Every chunk's
`embed_text` starts with a header (path, symbol) so that its vector knows where it lives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import xxhash
from tree_sitter import Node

from indexer.languages import (LANGUAGES, definition_kind, definition_name, elixir_kind, language_for_path,
                               lua_assigned_name, mask_newer_syntax, parser_for)
from indexer.types import Chunk, SourceFile

# Bump when chunk boundaries or headers change: stored chunks then no longer match a fresh build.
# 4: `.h` files written in C++ are parsed as C++ (indexer.languages.header_language); 5: a C++
# specialization is named for its template (`formatter`, not `formatter<bytes>`); 6: a Rust impl for
# its type without arguments (`Vec`, not `Vec<T>`), and no C/C++ name made of misparsed code; 7: Lua
# functions assigned to a name (`M.run = function ... end`); 8: Kotlin 2 syntax masked for the grammar
# (indexer.languages.mask_newer_syntax); 9: ... and Kotlin bodies written on one line; 10: a file chunk
# is embedded without its license header (`without_license`); 11: ... but for Markdown and text, whose
# "#" lines are headings; 12: Java annotation types (`@interface`) and C/C++ enums are definitions.
CHUNKER_VERSION = 12

TokenCounter = Callable[[Sequence[str]], list[int]]


def estimate_tokens(texts: Sequence[str]) -> list[int]:
    """Token counts when no tokenizer is at hand (lexical-only index): code averages a little over
    three bytes per BPE token, so bytes/3 errs on the side of smaller pieces."""
    return [len(t.encode("utf-8")) // 3 + 2 for t in texts]


def content_hash(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


# Text whose lines starting with "#" are headings or prose, not comments.
_PROSE = frozenset({"markdown", "text", None})


def embed_text(path: str, symbol: str | None, text: str) -> str:
    """What the encoder sees: a short header saying where the code lives, then the code; for a code or
    config file's text, without the license comment it opens with (`without_license`)."""
    if symbol is None and language_for_path(path) not in _PROSE:
        text = without_license(text)
    return f"path: {path}\n" + (f"symbol: {symbol}\n" if symbol else "") + "\n" + text


# A comment that opens a file (after a shebang, `<?php` or a blank line): `/* ... */`, `{- ... -}`, or
# lines of `//`, `#`, `--`, `;`, `%` comments. C's `#include`, `#define`, `#if` are code, not comments.
_OPENING_LINES = re.compile(r"(?:[ \t]*(?:#!.*|<\?php.*|\ufeff)?\r?\n)*")
_BLOCK_COMMENT = re.compile(r"[ \t]*(?:/\*.*?\*/|\{-.*?-\}|\(\*.*?\*\)|--\[\[.*?\]\])[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_LINE_COMMENTS = re.compile(
    r"(?:[ \t]*(?://|#(?!include|define|if|import|pragma|undef|error|elif|else|endif|line|!)|--|;|%).*(?:\r?\n|\Z))+")
_BLANK_LINES = re.compile(r"(?:[ \t]*\r?\n)*")
# What a license header says, and a code comment hardly ever does.
_LICENSE = re.compile(r"(?i)copyright|\(c\)\s*\d{4}|licen[cs]ed?\b|spdx-license|permission is hereby granted"
                      r"|all rights reserved|without warranty")
LICENSE_SCAN = 8192  # characters: a license header is at the top, and a file is not scanned further


def without_license(text: str) -> str:
    """`text` without the license or copyright comments at its top: boilerplate the same in every file
    of a project, it tells an encoder nothing about the code and takes up its window (a 256-token model
    read little else of gson's, libuv's or monolog's files). What comes before them (a shebang, `<?php`)
    and the comments after them (a package's doc comment) stay. Only what is embedded changes: the
    chunk's text, shown and matched lexically, is the file's own."""
    head = text[:LICENSE_SCAN]
    at = _OPENING_LINES.match(head).end()
    kept, removed = head[:at], False
    while at < len(head):
        comment = _BLOCK_COMMENT.match(head, at) or _LINE_COMMENTS.match(head, at)
        if comment is None or not _LICENSE.search(comment.group()):
            break
        at = _BLANK_LINES.match(head, comment.end()).end()
        removed = True
    return kept + text[at:] if removed else text


@dataclass(frozen=True)
class Definition:
    name: str
    symbol: str  # qualified: "Circle.area"
    parent: str | None
    kind: str  # "class" | "function" | "method"
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int


@dataclass
class ChunkedFile:
    chunks: list[Chunk]
    parse_failed: bool = False  # syntax errors and no definition recovered: chunked by lines


def chunk_file(source: SourceFile, data: bytes, count_tokens: TokenCounter, max_tokens: int) -> ChunkedFile:
    """All chunks of one file: file chunk(s) first, then definitions in source order."""
    language = source.language
    parser = parser_for(language) if language in LANGUAGES else None
    parse_failed = False
    definitions: list[Definition] = []
    top_level: list[int] | None = None  # byte offsets where top-level syntax nodes start
    if parser is not None:
        tree = parser.parse(data)
        # tree-sitter recovers from syntax errors (often just macros or syntax newer than the grammar):
        # the definitions outside the damaged regions are kept, and only a file without any falls back
        # to lines. Dropping every definition of such a file cost C, C++ and Kotlin repositories most
        # of their definition chunks (BENCHMARKS.md, search quality).
        definitions = find_definitions(language, tree.root_node)
        masked = mask_newer_syntax(language, data) if tree.root_node.has_error else None
        if masked is not None:
            # Syntax newer than the grammar (indexer.languages): the masked text has the same offsets,
            # so its tree cuts the real file; kept when it parses better.
            masked_tree = parser.parse(masked)
            masked_definitions = find_definitions(language, masked_tree.root_node)
            if len(masked_definitions) > len(definitions) or (
                    not masked_tree.root_node.has_error and len(masked_definitions) == len(definitions)):
                tree, definitions = masked_tree, masked_definitions
        if tree.root_node.has_error and not definitions:
            parse_failed = True
        else:
            top_level = [child.start_byte for child in tree.root_node.children]
    elif language == "markdown":
        definitions = markdown_sections(data)
        top_level = [d.start_byte for d in definitions]

    builder = _ChunkBuilder(source, data, count_tokens, max_tokens)
    chunks = builder.whole_file(top_level, definitions)
    chunks += builder.definitions([d for d in definitions if not _covers_file(d, data)])
    return ChunkedFile(chunks, parse_failed)


def _covers_file(definition: Definition, data: bytes) -> bool:
    """A definition spanning the whole file would only repeat the file chunk."""
    return not data[: definition.start_byte].strip() and not data[definition.end_byte :].strip()


def find_definitions(language: str, root: Node) -> list[Definition]:
    """Definitions in source order, each with its symbol qualified by the enclosing definitions."""
    found: list[Definition] = []
    stack: list[tuple[Node, str | None, str | None]] = [(root, None, None)]  # node, parent symbol, its kind
    while stack:
        node, parent, parent_kind = stack.pop()
        child_parent, child_parent_kind = parent, parent_kind
        kind = definition_kind(language, node)
        named = definition_name(language, node) if kind else None
        if named is not None:
            name, receiver = named
            if receiver is not None and (parent is None or parent_kind == "container"):
                # Go receivers, Lua tables, C++ `Matrix::at` defined outside its class (in a namespace too)
                owner = f"{parent}.{receiver}" if parent else receiver
            else:
                owner = parent
            symbol = f"{owner}.{name}" if owner else name
            if kind == "container":
                child_parent, child_parent_kind = symbol, "container"
            else:
                if language == "elixir":
                    kind = elixir_kind(node)
                if kind == "function" and (receiver is not None or parent_kind == "class"):
                    kind = "method"
                start = _with_leading_comments(_outermost(node))
                found.append(
                    Definition(
                        name, symbol, owner, kind, start.start_byte, node.end_byte, start.start_point.row + 1,
                        _end_line(node),
                    )
                )
                child_parent, child_parent_kind = symbol, "class" if kind == "class" else "function"
        for child in reversed(node.named_children):
            stack.append((child, child_parent, child_parent_kind))
    found.sort(key=lambda d: (d.start_byte, -d.end_byte))
    return _merge_adjacent_equations(found)


def _outermost(node: Node) -> Node:
    """Decorators, `export`, JS `const f = () => ...` and Go `type T struct` belong to their definition."""
    parent = node.parent
    if parent is not None and parent.type in ("decorated_definition", "export_statement"):
        return parent
    single_child_wrappers = {"variable_declarator": "declaration", "type_spec": "type_declaration"}
    wrapper = single_child_wrappers.get(node.type)
    if wrapper and parent is not None and wrapper in parent.type and len(parent.named_children) == 1:
        return parent
    if node.type == "function_definition" and parent is not None and len(parent.named_children) == 1 \
            and lua_assigned_name(node) is not None:
        # Lua `M.run = function ... end`, `local run = function ... end`: the name belongs to the chunk
        statement = parent.parent
        return statement.parent if statement.parent is not None and statement.parent.type == "variable_declaration" else statement
    return node


def _with_leading_comments(node: Node) -> Node:
    """Doc comments directly above a definition (no blank line between) describe it."""
    first = node
    sibling = node.prev_named_sibling
    while sibling is not None and "comment" in sibling.type and _end_line(sibling) >= first.start_point.row:
        previous = sibling.prev_sibling
        if previous is not None and previous.end_point.row == sibling.start_point.row:
            break  # a trailing comment of the previous statement, on its line
        first = sibling
        sibling = sibling.prev_named_sibling
    return first


def _end_line(node: Node) -> int:
    row, column = node.end_point
    return row if column == 0 and row > node.start_point.row else row + 1


def _merge_adjacent_equations(definitions: list[Definition]) -> list[Definition]:
    """Haskell-style equations (and a signature before them) of one name become one definition."""
    merged: list[Definition] = []
    for d in definitions:
        last = merged[-1] if merged else None
        if last and last.symbol == d.symbol and last.kind == d.kind and last.end_byte <= d.start_byte:
            merged[-1] = Definition(
                last.name, last.symbol, last.parent, last.kind, last.start_byte, d.end_byte, last.start_line,
                d.end_line,
            )
        else:
            merged.append(d)
    return merged


_HEADING = re.compile(rb"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def markdown_sections(data: bytes) -> list[Definition]:
    """One section per ATX heading, up to the next heading; the parent is the enclosing heading."""
    headings = [m for m in _HEADING.finditer(data) if not _inside_code_fence(data, m.start())]
    sections: list[Definition] = []
    open_titles: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
    for i, match in enumerate(headings):
        level = len(match.group(1))
        title = match.group(2).decode("utf-8", "replace")
        while open_titles and open_titles[-1][0] >= level:
            open_titles.pop()
        parent = open_titles[-1][1] if open_titles else None
        open_titles.append((level, title))
        start = match.start()
        end = headings[i + 1].start() if i + 1 < len(headings) else len(data)
        body = data[start:end].rstrip()
        start_line = data.count(b"\n", 0, start) + 1
        sections.append(
            Definition(title, title, parent, "section", start, start + len(body), start_line,
                       start_line + body.count(b"\n"))
        )
    return sections if len(sections) > 1 else []


def _inside_code_fence(data: bytes, offset: int) -> bool:
    return len(re.findall(rb"^```", data[:offset], re.MULTILINE)) % 2 == 1


class _ChunkBuilder:
    """Makes Chunk records for byte spans of one file, splitting spans that do not fit the model."""

    def __init__(self, source: SourceFile, data: bytes, count_tokens: TokenCounter, max_tokens: int):
        self.source = source
        self.data = data
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.line_starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]

    def whole_file(self, top_level: list[int] | None, definitions: list[Definition]) -> list[Chunk]:
        if not self.data.strip():
            return []
        levels = [top_level or [], [d.start_byte for d in definitions], self.line_starts]
        spans = self._fit([(0, len(self.data))], levels, symbol=None)
        return [self._chunk(start, end, "file", None, None, tokens) for start, end, tokens in spans]

    def definitions(self, definitions: list[Definition]) -> list[Chunk]:
        chunks: list[Chunk] = []
        headers = [self._header(d.symbol) for d in definitions]
        counts = self.count_tokens([h + self._text(d.start_byte, d.end_byte) for h, d in zip(headers, definitions)])
        inner_starts = [d.start_byte for d in definitions]  # methods split a class that is too big
        for d, tokens in zip(definitions, counts):
            if tokens <= self.max_tokens:
                spans = [(d.start_byte, d.end_byte, tokens)]
            else:
                spans = self._fit([(d.start_byte, d.end_byte)], [inner_starts, self.line_starts], symbol=d.symbol)
            chunks += [self._chunk(s, e, d.kind, d.symbol, d.parent, t) for s, e, t in spans]
        return chunks

    def _fit(self, spans: list[tuple[int, int]], levels: list[list[int]], symbol: str | None) -> list[tuple]:
        """Split each span that does not fit max_tokens into the fewest pieces that do, cutting at the
        first level of boundaries (top-level nodes, then definitions, then lines) that has cuts inside it."""
        header = self._header(symbol)
        counts = self.count_tokens([header + self._text(s, e) for s, e in spans])
        fitted: list[tuple[int, int, int]] = []
        for (start, end), tokens in zip(spans, counts):
            if tokens <= self.max_tokens:
                fitted.append((start, end, tokens))
                continue
            cuts = next((c for c in (sorted({b for b in level if start < b < end}) for level in levels) if c), [])
            if not cuts:
                fitted.append((start, end, tokens))  # one enormous line: the encoder truncates it
                continue
            units = list(zip([start] + cuts, cuts + [end]))
            pieces = self._pack(units, header)
            if len(pieces) == 1:  # the units' counts summed under budget, the whole did not: halve it
                middle = len(units) // 2
                pieces = [(start, units[middle][0]), (units[middle][0], end)]
            fitted += self._fit(pieces, levels, symbol)
        return fitted

    def _pack(self, units: list[tuple[int, int]], header: str) -> list[tuple[int, int]]:
        """Greedily join consecutive units while their summed token counts fit."""
        budget = self.max_tokens - self.count_tokens([header])[0]
        counts = self.count_tokens([self._text(s, e) for s, e in units])
        packed: list[tuple[int, int]] = []
        start, used = units[0][0], 0
        for (unit_start, unit_end), tokens in zip(units, counts):
            if used and used + tokens > budget:
                packed.append((start, unit_start))
                start, used = unit_start, 0
            used += tokens
        packed.append((start, units[-1][1]))
        return packed

    def _text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def _header(self, symbol: str | None) -> str:
        return embed_text(self.source.path, symbol, "")

    def _line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    def _chunk(self, start: int, end: int, kind: str, symbol: str | None, parent: str | None, tokens: int) -> Chunk:
        text = self._text(start, end)
        embedded = embed_text(self.source.path, symbol, text)
        last = max(start, end - 1)
        return Chunk(
            path=self.source.path,
            kind=kind,
            symbol=symbol,
            parent=parent,
            language=self.source.language,
            start_line=self._line_of(start),
            end_line=self._line_of(last),
            start_byte=start,
            end_byte=end,
            text=text,
            embed_text=embedded,
            content_hash=content_hash(embedded.encode("utf-8")),
            tokens=tokens,
        )
