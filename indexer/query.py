"""Query understanding: what kind of query this is, which terms it carries, and what it asks for.

A symbol-like query (`parse_config`, `Foo::bar`, `HttpClient.send`) is best answered by lexical evidence
and by the chunk that defines the symbol; a natural-language query ("where do we retry failed uploads")
leans on the semantic side. `classify_query` decides, and `QueryPlan` carries the decision together with
the lexical terms, the symbol being asked about, whether the query itself mentions tests, examples,
vendored code or declaration stubs (then the ranking layer does not demote them), and whether prose
describes what one function does ("Returns the parsed links", as a docstring would) rather than naming
a subject ("link header parsing"): the ranking layer then leans on the best chunk, not the file's name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.lexical import code_tokens, split_identifier

# Query kinds, from most to least code-shaped.
SYMBOL = "symbol"  # one identifier with code shape: snake_case, camelCase, Foo::bar, a.b, f()
KEYWORD = "keyword"  # one or two plain words ("tokenizer", "retry backoff"): lexical and semantic alike
MIXED = "mixed"  # prose that names identifiers ("where is parse_config called")
NATURAL = "natural"  # prose only
QUERY_KINDS = (SYMBOL, KEYWORD, MIXED, NATURAL)

MAX_QUERY_TERMS = 64  # a pasted snippet as a query: its first terms say enough, and keep FTS5 fast

# How much each side counts in fusion, per query kind: (lexical, semantic). Set on the public benchmark's
# dev split with all-MiniLM-L6-v2 as the semantic side, the one trained model to be had here (BENCHMARKS.md):
# prose leans on the model more than identifiers do. Natural 1.5 and mixed 0.4 (before: 2.0 and 1.2) took
# hybrid 0.893 -> 0.897 against lexical 0.877 on the same index, and every fold of a leave-one-repository-out
# search over these weights picked them; the proxy adds nothing to mixed queries (prose naming identifiers),
# which lexical evidence answers. With session 10's lexical rules natural prose needs less of the model: 1.5
# -> 1.3 took hybrid 0.9177 -> 0.9197 (replay, natural 1.25 / 1.375 / 1.45: 0.9188 / 0.9182 / 0.9181;
# leave-one-repository-out 0.9188). Re-tune with `benchmarks/semble.py --weights` for another model.
# The semantic weight is further scaled, per query, by how far the model agrees with BM25 (indexer.fusion).
FUSION_WEIGHTS = {
    SYMBOL: (1.0, 0.35),
    KEYWORD: (1.0, 0.7),
    MIXED: (1.0, 0.4),
    NATURAL: (0.8, 1.3),
}

_CODE_SEPARATOR = re.compile(r"::|->|\.|#|/|\\")
_IDENTIFIER_SHAPE = re.compile(
    r"""^[A-Za-z_$][\w$]*(?:(?:::|->|\.|\#)[A-Za-z_$][\w$]*)*(?:\(\))?$"""
)
_CALL_OR_GENERIC = re.compile(r"\w\(|\w<|\w\[")

# Function words that carry no meaning for a lexical match. Kept small on purpose: words such as
# "return", "error" or "file" are real code vocabulary and BM25's idf already weighs them.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from into onto as is are was were be been being
    this that these those it its it's there their them they we our you your i my me he she his her
    do does did done so than then such can could should would will shall may might must not no nor
    how what when where which who whom whose why any all each every some other same own about over
    under again further only very just also too here up down out off above below between through
    during before after while until one given""".split()
)

# Words a query uses for what code abbreviates, and the reverse, so that "initialize the configuration"
# finds `init_config`. Each entry adds the other forms as extra (lower-weight) lexical terms.
_ABBREVIATIONS = {
    "argument": ("arg", "args"),
    "arguments": ("args", "argv"),
    "attribute": ("attr", "attrs"),
    "boolean": ("bool",),
    "buffer": ("buf",),
    "character": ("char", "chr"),
    "command": ("cmd",),
    "configuration": ("config", "conf", "cfg"),
    "context": ("ctx",),
    "current": ("cur", "curr"),
    "database": ("db",),
    "dictionary": ("dict",),
    "directory": ("dir", "dirname"),
    "document": ("doc",),
    "element": ("elem", "el"),
    "environment": ("env",),
    "error": ("err",),
    "exception": ("exc", "err"),
    "expression": ("expr",),
    "function": ("func", "fn"),
    "identifier": ("id", "ident"),
    "index": ("idx",),
    "initialize": ("init",),
    "initialise": ("init",),
    "iterator": ("iter",),
    "length": ("len",),
    "library": ("lib",),
    "maximum": ("max",),
    "message": ("msg",),
    "minimum": ("min",),
    "number": ("num",),
    "object": ("obj",),
    "parameter": ("param", "params"),
    "position": ("pos",),
    "previous": ("prev",),
    "reference": ("ref",),
    "request": ("req",),
    "response": ("resp", "res"),
    "source": ("src",),
    "string": ("str",),
    "temporary": ("tmp", "temp"),
    "value": ("val",),
    "variable": ("var",),
}

# Phrases a query spells out and code writes as their initials ("file system operations" -> fs.c,
# `uv_fs_read`), as extra terms like the single-word abbreviations; a query word in the plural counts
# as its singular ("file systems"). Dev split 0.8958 -> 0.8971 (libuv "file system ...", serde
# "standard library ..."; 2 queries up, 1 down), docstring set unchanged.
_PHRASE_ABBREVIATIONS = {
    ("file", "system"): ("fs",), ("operating", "system"): ("os",), ("standard", "library"): ("std",),
    ("command", "line"): ("cli",), ("user", "interface"): ("ui",), ("input", "output"): ("io",),
    ("regular", "expression"): ("regex",), ("abstract", "syntax", "tree"): ("ast",),
    ("file", "descriptor"): ("fd",), ("process", "id"): ("pid",), ("virtual", "machine"): ("vm",),
    ("garbage", "collection"): ("gc",), ("garbage", "collector"): ("gc",), ("just", "in", "time"): ("jit",),
    ("inter", "process", "communication"): ("ipc",), ("remote", "procedure", "call"): ("rpc",),
    ("time", "to", "live"): ("ttl",), ("key", "value"): ("kv",), ("least", "recently", "used"): ("lru",),
    ("transport", "layer", "security"): ("tls",), ("secure", "shell"): ("ssh",),
    ("random", "number", "generator"): ("rng",), ("message", "queue"): ("mq",),
    ("domain", "name", "system"): ("dns",), ("access", "control", "list"): ("acl",),
}
_PHRASE_LENGTHS = sorted({len(phrase) for phrase in _PHRASE_ABBREVIATIONS}, reverse=True)


def phrase_abbreviations(text: str) -> list[str]:
    """The initials code uses for the phrases `text` spells out (_PHRASE_ABBREVIATIONS), those of the
    longest phrases first."""
    words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
             for w in re.findall(r"[a-z]+", text.lower())]
    found: list[str] = []
    for n in _PHRASE_LENGTHS:
        for i in range(len(words) - n + 1):
            found.extend(_PHRASE_ABBREVIATIONS.get(tuple(words[i:i + n]), ()))
    return list(dict.fromkeys(found))


# Verbs a docstring's first sentence starts with ("Return the parsed links", "Writes a null-terminated
# string"): a query so phrased says what one piece of code does, not which subject it is about. Words
# that head a subject at least as often ("log rotation", "filter handler", "map of names", "test
# fixtures", "format string", "search index", "request hooks") are left out.
_DESCRIBING_VERBS = frozenset("""
    accept add adjust align allow analyze append apply assert assign attach build calculate call cancel
    check clean clear clip close collect combine commit compare compile compute configure connect
    construct convert copy count create decide declare decode define delete describe detect determine
    disable dispatch do drop dump emit enable encode ensure escape evaluate execute expand extract fetch
    fill find finish flush generate get give handle hold indicate initialize inject insert install
    interpret invoke iterate join keep load look lookup lowercase make manage mark merge move normalize
    notify obtain open override pad parse pass perform pop prepare present print produce prompt provide
    push put quote raise read rebuild receive reconfigure reduce register reload remove render repeat
    replace represent reset resolve restore restrict retrieve return reverse rewrite run save scan schedule
    select send serialize set setup show skip sort split start stop strip substitute take tell throw
    toggle transform translate traverse truncate try unquote unset unwrap update upgrade use validate
    verify visit wait walk warn wrap write yield
""".split())


def describes_behaviour(text: str) -> bool:
    """Whether a prose query starts with a verb in the imperative or third person ("Return ...",
    "Parses ..."), as a docstring does: it describes one function's behaviour."""
    first = text.split(maxsplit=1)[0].lower().strip(",;:?!.'\"`") if text.strip() else ""
    if first in _DESCRIBING_VERBS:
        return True
    if first.endswith("ies") and first[:-3] + "y" in _DESCRIBING_VERBS:
        return True
    if first.endswith("es") and first[:-2] in _DESCRIBING_VERBS:
        return True
    return first.endswith("s") and first[:-1] in _DESCRIBING_VERBS


# Operating systems few users run, for which portable C code keeps ports beside its main implementation
# (indexer.ranking, "ports"): the names their files and directories go by.
MINORITY_PLATFORMS = ("sunos", "solaris", "illumos", "aix", "os390", "zos", "ibmi", "os400", "haiku", "hurd",
                      "qnx", "cygwin", "minix")

# Query words that ask for code the ranking layer would otherwise demote.
_ASKS_FOR = {
    "tests": {"test", "tests", "testing", "spec", "specs", "unittest", "pytest", "fixture", "fixtures", "mock"},
    "examples": {"example", "examples", "sample", "samples", "demo", "demos", "tutorial"},
    "vendored": {"vendor", "vendored", "third_party", "thirdparty", "external"},
    "legacy": {"legacy", "deprecated", "old", "compat", "compatibility", "shim", "shims"},
    "benchmarks": {"benchmark", "benchmarks", "bench", "benches", "benchmarking"},
    "generated": {"generated", "autogenerated", "codegen", "protobuf", "pb"},
    "docs": {"doc", "docs", "documentation", "readme", "guide", "changelog", "markdown", "manual"},
    "config": {"yaml", "yml", "toml", "json", "xml", "ini", "manifest", "workflow", "workflows"},
    "windows": {"windows", "win32", "win", "winapi", "msvc", "iocp"},
    "ports": {*MINORITY_PLATFORMS, "ibm"},
    "stubs": {"stub", "stubs", "pyi", "declaration", "declarations", "typing", "interface", "interfaces"},
}


@dataclass(frozen=True)
class QueryPlan:
    """Everything later stages need to know about one query."""

    text: str
    kind: str  # one of QUERY_KINDS
    terms: tuple[str, ...]  # lexical terms, in query order, deduplicated (identifiers whole and split)
    expansions: tuple[str, ...]  # abbreviation/long forms of the terms, matched with a lower weight
    symbol: str | None  # the identifier asked about, last component lower-cased ("send" for HttpClient.send)
    qualified_symbol: str | None  # the whole identifier, separators normalised to "." ("httpclient.send")
    symbol_text: str | None  # the symbol's last component as typed ("send", "URL"): case tells a type from a field
    words: frozenset[str]  # every lower-cased word of the query and its identifier parts (for path/symbol overlap)
    asks_for: frozenset[str]  # keys of _ASKS_FOR the query mentions
    behaviour: bool = False  # prose phrased as what code does ("Returns the parsed links"): describes_behaviour

    @property
    def lexical_weight(self) -> float:
        return FUSION_WEIGHTS[self.kind][0]

    @property
    def semantic_weight(self) -> float:
        return FUSION_WEIGHTS[self.kind][1]


def _is_code_shaped(token: str) -> bool:
    """A token a person would only type when naming code: separators, underscores, inner capitals, ()."""
    if not _IDENTIFIER_SHAPE.match(token) and not _CALL_OR_GENERIC.search(token):
        return False
    bare = token.rstrip("()")
    return (
        "_" in bare.strip("_")
        or bool(_CODE_SEPARATOR.search(bare))
        or token.endswith("()")
        or bool(re.search(r"[a-z][A-Z]", bare))
        or (bare[:1].isupper() and any(c.islower() for c in bare) and len(split_identifier(bare)) > 1)
        or bare.isupper() and len(bare) > 1 and "_" in bare
        or bare.startswith("$")
    )


def classify_query(text: str) -> str:
    """SYMBOL, KEYWORD, MIXED or NATURAL (see the module constants)."""
    tokens = text.split()
    if not tokens:
        return NATURAL
    shaped = [t for t in tokens if _is_code_shaped(t.strip(",;:?!'\"`"))]
    if len(tokens) == 1:
        return SYMBOL if shaped else KEYWORD
    if shaped:
        return SYMBOL if len(tokens) == len(shaped) and len(tokens) <= 2 else MIXED
    content = [t for t in tokens if t.lower().strip(",;:?!.'\"") not in STOPWORDS]
    return KEYWORD if len(tokens) <= 2 and len(content) == len(tokens) else NATURAL


def _symbol_of(text: str, kind: str) -> tuple[str | None, str | None, str | None]:
    """The identifier a symbol-like query names: the code-shaped token, or the single keyword."""
    candidates = [t.strip(",;:?!'\"`").rstrip("()") for t in text.split()]
    if kind == MIXED:
        candidates = [t for t in candidates if _is_code_shaped(t)]
    elif kind != SYMBOL and not (kind == KEYWORD and len(candidates) == 1):
        return None, None, None
    if not candidates:
        return None, None, None
    typed = _CODE_SEPARATOR.sub(".", candidates[0]).strip(".")
    qualified = typed.lower()
    last = qualified.rsplit(".", 1)[-1]
    return (last or None), (qualified or None), (typed.rsplit(".", 1)[-1] or None)


def plan_query(text: str) -> QueryPlan:
    """Classify `text` and derive its lexical terms, symbol and demotion overrides."""
    text = text.strip()
    kind = classify_query(text)
    terms: list[str] = []
    for token in code_tokens(text):
        # Keep stop words only when the query is nothing but stop words ("is", "do" may be a symbol).
        if token not in terms and (token not in STOPWORDS or kind == SYMBOL):
            terms.append(token)
    if not terms:
        terms = list(dict.fromkeys(code_tokens(text)))
    # A symbol query names the code exactly; expanding it would only add noise.
    expansions = [] if kind == SYMBOL else [
        alt for term in terms for alt in _ABBREVIATIONS.get(term, ()) if alt not in terms
    ] + [alt for alt in phrase_abbreviations(text) if alt not in terms]
    terms = terms[:MAX_QUERY_TERMS]
    words = frozenset(w.lower() for w in re.findall(r"\w+", text)) | frozenset(terms)
    asks_for = frozenset(key for key, vocab in _ASKS_FOR.items() if words & vocab)
    symbol, qualified, symbol_text = _symbol_of(text, kind)
    return QueryPlan(
        text=text,
        kind=kind,
        terms=tuple(terms),
        expansions=tuple(dict.fromkeys(expansions)),
        symbol=symbol,
        qualified_symbol=qualified,
        symbol_text=symbol_text,
        words=words,
        asks_for=asks_for,
        behaviour=kind in (MIXED, NATURAL) and describes_behaviour(text),
    )
