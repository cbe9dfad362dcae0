"""Chunking: the grammars load, definitions are found per language, and spans and sizes are right."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.chunking import chunk_file, embed_text, estimate_tokens, without_license
from indexer.encoder import FakeEncoder
from indexer.languages import LANGUAGES, language_for_path, mask_newer_syntax, parser_for
from indexer.types import SourceFile
from tests.conftest import FIXTURE_REPO

SRC = FIXTURE_REPO / "src"

# What a reader of each fixture file sees defined in it: (kind, symbol) pairs.
EXPECTED_DEFINITIONS = {
    "geometry.py": {("class", "Circle"), ("method", "Circle.area"), ("function", "parse_config")},
    "server.js": {("class", "Router"), ("method", "Router.handleRequest"), ("function", "startServer"),
                  ("function", "retryWithBackoff")},
    "cache.ts": {("class", "CacheOptions"), ("class", "LruCache"), ("method", "LruCache.get"),
                 ("function", "evictOldest")},
    "Button.tsx": {("function", "ClickCounter"), ("class", "Panel"), ("method", "Panel.render")},
    "queue.go": {("class", "Queue"), ("class", "Worker"), ("method", "Queue.Push"), ("function", "NewQueue")},
    "tokenizer.rs": {("class", "Tokenizer"), ("class", "Lexer"), ("method", "Tokenizer.next_token"),
                     ("class", "Token"), ("function", "count_words")},
    "BankAccount.java": {("class", "BankAccount"), ("method", "BankAccount.withdraw"),
                         ("class", "BankAccount.Auditor")},
    "hashmap.c": {("class", "entry"), ("function", "hash_string"), ("function", "map_lookup")},
    "matrix.cpp": {("class", "linalg.Matrix"), ("method", "linalg.Matrix.at"), ("function", "linalg.multiply")},
    "Inventory.cs": {("class", "Warehouse.IStockSource"), ("class", "Warehouse.Inventory"),
                     ("method", "Warehouse.Inventory.Restock")},
    "mailer.rb": {("class", "Notifications.Mailer"), ("method", "Notifications.Mailer.deliver"),
                  ("method", "Notifications.default_sender")},
    "UserRepository.php": {("class", "Repository"), ("class", "UserRepository"),
                           ("method", "UserRepository.find"), ("function", "slugify")},
    "Scheduler.kt": {("class", "Task"), ("class", "Scheduler"), ("method", "Scheduler.schedule"),
                     ("class", "Clock"), ("function", "formatDuration")},
    "Temperature.swift": {("class", "Convertible"), ("class", "Celsius"), ("method", "Celsius.toKelvin"),
                          ("class", "Thermostat"), ("function", "fahrenheitToCelsius")},
    "Ledger.scala": {("class", "Entry"), ("class", "Credit"), ("class", "Ledger"), ("method", "Ledger.append"),
                     ("method", "Ledger.balance")},
    "inventory.lua": {("method", "Inventory.new"), ("method", "Inventory.add"), ("function", "total_weight")},
    "deploy.sh": {("function", "build_site"), ("function", "upload_files")},
    "Parser.hs": {("class", "Expr"), ("class", "Pretty"), ("function", "evaluate"), ("class", "Pretty Expr")},
    "rate_limiter.ex": {("method", "RateLimiter.allow?"), ("method", "RateLimiter.refill")},
    "ring_buffer.zig": {("class", "RingBuffer"), ("method", "RingBuffer.push"), ("function", "checksum")},
}


def chunks_of(path: Path, max_tokens: int = 8192, counter=None):
    data = path.read_bytes()
    rel = path.relative_to(FIXTURE_REPO).as_posix() if path.is_relative_to(FIXTURE_REPO) else path.name
    source = SourceFile(rel, str(path), len(data), 0, language_for_path(rel))
    return data, chunk_file(source, data, counter or FakeEncoder().count_tokens, max_tokens)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_grammar_loads_and_parses(language):
    tree = parser_for(language).parse(b"x")
    assert tree.root_node is not None


def test_the_fixture_covers_every_language():
    covered = {language_for_path(name) for name in EXPECTED_DEFINITIONS}
    assert covered == set(LANGUAGES)


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFINITIONS))
def test_definitions_per_language(name):
    _, chunked = chunks_of(SRC / name)
    assert not chunked.parse_failed
    found = {(c.kind, c.symbol) for c in chunked.chunks if c.kind != "file"}
    missing = EXPECTED_DEFINITIONS[name] - found
    assert not missing, f"{name}: not found {missing}; found {found}"
    files = [c for c in chunked.chunks if c.kind == "file"]
    assert len(files) == 1 and files[0].symbol is None


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFINITIONS))
def test_chunk_spans_match_the_file(name):
    data, chunked = chunks_of(SRC / name)
    lines = data.split(b"\n")
    for chunk in chunked.chunks:
        assert data[chunk.start_byte:chunk.end_byte].decode() == chunk.text
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        assert chunk.start_line == data[:chunk.start_byte].count(b"\n") + 1
        assert chunk.end_line == data[:chunk.end_byte].rstrip(b"\n").count(b"\n") + 1
        assert chunk.embed_text.startswith(f"path: src/{name}\n")
        assert chunk.embed_text.endswith(chunk.text)
        if chunk.symbol:
            assert f"symbol: {chunk.symbol}\n" in chunk.embed_text
        assert chunk.language == language_for_path(name)


def test_methods_carry_their_parent_and_doc_comments():
    _, chunked = chunks_of(SRC / "queue.go")
    push = next(c for c in chunked.chunks if c.symbol == "Queue.Push")
    assert push.parent == "Queue" and push.kind == "method"
    assert push.text.startswith("// Push adds a job")
    _, chunked = chunks_of(SRC / "geometry.py")
    area = next(c for c in chunked.chunks if c.symbol == "Circle.area")
    assert area.parent == "Circle" and area.start_line == 11 and area.end_line == 12


def test_unparseable_file_falls_back_to_lines():
    data, chunked = chunks_of(SRC / "broken.py")
    assert chunked.parse_failed
    assert [c.kind for c in chunked.chunks] == ["file"]
    assert chunked.chunks[0].text == data.decode()


def test_large_file_is_split_at_top_level_definitions_into_pieces_that_fit():
    encoder = FakeEncoder()
    # 60 tokens: more than the largest top-level item of the file, far less than the whole file.
    data, chunked = chunks_of(SRC / "tokenizer.rs", max_tokens=60, counter=encoder.count_tokens)
    pieces = [c for c in chunked.chunks if c.kind == "file"]
    assert len(pieces) > 1
    assert b"".join(data[p.start_byte:p.end_byte] for p in pieces) == data  # contiguous, complete
    assert all(p.tokens <= 60 for p in pieces)
    assert all(p.tokens == encoder.count_tokens([p.embed_text])[0] for p in pieces)
    tops = {b"pub struct", b"pub trait", b"impl ", b"pub enum", b"pub fn", b"//!"}
    assert all(any(data[p.start_byte:].lstrip().startswith(t) for t in tops) for p in pieces)


def test_oversized_definition_is_split_by_lines_and_keeps_its_symbol():
    body = "".join(f"    total = total + {i}\n" for i in range(300))
    path_data = f"def accumulate():\n    total = 0\n{body}    return total\n\nprint(accumulate())\n".encode()
    source = SourceFile("big.py", "big.py", len(path_data), 0, "python")
    chunked = chunk_file(source, path_data, FakeEncoder().count_tokens, 200)
    parts = [c for c in chunked.chunks if c.symbol == "accumulate"]
    assert len(parts) > 1 and all(c.kind == "function" and c.tokens <= 200 for c in parts)
    assert parts[0].start_byte == 0 and path_data[parts[-1].end_byte - 12:parts[-1].end_byte] == b"return total"
    assert "".join(c.text for c in parts) == path_data[: parts[-1].end_byte].decode()


def test_markdown_sections_follow_headings_outside_code_fences():
    _, chunked = chunks_of(FIXTURE_REPO / "README.md")
    sections = [(c.symbol, c.parent) for c in chunked.chunks if c.kind == "section"]
    assert sections == [
        ("Fixture repository", None),
        ("Layout", "Fixture repository"),
        ("Configuration", "Fixture repository"),
        ("Retries", "Configuration"),
    ]


def test_text_files_get_a_file_chunk():
    _, chunked = chunks_of(FIXTURE_REPO / "config" / "settings.yaml")
    assert [c.kind for c in chunked.chunks] == ["file"]


def test_estimate_is_conservative_for_code():
    text = (SRC / "geometry.py").read_text()
    assert estimate_tokens([text])[0] >= FakeEncoder().count_tokens([text])[0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["def f(x):\n    return x\n", "class A:\n    def m(self):\n        pass\n", "# note é\n", "\n",
             "y = [1,\n 2]\n", "def (broken\n", "    indented = 1\n", "# Heading\n", "café = 'ü'\n"]
        ),
        max_size=30,
    ),
    st.integers(min_value=12, max_value=200),
)
def test_chunks_always_lie_inside_the_file_and_fit(pieces, max_tokens):
    data = "".join(pieces).encode()
    source = SourceFile("gen.py", "gen.py", len(data), 0, "python")
    counter = FakeEncoder().count_tokens
    chunked = chunk_file(source, data, counter, max_tokens)
    for chunk in chunked.chunks:
        assert 0 <= chunk.start_byte < chunk.end_byte <= len(data)
        assert data[chunk.start_byte:chunk.end_byte].decode() == chunk.text
        single_line = chunk.text.count("\n") <= 1
        assert chunk.tokens <= max_tokens or single_line
    files = [c for c in chunked.chunks if c.kind == "file"]
    if data.strip():
        assert b"".join(data[c.start_byte:c.end_byte] for c in files) == data


def test_a_class_too_big_for_one_chunk_is_split_between_its_methods():
    methods = "".join(
        f"    def method_{i}(self, value):\n" + "".join(f"        value = value + {j}\n" for j in range(6)) +
        "        return value\n\n"
        for i in range(12)
    )
    data = f"import os\n\n\nclass Big:\n    \"\"\"Many methods.\"\"\"\n\n{methods}".encode()
    source = SourceFile("big.py", "big.py", len(data), 0, "python")
    chunked = chunk_file(source, data, FakeEncoder().count_tokens, 150)
    method_starts = {c.start_byte for c in chunked.chunks if c.kind == "method"}
    class_start = data.index(b"class Big")
    for kind, allowed in (("file", method_starts | {class_start}), ("class", method_starts)):
        pieces = [c for c in chunked.chunks if c.kind == kind]
        assert len(pieces) > 1 and all(p.tokens <= 150 for p in pieces)
        assert all(p.start_byte in allowed for p in pieces[1:]), kind  # cut where definitions begin


def test_definitions_outside_a_syntax_error_are_kept(tmp_path):
    # C behind an unexpanded macro is a typical case: tree-sitter reports an error around the macro
    # while every other definition of the file parses. They were all dropped (file chunked by lines).
    path = tmp_path / "loop.c"
    path.write_text(
        "int uv_loop_alive(const uv_loop_t* loop) {\n  return uv__has_active_handles(loop);\n}\n\n"
        "QUEUE_FOREACH(q, &loop->handle_queue) {\n  count++;\n}\n\n"
        "int uv_run(uv_loop_t* loop, uv_run_mode mode) {\n  return uv_loop_alive(loop);\n}\n"
    )
    data, chunked = chunks_of(path)
    spans = {c.symbol: (c.start_line, c.end_line) for c in chunked.chunks if c.kind != "file"}
    assert spans["uv_loop_alive"] == (1, 3) and spans["uv_run"] == (9, 11)
    assert not chunked.parse_failed


def test_cpp_specializations_are_named_for_their_template_and_methods_for_their_class(tmp_path):
    # fmtlib: `formatter<R, Char, enable_if_t<...>>` over three lines was a symbol; a query for
    # `formatter` could not match it as a definition.
    path = tmp_path / "ranges.hpp"
    path.write_text(
        "template <> struct formatter<bytes> {\n  int parse(int ctx) { return ctx; }\n};\n"
        "template <typename R, typename Char>\nstruct formatter<R, Char,\n"
        "                 enable_if_t<is_range<R>::value>> {\n  int width;\n};\n"
        "namespace fmt {\ntemplate <typename T> class Matrix {\n  T at(int i);\n};\n"
        "template <typename T> T Matrix<T>::at(int i) { return T(); }\n"
        "bool operator<(const Matrix<int>& a, const Matrix<int>& b) { return true; }\n}\n"
    )
    _, chunked = chunks_of(path)
    symbols = [(c.kind, c.symbol, c.parent) for c in chunked.chunks if c.kind != "file"]
    assert ("class", "formatter", None) in symbols and ("method", "formatter.parse", "formatter") in symbols
    assert [s for s in symbols if s[0] == "class" and s[1] == "formatter"] == [("class", "formatter", None)] * 2
    assert ("method", "fmt.Matrix.at", "fmt.Matrix") in symbols  # defined outside its class, in a namespace
    assert ("function", "fmt.operator<", "fmt") in symbols


def test_a_rust_impl_is_named_for_its_type_without_generic_arguments(tmp_path):
    # serde: `impl<'de, E> Deserializer<'de> for MissingFieldDeserializer<E>` was "MissingFieldDeserializer<E>".
    path = tmp_path / "value.rs"
    path.write_text(
        "impl<'de, E> Deserializer<'de> for MissingFieldDeserializer<E> where E: Error {\n"
        "    fn deserialize_any(self) {}\n}\n"
        "impl Serialize for String {\n    fn serialize(&self) {}\n}\n"
    )
    _, chunked = chunks_of(path)
    symbols = {(c.kind, c.symbol) for c in chunked.chunks if c.kind != "file"}
    assert {("class", "MissingFieldDeserializer"), ("method", "MissingFieldDeserializer.deserialize_any"),
            ("class", "String"), ("method", "String.serialize")} <= symbols


def test_java_annotation_types_and_c_enums_are_definitions_and_a_mere_mention_is_not(tmp_path):
    # gson's SerializedName.java held no definition at all: `@interface` is not a class declaration.
    java = tmp_path / "SerializedName.java"
    java.write_text("package g;\n\n/** Marks a field. */\npublic @interface SerializedName {\n  String value();\n}\n")
    c = tmp_path / "loop.h"
    c.write_text("typedef enum {\n  UV_RUN_DEFAULT = 0,\n  UV_RUN_ONCE\n} uv_run_mode;\n\n"
                 "enum uv_handle_type { UV_TCP, UV_UDP };\n\nint uv_run(enum uv_run_mode mode);\n")
    _, java_chunks = chunks_of(java)
    assert {(c.kind, c.symbol) for c in java_chunks.chunks if c.kind != "file"} == {("class", "SerializedName")}
    definition = next(c for c in java_chunks.chunks if c.symbol == "SerializedName")
    assert definition.text.startswith("/** Marks a field. */")
    _, c_chunks = chunks_of(c)
    # the named enum is a definition; the typedef's enum has no name of its own, and `enum uv_run_mode
    # mode` in a parameter list only mentions one
    assert {(c.kind, c.symbol) for c in c_chunks.chunks if c.kind != "file"} == {("class", "uv_handle_type")}


def test_a_lua_function_assigned_to_a_name_is_a_definition_and_a_callback_is_not(tmp_path):
    # lazy.nvim writes `M.load = function(...)` as often as `function M.load(...)`.
    path = tmp_path / "loader.lua"
    path.write_text(
        "local M = {}\n\nM.load = function(plugins)\n  return plugins\nend\n\n"
        "local helper = function(x)\n  return x\nend\n\n"
        "M.handlers = {\n  browser = function(plugin) return plugin end,\n}\n\n"
        "table.sort(M, function(a, b) return a < b end)\n\nreturn M\n"
    )
    _, chunked = chunks_of(path)
    spans = {c.symbol: (c.kind, c.start_line, c.end_line) for c in chunked.chunks if c.kind != "file"}
    assert spans == {"M.load": ("method", 3, 5), "helper": ("function", 7, 9)}


KOTLIN_2 = """\
class UpdateStatement(val where: Op?) : Statement() {
    /** The columns to update. */
    val firstDataSet: List<Int>
        @OptIn(InternalApi::class)
        get() = values.toList()

    fun prepareSQL(value: T & Any): String {
        where?.let { it.render() }
        return when (value) {
            is Join if dialect is OracleDialect -> "join"
            is Table if (
                dialect.supportsLimit() &&
                    limit != null
            ) -> "limited"
            is Table -> if (limit == null) "table" else "limit"
            else -> "other"
        }
    }

    fun arguments(): List<Int> = emptyList()
}

fun Table.update(body: () -> Unit) = UpdateStatement(null)
"""


def test_kotlin_2_syntax_the_grammar_does_not_know_keeps_the_class(tmp_path):
    # exposed: a `when` guard (Kotlin 2.1), `where` as a name, an annotated getter and `T & Any` each made
    # tree-sitter-kotlin 1.1 give up on the whole class (ColumnType.kt: 17 definitions of 198).
    path = tmp_path / "UpdateStatement.kt"
    path.write_text(KOTLIN_2)
    assert parser_for("kotlin").parse(KOTLIN_2.encode()).root_node.has_error  # the grammar still fails alone
    data, chunked = chunks_of(path)
    spans = {c.symbol: (c.kind, c.start_line, c.end_line) for c in chunked.chunks if c.kind != "file"}
    assert spans == {"UpdateStatement": ("class", 1, 21), "UpdateStatement.prepareSQL": ("method", 7, 18),
                     "UpdateStatement.arguments": ("method", 20, 20), "update": ("function", 23, 23)}
    # Only the parse saw the masked text: the chunks hold the file's own.
    assert "is Join if dialect is OracleDialect" in next(c.text for c in chunked.chunks if c.kind == "class")
    assert "".join(c.text for c in chunked.chunks if c.kind == "file") == KOTLIN_2


def test_a_kotlin_body_on_one_line_does_not_lose_the_definitions_after_it(tmp_path):
    # tree-sitter-kotlin 1.1 ends a member only at a line break or ";": `{ const val ID = "id" }` lost
    # the object and every definition below it.
    path = tmp_path / "Keys.kt"
    path.write_text('object Keys { const val ID = "id" }\n\nclass Store { fun get() = 1 }\n\n'
                    'class After {\n    fun n() {}\n}\n')
    _, chunked = chunks_of(path)
    spans = {c.symbol: (c.kind, c.start_line) for c in chunked.chunks if c.kind != "file"}
    assert spans == {"Keys": ("class", 1), "Store": ("class", 3), "Store.get": ("method", 3),
                     "After": ("class", 5), "After.n": ("method", 6)}


def test_masking_newer_kotlin_syntax_keeps_offsets_and_leaves_valid_code_alone():
    masked = mask_newer_syntax("kotlin", KOTLIN_2.encode())
    assert masked is not None and len(masked) == len(KOTLIN_2.encode())
    assert masked.count(b"\n") == KOTLIN_2.count("\n")
    assert not parser_for("kotlin").parse(masked).root_node.has_error
    lines = masked.decode().splitlines()
    assert lines[9].split() == ["is", "Join", "->", '"join"']  # the guard blanked
    assert [line.split() for line in lines[10:14]] == [["is", "Table"], [], [], ["->", '"limited"']]  # ... over lines
    assert lines[14].strip() == "is Table -> if (limit == null) \"table\" else \"limit\""  # an `if` after the arrow
    assert mask_newer_syntax("kotlin", b"fun f(x: Int) = when (x) { is Int -> 1\n else -> 2 }\n") is None
    assert mask_newer_syntax("python", b"where = 1\n") is None


GO_WITH_LICENSE = """\
// Copyright 2013-2023 The Cobra Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.

// Package cobra is a commander for modern CLI interfaces.
package cobra

func Execute() error { return nil }
"""


def test_a_file_is_embedded_without_its_license_header_and_stored_whole(tmp_path):
    # gson, libuv, monolog, alamofire: 15-30 lines of license open every file; a 256-token encoder read
    # little else of them.
    path = tmp_path / "command.go"
    path.write_text(GO_WITH_LICENSE)
    _, chunked = chunks_of(path)
    file_chunk = next(c for c in chunked.chunks if c.kind == "file")
    assert file_chunk.text == GO_WITH_LICENSE  # shown and matched lexically as it is
    assert "License" not in file_chunk.embed_text and "Copyright" not in file_chunk.embed_text
    assert file_chunk.embed_text.endswith(GO_WITH_LICENSE[GO_WITH_LICENSE.index("// Package"):])  # its doc stays
    function = next(c for c in chunked.chunks if c.symbol == "Execute")
    assert function.embed_text == embed_text(function.path, "Execute", function.text)
    # Markdown's "#" lines are headings: a README's "# License" section is embedded as it is.
    readme = "# License\n\nCopyright 2024 Example. MIT licensed.\n"
    assert embed_text("README.md", None, readme).endswith(readme)


@pytest.mark.parametrize("text,kept", [
    ("#!/usr/bin/env python\n# Copyright (c) 2024 Example\n# SPDX-License-Identifier: MIT\n\nimport os\n",
     "#!/usr/bin/env python\nimport os\n"),
    ("<?php\n\n/*\n * This file is part of Monolog.\n * (c) Jordi Boggiano\n * For the full copyright and license"
     " information, see LICENSE.\n */\n\nnamespace Monolog;\n", "<?php\n\nnamespace Monolog;\n"),
    ("/* Copyright Joyent, Inc. Permission is hereby granted, free of charge */\n\n#include \"uv.h\"\n",
     "#include \"uv.h\"\n"),
    ("-- Copyright 2007 Spencer Janssen\n-- License: BSD3\n\nmodule Main where\n", "module Main where\n"),
])
def test_license_headers_in_each_comment_syntax_are_left_out(text, kept):
    assert without_license(text) == kept


@pytest.mark.parametrize("text", [
    "// Package cobra is a commander.\npackage cobra\n",  # a doc comment, no license
    "#include <stdio.h>\n/* Copyright 2020 */\nint main(void) { return 0; }\n",  # code comes first
    "def f():\n    # the license check\n    return licensed()\n",
    "",
])
def test_files_without_a_license_header_are_embedded_as_they_are(text):
    assert without_license(text) == text
