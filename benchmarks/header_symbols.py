"""Class-name queries against the C++ headers that define them: does the defining header come first?

    python -m benchmarks.header_symbols [--headers DIR] [--as-c]

The queries come from the headers themselves: every top-level class or struct name (4 letters or more)
that exactly one header of DIR defines, as the C++ grammar reads them (default: fmtlib's
include/fmt of the dev split, C++ written in `.h` files). Each name is searched as `codesearch search
--mode lexical --files-only` does, on a lexical index of DIR built with the pipeline in a temporary
folder, and scored by the rank of its defining header: top-1 count and MRR@10. `--as-c` indexes the
`.h` files as C, as codesearch did before `indexer.languages.header_language`, for the side-by-side
figure in BENCHMARKS.md (session 7).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from benchmarks.semble import DEFAULT_DATA

DEFAULT_HEADERS = DEFAULT_DATA / "corpus" / "fmtlib" / "include" / "fmt"


def class_queries(headers: Path) -> dict[str, str]:
    """Name -> the one header file (its name) that defines a top-level class of that name."""
    from indexer.chunking import find_definitions
    from indexer.languages import parser_for

    defined: dict[str, set[str]] = defaultdict(set)
    for path in sorted(headers.glob("*.h")):
        tree = parser_for("cpp").parse(path.read_bytes())
        for d in find_definitions("cpp", tree.root_node):
            if d.kind == "class" and d.parent is None and len(d.name) > 3 and d.name.isidentifier():
                defined[d.name].add(path.name)
    return {name: next(iter(files)) for name, files in sorted(defined.items()) if len(files) == 1}


def ranks(headers: Path, queries: dict[str, str]) -> list[int | None]:
    from indexer.index import open_index
    from indexer.pipeline import IndexOptions, index_repository
    from indexer.search import SearchOptions, search

    work = Path(tempfile.mkdtemp(prefix="codesearch-headers-"))
    try:
        index_repository(headers, work / "index", None, IndexOptions())
        index = open_index(work / "index")
        try:
            options = SearchOptions(mode="lexical", k=10, files_only=True)
            found = []
            for name, header in queries.items():
                paths = [h.path for h in search(index, name, None, options).hits]
                found.append(paths.index(header) + 1 if header in paths else None)
            return found
        finally:
            index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headers", type=Path, default=DEFAULT_HEADERS, help="a folder of C++ .h files")
    parser.add_argument("--as-c", action="store_true", help="index the .h files as C (codesearch before session 7)")
    args = parser.parse_args(argv)
    if not args.headers.is_dir():
        raise SystemExit(f"no folder {args.headers}")
    if args.as_c:
        import indexer.pipeline

        indexer.pipeline.header_language = lambda path, language, data: language
    queries = class_queries(args.headers)
    found = ranks(args.headers, queries)
    mrr = statistics.mean(1 / r if r else 0.0 for r in found) if found else 0.0
    print(f"{len(found)} class names, {'.h as C' if args.as_c else '.h sniffed'}: defining header first for "
          f"{sum(r == 1 for r in found)}, MRR@10 {mrr:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
