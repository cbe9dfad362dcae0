"""The ranking layer: adjust fused scores with what we know about code, then diversify and aggregate.

Each adjustment is a multiplier recorded in `Hit.explain` under its own name, so `--explain` shows why
a hit sits where it does:

- "definition_boost": the chunk defines the queried symbol (`parse_config` -> `def parse_config`), more
  so in the case the query typed (`URL` the class over `Response.url`); for prose queries, the chunk's
  symbol name is made of the query's words ("count the lines" -> `count_lines`; a prefix that begins
  most candidates' names, such as libuv's `uv_`, is the project's namespace and left out). In a hybrid search it
  multiplies only the hit's "lexical_share" of the fused score (indexer.search): that the name is
  the one asked for is evidence about the query's words, and the semantic share has already read the
  name (the encoder embeds each chunk under its "symbol:" header), so multiplying it too would count
  the name again and let the model's near-ties among same-named chunks decide. In lexical and
  semantic searches the fused score is all of one side and the boost multiplies all of it.
- "declares": a file or class chunk that is not the definition but declares the symbol in its text
  (`export interface ZodObject`): definitions the chunker does not cut out still count. A C/C++ name
  only declared ahead (`class X;`, `friend class X<T>;`) is not its definition.
- "file_name_boost": a symbol query names the file (`SqlMapper` -> SqlMapper.cs).
- "file_words_boost": a prose query about a subject spells out the file's name ("group handler" ->
  GroupHandler.php); not one that describes a function's behaviour ("Returns the group's handler").
  For it and the prose name overlap of "definition_boost", two adjacent query words also count written as
  one ("thread pool" -> threadpool.c, "URL encoded" -> urlencoded.ex): lower-case names join words with
  no separator to split them at; and a name for the doer counts as the query's verb ("checks" ->
  checker.lua, "iterates" -> iterator). A generic file name (`util`, `helpers`, `main`) counts only when
  the query says that word.
- "path_boost": query words appear among the file's directory names.
- "core_boost": the file is in the package the others build on (`core/`, `serde_core/`, `exposed-core/`),
  where a concept is implemented rather than re-exported or wrapped.
- "container_demotion": a class or file chunk that holds another matching chunk of the same file sinks a
  little below it (the inner chunk is the more precise answer), unless it is the definition asked for:
  the symbol queried, or, for prose, a name made wholly of the query's words (`JsonElement` for "JSON
  element tree model").
- "demote_<category>": tests, benchmarks, examples, vendored, legacy (and compat shims), generated code,
  declaration stubs, docs and config files sink, and so do Windows ports (`win/`, `*_windows.go`) and
  ports to minority platforms (`unix/sunos.c`, `os390.c`) below the portable code they parallel, unless
  the query asks for that category ("tests for the parser", "Windows named pipes", "AIX event loop").
- "demote_old_version": a file in a `vN` directory with a newer `vM` beside it among the candidates
  (zod's `v3/` beside `v4/`), unless the query names `vN`.
- "demote_variant": a file named for another candidate of its directory with words put before that
  name (`bash_completions.go` beside `completions.go`, `DataRequest.swift` beside `Request.swift`), unless
  the query uses one of them; `Abstract`, `Base`, `Default` and the like name the general one instead.
- "same_file_penalty": past the first few chunks of one file, each further one counts less, so one file
  does not fill the top k.
- files-only: chunk scores aggregate to one score per file ("file_best" + "file_support": 0.2 times the
  next 3 chunks' scores; for prose queries, natural or mixed, every further chunk of the file, the n-th
  weighted 0.2 x 0.8^n, since several matching chunks say what a file is about; 0.2 x 0.5^n when the
  prose describes what one function does, as a docstring would).

Every constant was set on the public benchmark's development split (benchmarks/semble.py; figures,
one change at a time, in BENCHMARKS.md), but for the two behaviour-query rules: that split has almost
no query phrased as a docstring, so they were set on the docstring-stripped set of benchmarks/quality.
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from indexer.lexical import split_identifier
from indexer.query import KEYWORD, MINORITY_PLATFORMS, MIXED, NATURAL, STOPWORDS, SYMBOL, QueryPlan
from indexer.types import Hit

EXACT_DEFINITION_BOOST = 2.0  # chunk symbol == queried symbol
QUALIFIED_DEFINITION_BOOST = 2.5  # ... and its parent matches the qualifier too (HttpClient.send)
EXACT_CASE_BOOST = 1.25  # ... and in the case the query typed it: `URL` is the class, `url` a field of it
DECLARES_BOOST = 1.6  # a chunk without that name of its own whose text declares it (`export interface ZodObject`)
DECLARES_POOL = 50  # ... looked for in the best this many fused candidates only (it reads their text)
FILE_NAME_BOOST = 1.5  # a symbol query naming the file (`SqlMapper` -> SqlMapper.cs, `Conn` -> conn.ex)
NAME_OVERLAP_BOOST = 0.4  # prose query: up to 1 + this when every part of the symbol name is a query word
PATH_WORD_BOOST = 0.1  # per query word found in the path
PATH_BOOST_CAP = 0.3
# Prose query about a subject: up to 1 + FILE_WORDS_BOOST when every word of the file's name is a query
# word. 0.6 measured 0.864 on the dev split but cost the docstring-stripped set 0.852 -> 0.835 file NDCG;
# 0.3 gives 0.860 and 0.847. A query describing behaviour ("Returns the parsed links", QueryPlan.behaviour)
# gets none: it asks for one function, found by its own words, and a file named for them is as often
# another file (docstring set 0.846 -> 0.854 without it; the dev split has 11 such queries, unchanged).
FILE_WORDS_BOOST = 0.3
# File names that say nothing about what is in the file, unless the query uses the word itself ("lazy
# util functions" -> util.lua: dev split 0.8982 -> 0.8994, 1 query up, none down; with the word's
# abbreviations and expansions too, "standard library" took serde's lib.rs: 2 down).
_GENERIC_STEMS = frozenset({"index", "init", "__init__", "mod", "lib", "main", "utils", "util", "helpers", "common"})
SAME_FILE_FREE = 3  # chunks of one file in the list before the same-file penalty starts
SAME_FILE_DECAY = 0.8  # ... and then the n-th further chunk of that file is multiplied by this ** n
FILE_SUPPORT_WEIGHT = 0.2  # files-only: weight of a file's further matching chunks
FILE_SUPPORT_CHUNKS = 3  # ... and how many of them count, for symbol and keyword queries
# Prose queries (natural, mixed): every further chunk counts, the n-th (from 0) times this ** n. They
# describe what a file is about, and several chunks matching say so; a symbol query names one definition,
# and a file using the name everywhere (`impl Serialize for ...`) must not outweigh the one defining it.
# (0.85 measures lexical 0.8888 -> 0.8916 on the dev split but hybrid 0.9029 -> 0.9002: in a hybrid
# score every chunk of an on-topic file carries a semantic share, and the support grows with file size.)
PROSE_SUPPORT_DECAY = 0.8
# ... and for prose describing one function's behaviour: its file's other chunks say less (docstring set
# 0.854 -> 0.860; 0.35 / 0.7 / 0.8: 0.859 / 0.858 / 0.854; hybrid with all-MiniLM-L6-v2 0.870 -> 0.873).
BEHAVIOUR_SUPPORT_DECAY = 0.5

# A file of the package the others are built on: a directory `core`, `*_core` or `*-core` (zod's
# v4/core under v4/classic and v4/mini, serde_core under serde, exposed-core, lazy.nvim's core/). A
# concept is implemented there and re-exported or wrapped elsewhere. 1.1: dev split 0.8887 -> 0.8897
# (6 queries up, 1 down), hybrid 0.9024 -> 0.9064 (6 up, none down); 1.2: 0.8907 and 0.9027; docstring
# set 0.860 -> 0.859 (its packages have no core directory).
CORE_BOOST = 1.1
# A major version kept beside a newer one (zod's src/v3 beside src/v4, an api/v1 beside api/v2): the
# newer is what the project is now, the older stays for compatibility, with the same names and words.
# Unless the query names that version. 0.5: dev split 0.8915 -> 0.8935 (zod 8 queries up, none down;
# 0.7: 0.8917, the copy still ties with the current code), hybrid 0.9082 -> 0.9105.
OLD_VERSION_DEMOTION = 0.5
# A file named for another candidate file of its directory with words put before that name, none of
# which the query uses (bash_completions.go beside completions.go, DataRequest.swift beside
# Request.swift, BatchInsertStatement.kt beside InsertStatement.kt): a variant, below the general one,
# as a port is below the portable code. 0.8: dev split 0.8945 -> 0.8958 (5 queries up, none down;
# leave-one-repository-out 0.8958; 0.9 / 0.7: 0.8955 / 0.8959), docstring set unchanged.
VARIANT_DEMOTION = 0.8
# ... but words that, put before a name, make the general one: AbstractHandler.php is Handler's base.
_GENERAL_MODIFIERS = frozenset({"abstract", "base", "basic", "generic", "default", "common", "core"})
CONTAINER_DEMOTION = 0.8  # a chunk that holds another matching chunk of the same file
# A name part beginning this share of the candidates' names, at least (of this many named candidates), is
# the project's namespace prefix (`uv_` in libuv): a prose query's name overlap reads `uv_ref` as `ref`.
# Dev split 0.8997 -> 0.9004 (libuv: 4 queries up, 1 down; 0.15 and 0.5 the same), docstring set unchanged.
NAMESPACE_SHARE = 0.3
NAMESPACE_MIN_NAMES = 20
ABBREVIATION_MIN = 4  # letters of a name part's stem, at least, to count as a query word's abbreviation
STUB_MAX_LINES = 12  # a declaration without a body is short; longer chunks are not even inspected
# Category -> multiplier for paths/chunks of that category when the query does not ask for it.
DEMOTIONS = {
    "tests": 0.5,
    "benchmarks": 0.5,  # they exercise the code they time, with its names, as tests do
    "examples": 0.7,
    "vendored": 0.5,
    "legacy": 0.7,
    "generated": 0.5,
    "stubs": 0.6,
    "docs": 0.3,
    "config": 0.3,
    # Windows-specific code (`win/`, `*_windows.go`, `*_win.go`): in a cross-platform project, a port of
    # a feature that also has a portable (POSIX) implementation, libuv's win/tcp.c beside unix/tcp.c,
    # cobra's command_win.go beside command.go. The port shares the feature's vocabulary and often has
    # more of it; the portable one is the answer unless the query says Windows. (The twin is not looked
    # for: a Windows-only file sinks too, as an example file does.)
    "windows": 0.7,
    # The same for the ports to minority platforms beside the portable code (libuv's unix/sunos.c,
    # unix/os390.c, unix/aix.c beside unix/core.c): named for an operating system few users run. Linux,
    # the BSDs, macOS, Android and iOS are left out: code for them is as often the main implementation.
    "ports": 0.7,
}
# Languages (indexer.languages) that are prose or data rather than code; None: an unknown text file.
_LANGUAGE_CATEGORIES = {
    "markdown": "docs", "text": "docs", None: "docs",
    "yaml": "config", "toml": "config", "json": "config", "xml": "config", "ini": "config",
}

_DIR_CATEGORIES = {
    "tests": {"test", "tests", "testing", "__tests__", "spec", "specs", "testdata", "test_data", "e2e"},
    "examples": {"example", "examples", "sample", "samples", "demo", "demos", "docs_src", "tutorial"},
    "vendored": {"vendor", "vendored", "_vendor", "third_party", "thirdparty", "node_modules", "external"},
    "legacy": {"legacy", "deprecated", "old", "obsolete", "compat", "shim", "shims"},
    "benchmarks": {"bench", "benches", "benchmark", "benchmarks"},
    "generated": {"generated", "gen", "__generated__", "autogen"},
    "windows": {"win", "win32", "windows"},
    "ports": set(MINORITY_PLATFORMS),
}
_FILE_CATEGORIES = {
    "tests": re.compile(r"^(test_.*|.*_test\.\w+|.*\.(test|spec)\.\w+|conftest\.py|.*Tests?\.(java|kt|cs|swift))$"),
    "benchmarks": re.compile(r"^(bench_.*|.*_bench\.\w+|.*\.bench\.\w+|.*Benchmarks?\.(java|kt|cs|swift|scala))$"),
    "generated": re.compile(r"^(.*_pb2(_grpc)?\.pyi?|.*\.pb\.go|.*\.generated\.\w+|.*\.min\.js|.*_generated\.\w+)$"),
    "stubs": re.compile(r"^.*\.(pyi|d\.ts)$"),
    "windows": re.compile(r"(?i)^(.*[_-])?(windows|win32|win)\.\w+$"),
    "ports": re.compile(rf"(?i)^(.*[_-])?({'|'.join(MINORITY_PLATFORMS)})([_-].*)?\.\w+$"),
}
# A body that only declares: `...`, `pass`, `raise NotImplementedError`, or a C-style prototype.
_STUB_BODY_LINE = re.compile(r"^(\.\.\.|pass|raise NotImplementedError(\(.*\))?|return NotImplemented)$")
# Languages where a definition ending in ";" without a "{" body is a prototype or abstract declaration.
_PROTOTYPE_LANGUAGES = frozenset({"c", "cpp", "java", "csharp", "rust", "typescript", "tsx", "php"})
_SIGNATURE_END = re.compile(r"\)\s*(?:->.*?)?:\s*(.*)$")
_SYMBOL_SEPARATOR = re.compile(r"::|->|#|\.")
_QUALIFIER = re.compile(r"::|->|#")
_OVERLOAD = re.compile(r"^\s*@(typing\.)?overload\b", re.MULTILINE)


@lru_cache(maxsize=16384)
def path_categories(path: str) -> frozenset[str]:
    """The demotable categories a path falls in, from its directory names and file name."""
    *dirs, name = path.split("/")
    lowered = {d.lower() for d in dirs}
    found = {cat for cat, names in _DIR_CATEGORIES.items() if lowered & names}
    found |= {cat for cat, pattern in _FILE_CATEGORIES.items() if pattern.match(name)}
    return frozenset(found)


def is_declaration_stub(hit: Hit) -> bool:
    """A function/method chunk that declares without implementing (overloads, abstract `...` bodies)."""
    if hit.kind not in ("function", "method") or hit.end_line - hit.start_line > STUB_MAX_LINES:
        return False
    if "overload" in hit.text and _OVERLOAD.search(hit.text):
        return True
    if hit.language == "python":
        body = _python_body([ln.strip() for ln in hit.text.splitlines() if ln.strip()])
        return bool(body) and all(_STUB_BODY_LINE.match(ln) for ln in body)
    return hit.language in _PROTOTYPE_LANGUAGES and "{" not in hit.text and hit.text.rstrip().endswith(";")


def _python_body(lines: list[str]) -> list[str]:
    """The statements after the signature of a Python def, decorators, signature and docstring skipped."""
    starts = [i for i, line in enumerate(lines) if line.startswith(("def ", "async def "))]
    for j in range(starts[0] if starts else len(lines), len(lines)):
        end = _SIGNATURE_END.search(lines[j])
        if end:
            body = ([end.group(1).strip()] if end.group(1).strip() else []) + lines[j + 1:]
            return _without_docstring(body)
    return []


def _without_docstring(body: list[str]) -> list[str]:
    quote = body[0].lstrip("rbu")[:3] if body else ""
    if quote not in ('"""', "'''"):
        return body
    if body[0].count(quote) >= 2:
        return body[1:]
    for i in range(1, len(body)):
        if quote in body[i]:
            return body[i + 1:]
    return []


@lru_cache(maxsize=65536)
def _name_parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in split_identifier(name) if p)


def definition_boost(hit: Hit, plan: QueryPlan, namespaces: frozenset[str] = frozenset()) -> float:
    """How strongly `hit` looks like the definition the query is after (1.0 = not at all). `namespaces`:
    the candidates' namespace prefixes (`namespace_prefixes`), left out of a name made of prose words."""
    if not hit.symbol or hit.kind == "file":
        return 1.0
    qualified = _qualified(hit.symbol)
    name = qualified.rsplit(".", 1)[-1]
    if plan.symbol and name == plan.symbol:
        wanted_parent = plan.qualified_symbol.rsplit(".", 1)[0] if plan.qualified_symbol and "." in plan.qualified_symbol else None
        have_parent = (hit.parent or (qualified.rsplit(".", 1)[0] if "." in qualified else "")).lower()
        boost = EXACT_DEFINITION_BOOST
        if wanted_parent and have_parent.endswith(wanted_parent.rsplit(".", 1)[-1]):
            boost = QUALIFIED_DEFINITION_BOOST
        typed_name = symbol_name(hit.symbol)
        # Case tells a type from a field only where the query chose it: a plain word typed in lower case
        # ("session") is how prose is written, not a sign of the attribute `session` over sessions.py.
        if plan.kind == KEYWORD and plan.symbol_text.islower():
            return boost
        return boost * EXACT_CASE_BOOST if typed_name == plan.symbol_text else boost
    if plan.kind == SYMBOL:
        return 1.0
    vocabulary, stems = _query_vocabulary(plan)
    # Only the name itself: crediting the enclosing class's name as well measured worse. Its parts come
    # from the name as written: lower-cased, `JsonElement` would be one word.
    parts = _name_parts(symbol_name(hit.symbol))
    if len(parts) > 1 and parts[0] in namespaces:
        parts = parts[1:]  # `uv_ref` is named `ref`: "reference counting" says all of it
    return 1.0 + NAME_OVERLAP_BOOST * _coverage(parts, vocabulary, stems)


def namespace_prefixes(hits: list[Hit], plan: QueryPlan) -> frozenset[str]:
    """The first name parts that begin at least NAMESPACE_SHARE of the candidates' (several-part) names,
    among NAMESPACE_MIN_NAMES named candidates at least, when the query does not use them: the prefix C
    and shell code put before every name of a project (`uv_` in libuv, `nvm_` in nvm), a namespace
    rather than a word of what the code does."""
    firsts: dict[str, int] = {}
    named = 0
    for hit in hits:
        if hit.symbol and hit.kind != "file":
            named += 1
            parts = _name_parts(symbol_name(hit.symbol))
            if len(parts) > 1:
                firsts[parts[0]] = firsts.get(parts[0], 0) + 1
    if named < NAMESPACE_MIN_NAMES:
        return frozenset()
    vocabulary, stems = _query_vocabulary(plan)
    return frozenset(p for p, n in firsts.items()
                     if n >= NAMESPACE_SHARE * named and p not in vocabulary and word_stem(p) not in stems)


@lru_cache(maxsize=65536)
def _qualified(symbol: str) -> str:
    """`Foo::bar`, `Foo#bar`, `Foo->bar` -> `foo.bar`."""
    return _QUALIFIER.sub(".", symbol).lower()


@lru_cache(maxsize=65536)
def _coverage(parts: tuple[str, ...], vocabulary: frozenset[str], stems: frozenset[str]) -> float:
    """The fraction of a name's (non-stop-word) parts that the query mentions, as such, abbreviated, or
    as the agent noun of its verb."""
    parts = [p for p in parts if p not in STOPWORDS]
    if not parts:
        return 0.0
    return sum(1 for p in parts if p in vocabulary or word_stem(p) in stems or _abbreviates(p, vocabulary)
               or _agent_of(p, stems)) / len(parts)


# Agent nouns: what does the thing a query word says is done. A `checker` checks, a `parser` parses, an
# `iterator` iterates, a `loader` loads: code names its doers so, and a query describes what they do
# ("checks for plugin updates" -> checker.lua). Dev split 0.8973 -> 0.8982 (3 queries up, 1 down; "-er"
# alone: 2 up, 1 down), docstring set unchanged; hybrid (replay, with word_stem's "-y") 0.9147 -> 0.9157.
# A doubled consonant (`mapper` for "maps", `formatter` for "formats") cost fmtlib and monolog three
# queries: not read.
_AGENT_SUFFIXES = ("er", "or")


def _agent_of(part: str, stems: frozenset[str]) -> bool:
    """Whether a name part is the agent noun of a query word's verb: `checker` of "checks", `iterator`
    of "iterates" (the part less its suffix, 4 letters at least, is a query word's stem)."""
    for suffix in _AGENT_SUFFIXES:
        if part.endswith(suffix) and len(part) >= len(suffix) + ABBREVIATION_MIN:
            base = part[: -len(suffix)]
            if base in stems or word_stem(base) in stems:
                return True
    return False


@lru_cache(maxsize=65536)
def _abbreviates(part: str, vocabulary: frozenset[str]) -> bool:
    """Whether a name part is a prefix abbreviation of a query word: `impls` of "implementations", `conn`
    of "connection", `util` of "utilities". Names are shortened so; the table of indexer.query covers
    the shortenings that are not prefixes (`cfg`, `ctx`). Stems of fewer than ABBREVIATION_MIN letters
    (`str`, `con`, `app`) begin too many words to say which."""
    stem = word_stem(part)
    return len(stem) >= ABBREVIATION_MIN and any(len(w) > len(stem) + 2 and w.startswith(stem) for w in vocabulary)


def _query_vocabulary(plan: QueryPlan) -> tuple[frozenset[str], frozenset[str]]:
    """The query's words with their expansions, and the stems of those (asked once per candidate: the
    last plan's answer is kept by identity, which costs less than hashing the plan)."""
    global _last_vocabulary
    last = _last_vocabulary  # one tuple, read and replaced whole: safe across threads
    if last[0] is not plan:
        vocabulary = plan.words | frozenset(plan.expansions) | compounds(plan.terms)
        last = _last_vocabulary = (plan, (vocabulary, frozenset(word_stem(w) for w in vocabulary)))
    return last[1]


_last_vocabulary: tuple = (None, None)


def compounds(terms: tuple[str, ...]) -> frozenset[str]:
    """Each two adjacent query terms written as one word ("thread pool" -> `threadpool`, "URL encoded" ->
    `urlencoded`): lower-case names join words without a separator that identifier splitting could find,
    and a name so written still counts as made of the query's words."""
    return frozenset(a + b for a, b in zip(terms, terms[1:]))


@lru_cache(maxsize=65536)
def word_stem(word: str) -> str:
    """A crude suffix strip so that "lines"/"line", "parsing"/"parse" and "factories"/"factory" meet; good
    enough for overlap. A final "y" after a consonant is written "i", as "-ies" leaves it: "factori" both
    (the other way, "ies" -> "y", would make "cookies" "cooky"). That "y" measured dev split 0.8971 ->
    0.8973 (gson's "exclusion strategies" -> ExclusionStrategy.java; none down)."""
    stem = word.rstrip("e") if len(word) > 3 else word
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            stem = word[: -len(suffix)].rstrip("e")
            break
    if len(stem) > 3 and stem.endswith("y") and stem[-2] not in "aeiouy":
        return stem[:-1] + "i"  # "replying" -> "repli", as "reply" and "replies"
    return stem


# Keywords that declare a name, across the indexed languages, right before it (the name may carry "$").
_DECLARED_BEFORE = re.compile(
    r"(?<![\w$])(?:class|interface|struct|trait|enum|type|typealias|typedef|protocol|module|defmodule|object"
    r"|record|union|namespace|def|defp|fn|func|function|fun|sub|val|var|let|const|define|macro)\s+\$?\Z"
)


# C and C++ declare a name ahead of its definition (`class X;`, `friend class X<T>;`, `struct s;`): what
# follows such a name. (In Rust `struct X;` is a definition, and the other languages have no such form.)
_FORWARD_LANGUAGES = frozenset({"c", "cpp"})
_FORWARD = re.compile(r"\s*(?:<[^<>;{}]*(?:<[^<>;{}]*>[^<>;{}]*)*>)?\s*;")
# Languages where a name assigned at the start of a line, outside any block, is a module's own: Python's
# `g: _AppCtxGlobals = LocalProxy(...)` (flask's globals.py defines `g` and `session` so), a shell
# script's `NVM_DIR=...`. Dev split 0.8994 -> 0.8997 (flask's `g` and `session`, none down).
_ASSIGNING_LANGUAGES = frozenset({"python", "ruby", "lua", "bash", "shell"})
_ASSIGNED = re.compile(r"[ \t]*(?::[^=\n]*)?=(?!=)")


def _word_or_dollar(text: str, i: int) -> bool:
    """Whether text[i] exists and is in the regex class [\\w$]."""
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] in "_$")


def declares(hit: Hit, plan: QueryPlan) -> float:
    """DECLARES_BOOST when a symbol query's name, as typed, is declared in a file or class chunk's text:
    files whose definitions the chunker does not cut out (TypeScript interfaces and consts, C
    macros, a Python module's globals), so that the defining file still stands out. `adjust` asks
    only chunks that are not themselves the definition."""
    name = plan.symbol_text
    if not name or hit.kind not in ("file", "class"):
        return 1.0
    text = hit.text
    # Each whole-word occurrence of the name (`\$?name` with no [\w$] around it), found literally: a
    # regex scan of a large file for a common name costs far more. Only the few characters before it
    # are matched against the declaring keywords.
    at = text.find(name)
    while at != -1:
        start = at - 1 if at > 0 and text[at - 1] == "$" else at
        if not _word_or_dollar(text, start - 1) and not _word_or_dollar(text, at + len(name)):
            if _DECLARED_BEFORE.search(text, max(0, start - 24), start) and not (
                    hit.language in _FORWARD_LANGUAGES and _FORWARD.match(text, at + len(name))):
                return DECLARES_BOOST
            if (start == 0 or text[start - 1] == "\n") and hit.language in _ASSIGNING_LANGUAGES \
                    and _ASSIGNED.match(text, at + len(name)):
                return DECLARES_BOOST
        at = text.find(name, at + 1)
    return 1.0


def file_name_boost(hit: Hit, plan: QueryPlan) -> float:
    """FILE_NAME_BOOST when the file's name, extension dropped, is the queried symbol (case, "_", "-"
    and a plural "s" aside): by convention the file named after a type or module defines it."""
    return FILE_NAME_BOOST if plan.symbol and names_file(hit.path, plan.symbol) else 1.0


def names_file(path: str, name: str) -> bool:
    """Whether the file's name without its extension is `name` (case, "_", "-" and a plural "s" aside)."""
    return _file_stem(path) == word_stem(name.lower().replace("_", ""))


@lru_cache(maxsize=65536)
def symbol_name(symbol: str) -> str:
    """The last part of a qualified symbol: `Foo::bar`, `Foo.bar`, `Foo#bar`, `Foo->bar` -> `bar`."""
    return _SYMBOL_SEPARATOR.split(symbol)[-1]


def _bare_name(path: str) -> str:
    """The file's name without its extension (a dotfile keeps its name)."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name


@lru_cache(maxsize=16384)
def _file_stem(path: str) -> str:
    return word_stem(_bare_name(path).lower().replace("_", "").replace("-", ""))


def file_words_boost(hit: Hit, plan: QueryPlan) -> float:
    """For queries that are not a symbol: 1 + FILE_WORDS_BOOST times the fraction of the file name's
    words that the query mentions ("group handler ..." -> GroupHandler.php over WhatFailureGroupHandler.php,
    "JSON object ..." -> JsonObject.java). A file is named for what it holds; unlike the directories'
    words, which path_boost counts, its name is specific to it. Not for prose describing behaviour
    (QueryPlan.behaviour): one function does what it says, wherever it lives."""
    if (plan.symbol and plan.kind != "mixed") or plan.behaviour:
        return 1.0
    return 1.0 + FILE_WORDS_BOOST * file_name_coverage(hit.path, plan)


def file_name_coverage(path: str, plan: QueryPlan) -> float:
    """The fraction of the file name's words (extension dropped) in the query. A generic name (`util`,
    `helpers`, `main`) counts only when the query says that very word ("lazy util functions")."""
    parts = _file_name_parts(path)
    if not parts:
        generic = _bare_name(path).lower()
        return 1.0 if generic in _GENERIC_STEMS and _says(plan, generic) else 0.0
    vocabulary, stems = _query_vocabulary(plan)
    return _coverage(parts, vocabulary, stems)


def _says(plan: QueryPlan, word: str) -> bool:
    """Whether the query has `word` among its own words (no abbreviation or expansion), in any form."""
    stem = word_stem(word)
    return any(word_stem(w) == stem for w in plan.words)


@lru_cache(maxsize=16384)
def _file_name_parts(path: str) -> tuple[str, ...]:
    stem = _bare_name(path)
    if stem.lower() in _GENERIC_STEMS:
        return ()
    return tuple(_name_parts(stem.replace(".", "_").replace("-", "_")))


@lru_cache(maxsize=16384)
def _file_name_stems(path: str) -> tuple[str, ...]:
    return tuple(word_stem(p) for p in _file_name_parts(path))


def path_boost(hit: Hit, plan: QueryPlan) -> float:
    """1 + PATH_WORD_BOOST per query term found among the path's directory names."""
    path_words, stems = _path_words(hit.path)
    matched = sum(1 for t in plan.terms if t not in STOPWORDS and (t in path_words or word_stem(t) in stems))
    return 1.0 + min(PATH_BOOST_CAP, PATH_WORD_BOOST * matched)


@lru_cache(maxsize=16384)
def _path_words(path: str) -> tuple[frozenset[str], frozenset[str]]:
    """The words of a path's directory names, and their stems."""
    words: set[str] = set()
    for part in path.split("/")[:-1]:  # the file's own name: file_words_boost
        stem = _bare_name(part)
        words.add(stem.lower())
        words.update(_name_parts(stem))
    return frozenset(words), frozenset(word_stem(w) for w in words)


@lru_cache(maxsize=16384)
def core_boost(path: str) -> float:
    """CORE_BOOST for a file under a directory named `core`, `*_core` or `*-core`."""
    dirs = (d.lower() for d in path.split("/")[:-1])
    return CORE_BOOST if any(d == "core" or d.endswith(("_core", "-core")) for d in dirs) else 1.0


def demotions(hit: Hit, plan: QueryPlan) -> dict[str, float]:
    """Multipliers for each demotable category the hit falls in and the query does not ask for."""
    categories = path_categories(hit.path)
    stub = "stubs" not in categories and is_declaration_stub(hit)
    return dict(_demotions(categories, hit.language, stub, plan.asks_for))


@lru_cache(maxsize=4096)
def _demotions(categories: frozenset[str], language: str | None, stub: bool,
               asks_for: frozenset[str]) -> tuple[tuple[str, float], ...]:
    found = set(categories)
    if language in _LANGUAGE_CATEGORIES:
        found.add(_LANGUAGE_CATEGORIES[language])
    if stub:
        found.add("stubs")
    return tuple((f"demote_{c}", DEMOTIONS[c]) for c in sorted(found) if c not in asks_for)


def containers(hits: list[Hit]) -> set[int]:
    """Chunk ids of hits whose span strictly contains another hit of the same file (a class holding a
    matching method, a file holding a matching function): the inner chunk is the more precise answer."""
    by_path: dict[str, list[Hit]] = {}
    for hit in hits:
        by_path.setdefault(hit.path, []).append(hit)
    found: set[int] = set()
    for same_file in by_path.values():
        if len(same_file) < 2:
            continue
        spans = sorted((h.start_line, -h.end_line, h.chunk_id) for h in same_file)
        for i, (start, neg_end, cid) in enumerate(spans):
            for other_start, other_neg_end, _ in spans[i + 1:]:
                if other_start > -neg_end:
                    break
                if -other_neg_end <= -neg_end and (other_start, other_neg_end) != (start, neg_end):
                    found.add(cid)
                    break
    return found


_VERSION_DIR = re.compile(r"v(\d+)")


@lru_cache(maxsize=16384)
def _version_dirs(path: str) -> tuple[tuple[str, int], ...]:
    """(the directory holding it, N) for each `vN` directory of a path: `packages/zod/src/v3/types.ts`
    -> (("packages/zod/src", 3),)."""
    parts = path.split("/")[:-1]
    return tuple(("/".join(parts[:i]), int(m.group(1))) for i, part in enumerate(parts)
                 if (m := _VERSION_DIR.fullmatch(part.lower())))


def superseded_versions(paths, plan: QueryPlan) -> frozenset[tuple[str, int]]:
    """The `vN` directories among `paths` with a newer `vM` beside them (zod's src/v3 beside src/v4),
    as (parent, N), but for a version the query names ("v3 error types")."""
    found = {d for path in paths for d in _version_dirs(path)}
    newest: dict[str, int] = {}
    for parent, n in found:
        newest[parent] = max(newest.get(parent, n), n)
    return frozenset((parent, n) for parent, n in found if n < newest[parent] and f"v{n}" not in plan.words)


def variant_files(paths, plan: QueryPlan) -> frozenset[str]:
    """The files among `paths` named for another of them in the same directory with words put before
    that name that the query does not use (`bash_completions.go` beside `completions.go`, unless the
    query says "bash"). A compound name's head comes last: `bash_completions` is a kind of completions,
    while `GsonBuilder` is no kind of Gson, so only words before the other name count."""
    vocabulary, stems = _query_vocabulary(plan)
    by_dir: dict[str, set[tuple[str, ...]]] = {}
    named: list[tuple[str, str, tuple[str, ...]]] = []
    for path in paths:
        parts = _file_name_parts(path)
        if parts:
            folder = path.rpartition("/")[0]
            by_dir.setdefault(folder, set()).add(_file_name_stems(path))
            named.append((path, folder, parts))
    variants = set()
    for path, folder, parts in named:
        names, stemmed = by_dir[folder], _file_name_stems(path)
        for k in range(1, len(parts)):
            if stemmed[k:] in names and not any(
                    w in _GENERAL_MODIFIERS or _coverage((w,), vocabulary, stems) for w in parts[:k]):
                variants.add(path)
                break
    return frozenset(variants)


def adjust(hits: list[Hit], plan: QueryPlan) -> list[Hit]:
    """Apply the definition, path, container and demotion multipliers to each hit's score; best first.
    `hits` come in fused order (best first)."""
    outer = containers(hits)
    namespaces = namespace_prefixes(hits, plan) if plan.kind != SYMBOL else frozenset()
    paths = {h.path for h in hits}
    superseded = superseded_versions(paths, plan)
    variants = variant_files(paths, plan)
    of_file: dict[str, dict[str, float]] = {}  # the factors that depend on the path alone, once per file
    for rank, hit in enumerate(hits):
        defined = definition_boost(hit, plan, namespaces)
        looked_at = rank < DECLARES_POOL and defined < EXACT_DEFINITION_BOOST
        file_factors = of_file.get(hit.path)
        if file_factors is None:
            file_factors = of_file[hit.path] = {
                "file_name_boost": file_name_boost(hit, plan), "file_words_boost": file_words_boost(hit, plan),
                "path_boost": path_boost(hit, plan), "core_boost": core_boost(hit.path)}
        factors = {"definition_boost": defined, "declares": declares(hit, plan) if looked_at else 1.0, **file_factors}
        # The definition asked for is the answer even when it holds other matching chunks: for a symbol
        # query the one of that name (EXACT_DEFINITION_BOOST and up), for prose one whose name is made
        # wholly of the query's words ("JSON element tree" -> class JsonElement holding `getAsJsonArray`).
        if hit.chunk_id in outer and defined < 1.0 + NAME_OVERLAP_BOOST:
            factors["container_demotion"] = CONTAINER_DEMOTION
        factors.update(demotions(hit, plan))
        if hit.path in variants:
            factors["demote_variant"] = VARIANT_DEMOTION
        if superseded and superseded.intersection(_version_dirs(hit.path)):
            factors["demote_old_version"] = OLD_VERSION_DEMOTION
        lexical_share = hit.explain.get("lexical_share")  # hybrid only: the part of the fused score BM25 gave
        for name, factor in factors.items():
            if factor == 1.0:
                continue
            hit.explain[name] = round(factor, 4)
            if name == "definition_boost" and lexical_share is not None:
                hit.score += lexical_share * (factor - 1.0)  # comes first: score is still the fused one
            else:
                hit.score *= factor
    return sorted(hits, key=lambda h: (-h.score, h.chunk_id))


def diversify(hits: list[Hit], k: int) -> list[Hit]:
    """Greedy re-ranking: past SAME_FILE_FREE chunks of one file, each further one counts
    SAME_FILE_DECAY times less than the one before, so a single file cannot fill the top k."""
    chosen: list[Hit] = []
    per_file: dict[str, int] = {}
    pool = sorted(hits, key=lambda h: (-h.score, h.chunk_id))

    def penalty(hit: Hit) -> float:
        return SAME_FILE_DECAY ** max(0, per_file.get(hit.path, 0) - SAME_FILE_FREE + 1)

    while pool and len(chosen) < k:
        best_i, best = 0, pool[0].score * penalty(pool[0])
        for i in range(1, len(pool)):
            if pool[i].score <= best:  # a penalty only lowers a score: no later hit can do better
                break
            value = pool[i].score * penalty(pool[i])
            if value > best:
                best_i, best = i, value
        hit = pool.pop(best_i)
        factor = penalty(hit)
        if factor != 1.0:
            hit.explain["same_file_penalty"] = round(factor, 4)
            hit.score *= factor
        per_file[hit.path] = per_file.get(hit.path, 0) + 1
        chosen.append(hit)
    return chosen


def aggregate_files(hits: list[Hit], k: int, plan: QueryPlan | None = None) -> list[Hit]:
    """One hit per file, scored by its best chunk plus a little for its further matching chunks:
    FILE_SUPPORT_WEIGHT times the sum of the next FILE_SUPPORT_CHUNKS scores, or, for a prose query
    (`plan` natural or mixed), of all of them, the n-th further one times PROSE_SUPPORT_DECAY ** n
    (BEHAVIOUR_SUPPORT_DECAY ** n when the query describes what one function does).

    The returned hit is the file's best chunk (so a caller can still show where the file matched).
    """
    by_file: dict[str, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: (-h.score, h.chunk_id)):
        by_file.setdefault(hit.path, []).append(hit)
    prose = plan is not None and plan.kind in (MIXED, NATURAL)
    files: list[tuple[float, str, Hit, float]] = []
    for path, chunks in by_file.items():
        best = chunks[0]
        if prose:
            weight, support = FILE_SUPPORT_WEIGHT, 0.0
            decay = BEHAVIOUR_SUPPORT_DECAY if plan.behaviour else PROSE_SUPPORT_DECAY
            for h in chunks[1:]:
                support += weight * h.score
                weight *= decay
        else:
            support = FILE_SUPPORT_WEIGHT * sum(h.score for h in chunks[1:1 + FILE_SUPPORT_CHUNKS])
        files.append((-(best.score + support), path, best, support))
    files.sort(key=lambda f: f[:2])  # paths are distinct: the hits themselves are never compared
    # Only the k returned are copied.
    return [replace(best, score=best.score + support,
                    explain=dict(best.explain, file_best=round(best.score, 6), file_support=round(support, 6)))
            for _, _, best, support in files[:k]]
