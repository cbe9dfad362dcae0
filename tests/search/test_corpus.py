"""The benchmark corpus builder: doc comments removed with line numbers kept, queries from them."""
import ast

import pytest

from benchmarks.quality.corpus import first_sentence, javascript_targets, python_targets

PYTHON = '''"""Module doc."""


class Store:
    """Keeps rows in memory for the tests."""

    def put(self, key, value):
        """Insert or replace the value stored under key.

        More detail that is not part of the query.
        """
        self.rows[key] = value

    def stub(self):
        """Only a docstring here, so nothing to find."""


def one_liner(x): "Double x and return it quickly."; return 2 * x
'''


def test_python_docstrings_are_blanked_and_lines_kept():
    stripped, targets = python_targets(PYTHON, "pkg/store.py")
    assert len(stripped.splitlines()) == len(PYTHON.splitlines())
    assert "Insert or replace" not in stripped and "Keeps rows" not in stripped and "Double x" not in stripped
    ast.parse(stripped)  # still valid Python, the docstring-only body included
    by_symbol = {t.symbol: t for t in targets}
    put = by_symbol["Store.put"]
    assert put.query == "Insert or replace the value stored under key."
    assert stripped.splitlines()[put.start - 1].strip().startswith("def put")
    assert "Store.stub" not in by_symbol  # a body of nothing but a docstring has nothing to find
    assert by_symbol["Store"].query == "Keeps rows in memory for the tests."


def test_javascript_jsdoc_is_blanked_and_targets_the_next_definition():
    pytest.importorskip("tree_sitter_javascript")
    from benchmarks.quality.corpus import _javascript_parser

    source = (
        "class Buffer {\n"
        "  /**\n"
        "   * Reads a string from the current read position.\n"
        "   * @param {number} size how many bytes\n"
        "   */\n"
        "  readString(size) {\n"
        "    return this.data.slice(0, size);\n"
        "  }\n"
        "}\n"
    )
    stripped, [target] = javascript_targets(source, "js/buffer.js", _javascript_parser())
    assert len(stripped) == len(source) and stripped.count("\n") == source.count("\n")
    assert "Reads" not in stripped and "@param" not in stripped
    assert (target.query, target.symbol) == ("Reads a string from the current read position.", "Buffer.readString")
    assert (target.start, target.end) == (6, 8)


@pytest.mark.parametrize("doc,expected", [
    ("Return the :class:`Style` for ``name``. More.", "Return the Style for name."),
    ("* Returns the address as a bigint\n * @returns {bigint}", "Returns the address as a bigint"),
    ("Too short.", None),
    ("@param x the thing that is passed in", None),
])
def test_first_sentence(doc, expected):
    assert first_sentence(doc) == expected
