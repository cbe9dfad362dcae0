"""Named exceptions of the indexer and search layers; the CLI turns each into one line on stderr."""


class IndexError_(Exception):
    """Base class for index problems (named with a trailing underscore to avoid the builtin)."""


class IndexMissing(IndexError_):
    """No index exists at the given location."""


# The commands that repair a damaged index. Derived parts (FAISS files, the FTS5 table, damaged cached
# embeddings) are rebuilt by the next update; a damaged database is moved aside by a full rebuild.
REPAIR_UPDATE = "codesearch index"
REPAIR_FULL = "codesearch index --full"


class IndexCorrupt(IndexError_):
    """The index exists but cannot be read; `repair` is the one command that repairs it."""

    def __init__(self, message: str, repair: str = REPAIR_FULL):
        super().__init__(message)
        self.repair = repair


class IndexLocked(IndexError_):
    """Another process is writing the index."""


class IndexStale(IndexError_):
    """The index was built with another model or chunker options; a full reindex is needed."""


class BadRevision(IndexError_):
    """A revision given to the indexer (`--since`) names no commit."""


class UnsafeIndexFolder(IndexError_):
    """The index folder holds a symlink, through which a write would land outside it."""


class SemanticSearchUnavailable(ValueError):
    """Semantic search was asked for, but there is no encoder or the index holds no vectors."""


class QueriesFileError(ValueError):
    """An evaluation queries file is missing or a line of it is not a valid record (the message names it)."""
