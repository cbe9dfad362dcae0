"""Golden file: every chunk of the fixture repository (kind, symbol, parent, lines, tokens), reviewed in
the diff when the chunker changes. Rewrite it with `UPDATE_GOLDEN=1 python -m pytest tests/indexer`."""
from __future__ import annotations

import json
import os
from pathlib import Path

from indexer.chunking import chunk_file
from indexer.encoder import FakeEncoder
from indexer.pipeline import IndexOptions
from indexer.walk import SkipFile, list_files, read_source

GOLDEN = Path(__file__).parent / "golden" / "fixture_chunks.json"


def fixture_chunks(root: Path) -> dict[str, list[str]]:
    options = IndexOptions()
    count_tokens = FakeEncoder().count_tokens
    listing = list_files(root, max_file_bytes=options.max_file_bytes)
    result = {}
    for source in listing.files:
        try:
            data, _ = read_source(
                source, max_file_bytes=options.max_file_bytes, max_line_length=options.max_line_length
            )
        except SkipFile as skip:
            result[source.path] = [f"skipped: {skip.reason}"]
            continue
        chunked = chunk_file(source, data, count_tokens, 8192)
        result[source.path] = [
            f"{c.kind} {c.symbol or '-'} parent={c.parent or '-'} lines {c.start_line}-{c.end_line}"
            f" tokens={c.tokens}"
            for c in chunked.chunks
        ] + (["parse failed: chunked by lines"] if chunked.parse_failed else [])
    return result


def test_fixture_chunks_match_the_golden_file(plain_repo):
    actual = fixture_chunks(plain_repo)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n")
    assert actual == json.loads(GOLDEN.read_text())
