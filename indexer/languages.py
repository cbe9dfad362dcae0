"""Which language a file is in, its tree-sitter grammar, and which syntax nodes are definitions.

Each grammar comes from its own `tree-sitter-<lang>` wheel (offline). `LANGUAGES` names, per language,
the node types that define something (kind "class" for classes/structs/impls/interfaces/traits/modules,
"function" for functions and methods) and the container nodes (namespaces) that only qualify names.
`definition_name` knows the few grammars whose definition names are not in a `name` field.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class LanguageSpec:
    module: str  # the python module of the tree-sitter wheel
    function: str  # the function in that module returning the grammar pointer
    definitions: dict[str, str]  # node type -> "class" | "function"
    containers: frozenset[str] = field(default_factory=frozenset)  # qualify names, are not chunks


_JS_DEFS = {
    "class_declaration": "class",
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "method_definition": "function",
    "variable_declarator": "function",  # only when its value is a function; see definition_name
}
_TS_DEFS = _JS_DEFS | {
    "abstract_class_declaration": "class",
    "interface_declaration": "class",
    "enum_declaration": "class",
}
_C_DEFS = {"function_definition": "function", "struct_specifier": "class", "union_specifier": "class",
           "enum_specifier": "class"}

LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        "tree_sitter_python", "language", {"class_definition": "class", "function_definition": "function"}
    ),
    "javascript": LanguageSpec("tree_sitter_javascript", "language", _JS_DEFS),
    "typescript": LanguageSpec("tree_sitter_typescript", "language_typescript", _TS_DEFS),
    "tsx": LanguageSpec("tree_sitter_typescript", "language_tsx", _TS_DEFS),
    "go": LanguageSpec(
        "tree_sitter_go",
        "language",
        {"function_declaration": "function", "method_declaration": "function", "type_spec": "class"},
    ),
    "rust": LanguageSpec(
        "tree_sitter_rust",
        "language",
        {
            "function_item": "function",
            "struct_item": "class",
            "enum_item": "class",
            "trait_item": "class",
            "impl_item": "class",
            "union_item": "class",
        },
        frozenset({"mod_item"}),
    ),
    "java": LanguageSpec(
        "tree_sitter_java",
        "language",
        {
            "class_declaration": "class",
            "interface_declaration": "class",
            "enum_declaration": "class",
            "record_declaration": "class",
            "annotation_type_declaration": "class",  # `public @interface SerializedName`
            "method_declaration": "function",
            "constructor_declaration": "function",
        },
    ),
    "c": LanguageSpec("tree_sitter_c", "language", _C_DEFS),
    "cpp": LanguageSpec(
        "tree_sitter_cpp", "language", _C_DEFS | {"class_specifier": "class"}, frozenset({"namespace_definition"})
    ),
    "csharp": LanguageSpec(
        "tree_sitter_c_sharp",
        "language",
        {
            "class_declaration": "class",
            "interface_declaration": "class",
            "struct_declaration": "class",
            "enum_declaration": "class",
            "record_declaration": "class",
            "method_declaration": "function",
            "constructor_declaration": "function",
        },
        frozenset({"namespace_declaration", "file_scoped_namespace_declaration"}),
    ),
    "ruby": LanguageSpec(
        "tree_sitter_ruby",
        "language",
        {"class": "class", "module": "class", "method": "function", "singleton_method": "function"},
    ),
    "php": LanguageSpec(
        "tree_sitter_php",
        "language_php",
        {
            "class_declaration": "class",
            "interface_declaration": "class",
            "trait_declaration": "class",
            "enum_declaration": "class",
            "function_definition": "function",
            "method_declaration": "function",
        },
    ),
    "kotlin": LanguageSpec(
        "tree_sitter_kotlin",
        "language",
        {"class_declaration": "class", "object_declaration": "class", "function_declaration": "function"},
    ),
    "swift": LanguageSpec(
        "tree_sitter_swift",
        "language",
        {
            "class_declaration": "class",  # classes, structs, enums, extensions
            "protocol_declaration": "class",
            "function_declaration": "function",
            "init_declaration": "function",
        },
    ),
    "scala": LanguageSpec(
        "tree_sitter_scala",
        "language",
        {
            "class_definition": "class",
            "object_definition": "class",
            "trait_definition": "class",
            "enum_definition": "class",
            "function_definition": "function",
        },
    ),
    # A `function ... end` expression is a definition when it is assigned to a name (`M.run = function`,
    # as `function M.run()`); see _lua_name.
    "lua": LanguageSpec("tree_sitter_lua", "language", {"function_declaration": "function", "function_definition": "function"}),
    "bash": LanguageSpec("tree_sitter_bash", "language", {"function_definition": "function"}),
    "haskell": LanguageSpec(
        "tree_sitter_haskell",
        "language",
        {
            "data_type": "class",
            "newtype": "class",
            "class": "class",
            "instance": "class",
            "function": "function",
            "signature": "function",  # merged with the equations that follow it
        },
    ),
    "elixir": LanguageSpec("tree_sitter_elixir", "language", {"call": "function"}),  # see _elixir_name
    "zig": LanguageSpec(
        "tree_sitter_zig",
        "language",
        {"function_declaration": "function", "variable_declaration": "class"},  # see _zig_name
    ),
}

_EXTENSIONS = {
    "python": ".py .pyi",
    "javascript": ".js .jsx .mjs .cjs",
    "typescript": ".ts .mts .cts",
    "tsx": ".tsx",
    "go": ".go",
    "rust": ".rs",
    "java": ".java",
    "c": ".c .h",
    "cpp": ".cc .cpp .cxx .hh .hpp .hxx .ipp",
    "csharp": ".cs",
    "ruby": ".rb .rake",
    "php": ".php",
    "kotlin": ".kt .kts",
    "swift": ".swift",
    "scala": ".scala .sc",
    "lua": ".lua",
    "bash": ".sh .bash",
    "haskell": ".hs",
    "elixir": ".ex .exs",
    "zig": ".zig",
    # Text kinds: chunked by lines, Markdown by sections.
    "markdown": ".md .markdown .rst",
    "yaml": ".yaml .yml",
    "toml": ".toml",
    "json": ".json",
    "sql": ".sql",
    "html": ".html .htm",
    "css": ".css .scss",
    "xml": ".xml",
    "ini": ".ini .cfg .conf",
    "text": ".txt",
}
_BY_EXTENSION = {ext: lang for lang, exts in _EXTENSIONS.items() for ext in exts.split()}
_BY_NAME = {"Makefile": "make", "Dockerfile": "dockerfile", "Rakefile": "ruby", "Gemfile": "ruby"}

# Lock files are generated and huge; nobody searches them for code.
GENERATED_NAMES = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "poetry.lock", "go.sum",
     "composer.lock", "Gemfile.lock", "uv.lock"}
)


# C++ written in `.h` files (fmtlib, LLVM, Qt headers): what C has no syntax for. The `extern "C"` guard
# a C header keeps for C++ callers is not among it.
_CPP_IN_HEADER = re.compile(
    rb"^[ \t]*(?:template[ \t]*<|namespace[ \t]+[\w:]+[ \t]*\{|(?:public|private|protected)[ \t]*:"
    rb"|using[ \t]+namespace[ \t])|\bstd::\w|\bconstexpr\b|\bnullptr\b",
    re.MULTILINE,
)
HEADER_SNIFF_BYTES = 256 * 1024  # a C++ header shows it long before this


def header_language(path: str, language: str | None, data: bytes) -> str | None:
    """`language` as the extension says, but C++ for a `.h` file written in C++: parsed as C, its
    templates and classes come out as syntax errors and most of its definitions are lost."""
    if language == "c" and path.endswith(".h") and _CPP_IN_HEADER.search(data, 0, HEADER_SNIFF_BYTES):
        return "cpp"
    return language


def language_for_path(path: str) -> str | None:
    """A LANGUAGES key, a text kind ("markdown", "yaml", ...), or None for other text files."""
    name = path.rpartition("/")[2]
    dot = name.rfind(".")
    return _BY_NAME.get(name) or (_BY_EXTENSION.get(name[dot:].lower()) if dot > 0 else None)


# What people call a language besides its own name and its file extensions (`--lang golang`).
_ALIASES = {"golang": "go", "c++": "cpp", "c#": "csharp", "shell": "bash", "docker": "dockerfile",
            "makefile": "make"}


def language_names() -> list[str]:
    """Every language name a file can be given, sorted (what `--lang` accepts besides aliases)."""
    return sorted({*_EXTENSIONS, *_BY_NAME.values()})


def canonical_language(name: str) -> str | None:
    """The language `name` means, in any case: its own name ("Python"), an alias ("golang", "c++",
    "c#", "shell") or a file extension ("py", ".rs", "ex"); None when it means none."""
    key = name.strip().lower()
    if key in _EXTENSIONS or key in _BY_NAME.values():
        return key
    return _ALIASES.get(key) or _BY_EXTENSION.get(key if key.startswith(".") else f".{key}")


@lru_cache(maxsize=None)
def parser_for(language: str) -> Parser | None:
    """A tree-sitter parser for the language, or None when it has no grammar (text kinds)."""
    spec = LANGUAGES.get(language)
    if spec is None:
        return None
    module = importlib.import_module(spec.module)
    return Parser(Language(getattr(module, spec.function)()))


def definition_kind(language: str, node: Node) -> str | None:
    spec = LANGUAGES[language]
    if node.type in spec.containers:
        return "container"
    return spec.definitions.get(node.type)


def definition_name(language: str, node: Node) -> tuple[str, str | None] | None:
    """(name, receiver) of a definition node, or None when the node defines nothing here.

    `receiver` is the type a method is attached to outside its class body (Go receivers, Lua tables).
    """
    special = _SPECIAL_NAMES.get(language)
    if special is not None:
        result = special(node)
        if result is not NotImplemented:
            return result
    if node.type in ("struct_specifier", "union_specifier", "class_specifier", "enum_specifier") and (
        node.child_by_field_name("body") is None
    ):
        return None  # `struct foo *p;` mentions a struct, it does not define one
    if node.type == "function_definition" and language in ("c", "cpp"):
        return _c_declarator_name(node)
    name = node.child_by_field_name("name")
    if name is None:
        return None
    return _template_name(name), None


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


def _template_name(node: Node) -> str:
    """A C++ specialization's template, not its arguments: `template <> struct formatter<bytes>`
    defines a `formatter` (the arguments may run over lines: `formatter<R, Char, enable_if_t<...>>`)."""
    if node.type in ("template_type", "template_function"):
        name = node.child_by_field_name("name")
        if name is not None:
            return _text(name)
    return _text(node)


_TEMPLATE_ARGS = re.compile(r"(?<!operator)<[^<>]*>")


def _without_template_args(qualified: str) -> str:
    """`formatter<bytes>::parse` -> `formatter::parse` (innermost argument lists first; `operator<` kept)."""
    while True:
        stripped = _TEMPLATE_ARGS.sub("", qualified)
        if stripped == qualified:
            return " ".join(stripped.split())
        qualified = stripped


def _c_declarator_name(node: Node) -> tuple[str, str | None] | None:
    declarator = node.child_by_field_name("declarator")
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    if declarator is None:
        return None
    inner = declarator.child_by_field_name("declarator")
    if inner is None:
        return None
    qualified = _template_name(inner) if inner.type == "template_function" else _without_template_args(_text(inner))
    if any(c in qualified for c in "{};\n"):
        return None  # a misparse around an unexpanded macro took code for the name
    if "::" in qualified:  # `Matrix::at` defined outside its class
        owner, _, name = qualified.rpartition("::")
        return name, owner
    return qualified, None


def _javascript_name(node: Node):
    if node.type != "variable_declarator":
        return NotImplemented
    value = node.child_by_field_name("value")
    name = node.child_by_field_name("name")
    if value is None or name is None or value.type not in ("arrow_function", "function_expression", "function"):
        return None
    return _text(name), None


def _go_name(node: Node):
    if node.type != "method_declaration":
        return NotImplemented
    receiver = node.child_by_field_name("receiver")
    owner = None
    if receiver is not None:
        stack = [receiver]
        while stack and owner is None:
            current = stack.pop(0)
            if current.type == "type_identifier":
                owner = _text(current)
            stack.extend(current.named_children)
    return _text(node.child_by_field_name("name")), owner


def _rust_name(node: Node):
    if node.type != "impl_item":
        return NotImplemented
    target = node.child_by_field_name("type")
    if target is not None and target.type == "generic_type":  # `impl<T> Serialize for Vec<T>`: Vec
        target = target.child_by_field_name("type") or target
    return (_text(target), None) if target is not None else None


def _lua_name(node: Node):
    name = node.child_by_field_name("name") if node.type == "function_declaration" else lua_assigned_name(node)
    if name is None:
        return None
    if name.type in ("dot_index_expression", "method_index_expression"):
        owner, _, short = _text(name).replace(":", ".").rpartition(".")
        return short, owner
    return _text(name), None


def lua_assigned_name(node: Node) -> Node | None:
    """The variable a Lua function expression is assigned to: `M.run = function ... end`, `local run =
    function ... end`. None for one passed as an argument, and for a table field's (`handlers = {
    browser = function ... end }`: a table of callbacks, as a JavaScript object literal's functions are
    not definitions either; as definitions they cost lazy.nvim 0.814 -> 0.801 on the dev split)."""
    parent = node.parent
    if parent is None:
        return None
    if parent.type == "expression_list" and parent.parent is not None and parent.parent.type == "assignment_statement":
        values = parent.named_children
        variables = parent.parent.named_children[0].named_children if parent.parent.named_children else []
        index = next((i for i, v in enumerate(values) if v.id == node.id), None)
        if index is not None and index < len(variables):
            return variables[index]
    return None


def _haskell_name(node: Node):
    name = node.child_by_field_name("name")
    if name is None:
        return None
    patterns = node.child_by_field_name("patterns") if node.type == "instance" else None
    return (f"{_text(name)} {_text(patterns)}" if patterns is not None else _text(name)), None


_ELIXIR_CLASS = {"defmodule", "defprotocol", "defimpl"}
_ELIXIR_FUNCTION = {"def", "defp", "defmacro", "defmacrop", "defguard", "defdelegate"}


def _elixir_name(node: Node):
    target = node.child_by_field_name("target")
    keyword = _text(target) if target is not None else ""
    if keyword not in _ELIXIR_CLASS | _ELIXIR_FUNCTION:
        return None
    arguments = next((c for c in node.named_children if c.type == "arguments"), None)
    if arguments is None or not arguments.named_children:
        return None
    head = arguments.named_children[0]
    if head.type == "binary_operator":  # `def name(args) when guard`
        head = head.child_by_field_name("left") or head
    if head.type == "call":
        head = head.child_by_field_name("target") or head
    return _text(head), None


def elixir_kind(node: Node) -> str:
    target = node.child_by_field_name("target")
    return "class" if target is not None and _text(target) in _ELIXIR_CLASS else "function"


def _zig_name(node: Node):
    if node.type != "variable_declaration":
        return NotImplemented
    containers = ("struct_declaration", "enum_declaration", "union_declaration", "opaque_declaration")
    if not any(c.type in containers for c in node.named_children):
        return None  # an ordinary constant, not a type
    name = next((c for c in node.named_children if c.type == "identifier"), None)
    return (_text(name), None) if name is not None else None


_SPECIAL_NAMES = {
    "javascript": _javascript_name,
    "typescript": _javascript_name,
    "tsx": _javascript_name,
    "go": _go_name,
    "rust": _rust_name,
    "lua": _lua_name,
    "haskell": _haskell_name,
    "elixir": _elixir_name,
    "zig": _zig_name,
}


# Syntax newer than a grammar, masked so that the grammar can parse the rest: tree-sitter-kotlin 1.1
# turns a whole class into an ERROR node at a Kotlin 2 `when` guard, and exposed's ColumnType.kt gave 17
# definitions instead of 198. Each rule keeps the file's length and its line breaks (blanked bytes become
# spaces, a renamed word keeps its length, a separator replaces a space), so the tree's offsets and lines
# are the original file's.
_KOTLIN_ANNOTATION = rb"@[\w.]+(?:\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\))?"
_KOTLIN_MASKS = (
    # `where` used as a name (`where?.let {`, `where = op`): the grammar takes it for the keyword of
    # generic constraints.
    ("rename", re.compile(rb"(?<![\w.@])(?<!val )(?<!var )(?<!fun )where(?=\?\.|\.|\)|,|\?:|!!|\s*=[^=]|\s*[=!]==?)")),
    # An annotation on a getter, setter or return (`@OptIn(X::class) get() = ...`).
    ("blank", re.compile(_KOTLIN_ANNOTATION + rb"(?=(?:\s*" + _KOTLIN_ANNOTATION
                         + rb")*\s*\n\s*(?:(?:private|protected|internal)\s+)?(?:get|set|return)\b)")),
    # A definitely non-null type (`value: T & Any`).
    ("blank", re.compile(rb"(?<=[\w>?])\s*&\s*Any\b")),
)
# A `when` branch with a guard (`is String if value.isHex() -> ...`): the guard, up to its "->", is
# blanked, brackets balanced across lines.
_KOTLIN_GUARD = re.compile(rb"^[ \t]*!?(?:is|in)\s(?:(?!->)[^\n])*?(\s+if\b)", re.MULTILINE)
# A body written on one line (`object Keys { const val ID = "id" }`, `class A { fun f() = 1 }`): this
# grammar ends a member only at a line break or ";", and without one it loses the class and what
# follows it. The space before the body's "}" becomes ";".
_KOTLIN_ONE_LINE_BODY = re.compile(
    rb"\{[ \t]+(?=(?:@\w+(?:\([^()\n]*\))?[ \t]+)*(?:fun|val|var|init|override|private|public|protected"
    rb"|internal|const|companion|data|class|object|interface|enum|abstract|open|sealed|inner|lateinit|suspend"
    rb"|inline|operator|typealias|constructor)\b)")


def _blank(masked: bytearray, start: int, end: int) -> None:
    for i in range(start, end):
        if masked[i] not in b"\r\n":
            masked[i] = 0x20


def _mask_kotlin(data: bytes) -> bytes:
    masked = bytearray(data)
    for action, pattern in _KOTLIN_MASKS:
        for match in pattern.finditer(data):
            if action == "rename":
                masked[match.start():match.end()] = b"wher_"
            else:
                _blank(masked, match.start(), match.end())
    for match in _KOTLIN_GUARD.finditer(data):
        depth, i = 0, match.end(1)
        while i < len(data) - 1:
            c = data[i]
            if c in b"([{":
                depth += 1
            elif c in b")]}":
                if depth == 0:
                    break  # the branch ended without an arrow: not a guard
                depth -= 1
            elif depth == 0 and data[i:i + 2] == b"->":
                _blank(masked, match.start(1), i)
                break
            i += 1
    for match in _KOTLIN_ONE_LINE_BODY.finditer(data):
        depth, i = 0, match.start()
        while i < len(data) and data[i] != 0x0A:  # the body's "}" on the same line, if it is there
            if data[i] == 0x7B:
                depth += 1
            elif data[i] == 0x7D:
                depth -= 1
                if depth == 0:
                    if data[i - 1] in b" \t":
                        masked[i - 1] = 0x3B
                    break
            i += 1
    return bytes(masked)


_NEWER_SYNTAX = {"kotlin": _mask_kotlin}


def mask_newer_syntax(language: str, data: bytes) -> bytes | None:
    """`data` with the syntax its grammar is too old for masked (same length, same line breaks), or None
    when the language has no such rules or nothing was masked. For a file that failed to parse: the
    masked text is only parsed, never stored."""
    mask = _NEWER_SYNTAX.get(language)
    if mask is None:
        return None
    masked = mask(data)
    return masked if masked != data else None
