"""Build the development benchmark: a docstring-stripped copy of installed libraries plus queries.

Each query is the first sentence of a docstring (Python) or a JSDoc comment (JavaScript); its relevant
answer is the documented function/class span (and so its file). The indexed copy has every docstring
and doc comment removed with line numbers kept (their lines blanked), so the answer is not in the text.
The sources are read from this machine at run time (site-packages, npm's bundled modules); nothing of
them is committed.
"""
from __future__ import annotations

import ast
import json
import random
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PYTHON_PACKAGES = ("rich", "click", "pathspec", "sqlite_utils", "requests", "jinja2")
# JavaScript sources with JSDoc, bundled with npm itself (plain, un-minified CommonJS).
NPM_MODULES = ("undici/lib", "ip-address/dist", "smart-buffer/build", "http-cache-semantics", "negotiator",
               "debug/src", "socks/build")
MIN_WORDS, MAX_WORDS = 4, 40

_RST_ROLE = re.compile(r":[a-z:]+:`~?([^`]+)`")
_BACKTICKS = re.compile(r"`+([^`]+)`+")
_JSDOC_TAG = re.compile(r"(?:^|\s)@[a-zA-Z]+\b")


@dataclass(frozen=True)
class DocTarget:
    query: str  # the doc comment's first sentence
    path: str  # relative to the corpus root
    start: int
    end: int
    symbol: str | None  # "Class.method" or "function": the symbol query for the same target

    def record(self, query: str) -> dict:
        return {"query": query, "relevant": [f"{self.path}:{self.start}-{self.end}"]}


def first_sentence(doc: str) -> str | None:
    """The doc comment's first sentence, code markup and JSDoc tags removed; None if unusable."""
    lines = [line.strip().lstrip("*").strip() for line in doc.strip().splitlines()]
    paragraph = "\n".join(lines).strip().split("\n\n", 1)[0]
    text = " ".join(paragraph.split())
    text = _JSDOC_TAG.split(text, maxsplit=1)[0]
    text = _BACKTICKS.sub(r"\1", _RST_ROLE.sub(r"\1", text))
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].strip()
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or sentence.lower().startswith(("see ", "deprecated", "alias")):
        return None
    return sentence


# --- Python -----------------------------------------------------------------------------------------

def _docstring_node(node) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def strip_python(source: str) -> tuple[str, list[tuple[ast.AST, str, str | None]]]:
    """(source with docstrings blanked, [(documented def/class node, docstring, enclosing class name)]);
    lines are kept."""
    tree = ast.parse(source)
    owners = {id(child): node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for child in node.body}
    lines = source.splitlines(keepends=True)
    documented: list[tuple[ast.AST, str, str | None]] = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = _docstring_node(node)
        if doc is None:
            continue
        first, last = doc.lineno - 1, doc.end_lineno - 1
        whole_lines = not lines[first][: doc.col_offset].strip() and not lines[last][doc.end_col_offset:].strip()
        only_statement = len(node.body) == 1 and not isinstance(node, ast.Module)
        if whole_lines and not only_statement:
            for i in range(first, last + 1):
                lines[i] = "\n"
        else:
            # Keep the code valid: the string becomes `...` (a body of its own if it was the only one).
            head = lines[first][: doc.col_offset] + "..."
            tail = lines[last][doc.end_col_offset:]
            for i in range(first, last + 1):
                lines[i] = "\n"
            lines[first] = head + tail if tail.strip() else head + "\n"
        if not isinstance(node, ast.Module) and not only_statement:
            documented.append((node, doc.value.value, owners.get(id(node))))
    return "".join(lines), documented


def python_targets(source: str, rel_path: str) -> tuple[str, list[DocTarget]]:
    stripped, documented = strip_python(source)
    targets = []
    for node, doc, owner in documented:
        if node.name.startswith("__"):
            continue
        sentence = first_sentence(doc)
        if sentence:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            symbol = f"{owner}.{node.name}" if owner else node.name
            targets.append(DocTarget(sentence, rel_path, start, node.end_lineno, symbol))
    return stripped, targets


# --- JavaScript (tree-sitter) -------------------------------------------------------------------------

_JS_DEFINITIONS = {"function_declaration", "class_declaration", "method_definition", "lexical_declaration",
                   "variable_declaration", "export_statement", "expression_statement", "field_definition",
                   "generator_function_declaration"}


def javascript_targets(source: str, rel_path: str, parser) -> tuple[str, list[DocTarget]]:
    """Blank every /** */ comment; a JSDoc directly above a definition gives a query for its span."""
    data = source.encode()
    tree = parser.parse(data)
    out = bytearray(data)
    targets: list[DocTarget] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "comment" or not data[node.start_byte:node.end_byte].startswith(b"/**"):
            continue
        for i in range(node.start_byte, node.end_byte):
            if out[i] not in (10, 13):
                out[i] = 32
        nxt = node.next_named_sibling
        if nxt is None or nxt.type not in _JS_DEFINITIONS or nxt.start_point[0] != node.end_point[0] + 1:
            continue
        doc = data[node.start_byte + 3:node.end_byte - 2].decode()
        sentence = first_sentence(doc)
        if sentence and nxt.end_point[0] > nxt.start_point[0]:
            targets.append(DocTarget(sentence, rel_path, nxt.start_point[0] + 1, nxt.end_point[0] + 1,
                                     _javascript_symbol(nxt, data)))
    return out.decode(), targets


def _javascript_symbol(node, data: bytes) -> str | None:
    """"Class.method" for a method, the declared name for a function/class/const; None otherwise."""
    if node.type == "export_statement":
        node = node.child_by_field_name("declaration") or node
    if node.type in ("lexical_declaration", "variable_declaration"):
        node = next((c for c in node.named_children if c.type == "variable_declarator"), node)
    name = node.child_by_field_name("name")
    if name is None or name.type not in ("identifier", "property_identifier", "type_identifier"):
        return None
    text = data[name.start_byte:name.end_byte].decode()
    body = node.parent
    if node.type == "method_definition" and body is not None and body.parent is not None:
        owner = body.parent.child_by_field_name("name")
        if owner is not None:
            return f"{data[owner.start_byte:owner.end_byte].decode()}.{text}"
    return text


def _javascript_parser():
    import tree_sitter
    import tree_sitter_javascript

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


# --- The corpus ----------------------------------------------------------------------------------------

def _python_sources(package: str) -> list[tuple[Path, str]]:
    root = Path(sysconfig.get_paths()["purelib"]) / package
    return [(p, f"{package}/{p.relative_to(root).as_posix()}") for p in sorted(root.rglob("*.py"))
            if "__pycache__" not in p.parts and "tests" not in p.parts]


def _npm_sources(module: str) -> list[tuple[Path, str]]:
    base = Path(shutil.which("npm") or "npm").resolve().parent.parent / "node_modules"
    root = base / module
    if not root.is_dir():
        return []
    return [(p, f"js/{module}/{p.relative_to(root).as_posix()}") for p in sorted(root.rglob("*.js"))
            if "node_modules" not in p.relative_to(root).parts and not p.name.endswith(".min.js")]


def build_corpus(dest: Path, languages=("python", "javascript"), per_package: int = 60,
                 seed: int = 0) -> dict[str, list[dict]]:
    """Write the stripped sources under `dest`; return the query records of each query set:
    "docstring" (first sentences, per_package per package) and "symbol" (the documented symbols' names,
    a third as many)."""
    rng = random.Random(seed)
    groups: list[list[DocTarget]] = []
    parser = _javascript_parser() if "javascript" in languages else None
    sources = []
    if "python" in languages:
        sources += [(pkg, _python_sources(pkg), "python") for pkg in PYTHON_PACKAGES]
    if "javascript" in languages:
        sources += [(mod, _npm_sources(mod), "javascript") for mod in NPM_MODULES]
    for _name, files, language in sources:
        group: list[DocTarget] = []
        for path, rel in files:
            try:
                source = path.read_text(encoding="utf-8")
                stripped, targets = (python_targets(source, rel) if language == "python"
                                     else javascript_targets(source, rel, parser))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(stripped, encoding="utf-8")
            group.extend(targets)
        groups.append(group)
    return {
        # A sentence documenting several things ("Return the value.") has no single right answer: drop it.
        "docstring": _sample(groups, lambda t: t.query.lower(), per_package, rng),
        "symbol": _sample(groups, lambda t: t.symbol, max(1, per_package // 3), rng),
    }


def _sample(groups: list[list[DocTarget]], key, per_package: int, rng: random.Random) -> list[dict]:
    """Up to per_package records from each group, using only targets whose query key is unique."""
    counts: dict[str, int] = {}
    for target in (t for g in groups for t in g):
        counts[key(target)] = counts.get(key(target), 0) + 1
    records = []
    for group in groups:
        unique = [t for t in group if key(t) and counts[key(t)] == 1]
        for target in rng.sample(unique, min(per_package, len(unique))):
            records.append(target.record(key(target) if key(target) == target.symbol else target.query))
    return records


if __name__ == "__main__":
    target_dir = Path(sys.argv[1])
    for name, records in build_corpus(target_dir / "repo").items():
        (target_dir / f"{name}_queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        print(f"{len(records)} {name} queries in {target_dir / f'{name}_queries.jsonl'}")
