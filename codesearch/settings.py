"""One settings object for every command: flag > CODESEARCH_* environment variable > config file > default.

The config file is `.codesearch.toml` (top-level keys) or, when that is absent, the `[tool.codesearch]`
table of `pyproject.toml`, both at the repository root. Keys are the field names of `Settings`; the
environment variable of a field is `CODESEARCH_` + its name in upper case (`CODESEARCH_BATCH_TOKENS`).

The config file belongs to the repository, which may not be the user's: it is read only from inside the
root, and an `index_dir` it sets (or the default `.codesearch`, if it is a symlink) must stay inside the
root. Only the user puts the index elsewhere, with `--index-dir` or `CODESEARCH_INDEX_DIR`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from indexer import confined

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# Kept equal to model.DEFAULT_MODEL_ID (a test checks) so that `--help` need not import torch.
DEFAULT_MODEL_ID = "Alibaba-NLP/gte-modernbert-base"
SEARCH_MODES = ("hybrid", "semantic", "lexical")
DTYPES = ("auto", "float32", "bfloat16", "int8")  # what model.load_encoder accepts
CONFIG_FILE = ".codesearch.toml"
ENV_PREFIX = "CODESEARCH_"


class SettingsError(Exception):
    """A setting has a value that cannot be used; the message names where the value came from."""


@dataclass(frozen=True)
class Settings:
    # Folder holding the index (index.sqlite, vectors.faiss, lock); a relative path is taken from the
    # repository root.
    index_dir: str = ".codesearch"
    # Model folder or Hugging Face hub id. Search uses the model the index was built with unless this
    # is set explicitly; index uses this (default: gte-modernbert-base).
    model: str = DEFAULT_MODEL_ID
    # torch device for the encoder: "auto" (CUDA when present, else CPU), "cpu", "cuda", "cuda:1", ...
    device: str = "auto"
    # Encoder precision: "auto" runs bfloat16 where the hardware has it (CUDA, AVX-512 BF16/AMX CPUs) and
    # it keeps a pooled cosine >= 0.9999 against float32 on probe texts, else float32.
    dtype: str = "auto"
    # Tokens per encoder batch (padding-free packing); 0 lets the indexer choose for the device.
    batch_tokens: int = 0
    # Search mode when --mode is not given: hybrid fuses semantic and lexical ranking.
    mode: str = "hybrid"
    # Number of hits search returns when -k/--top is not given.
    top: int = 10
    # Lines shown around each hit's best-matching line in human output.
    context: int = 3

    def index_path(self, root: Path) -> Path:
        """The index folder for a repository root."""
        path = Path(self.index_dir).expanduser()
        return path if path.is_absolute() else root / path


_CHOICES: dict[str, tuple[str, ...]] = {"mode": SEARCH_MODES, "dtype": DTYPES}
_NON_NEGATIVE = ("batch_tokens", "context")
_POSITIVE = ("top",)


def env_var(name: str) -> str:
    """The environment variable that sets a field."""
    return ENV_PREFIX + name.upper()


def read_config_file(root: Path) -> tuple[dict[str, Any], str | None]:
    """The config table found at the repository root and a label naming where it came from."""
    dedicated = root / CONFIG_FILE
    if dedicated.is_file():
        return _load_toml(root, CONFIG_FILE), str(dedicated)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        table = _load_toml(root, "pyproject.toml").get("tool", {}).get("codesearch")
        if table is not None:
            if not isinstance(table, dict):
                raise SettingsError(f"{pyproject}: [tool.codesearch] must be a table")
            return table, f"{pyproject} [tool.codesearch]"
    return {}, None


def _load_toml(root: Path, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(confined.read_file(root, name).decode("utf-8"))
    except (OSError, confined.Refused, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {root / name}: {exc}") from exc


def load_settings(
    root: Path, flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge the layers for a repository root; flags set to None count as not given."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    file_values, file_label = read_config_file(root)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(file_values) - known)
    if unknown:
        raise SettingsError(
            f"{file_label}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    index_dir_origin: str | None = f"the default index folder {Settings.index_dir}"  # None: the user's
    for field in fields(Settings):
        name = field.name
        if flags.get(name) is not None:
            raw, origin = flags[name], f"--{name.replace('_', '-')}"
        elif environ.get(env_var(name)) not in (None, ""):
            raw, origin = environ[env_var(name)], env_var(name)
        elif name in file_values:
            raw, origin = file_values[name], f"{file_label}: {name}"
        else:
            continue
        value = _convert(name, raw, type(field.default), origin)
        if name == "index_dir":
            index_dir_origin = origin
            if origin != f"{file_label}: {name}":
                # Typed on a command line (or exported from one): relative to the working directory.
                value = str(Path(value).expanduser().resolve())
                index_dir_origin = None
        values[name] = value
    settings = Settings(**values)
    if index_dir_origin is not None:
        _confine_index_dir(root, settings, index_dir_origin)
    return settings


def _confine_index_dir(root: Path, settings: Settings, origin: str) -> None:
    """Refuse an index folder that the repository chose (config file, or a symlinked default folder)
    when it lies outside the repository: the index would be written there."""
    real_root = Path(root).resolve()
    where = settings.index_path(real_root).resolve()
    if not where.is_relative_to(real_root):
        raise SettingsError(
            f"{origin}: the index folder {where} is outside the repository {real_root}; a repository may "
            f"not put its index there (to allow it, pass --index-dir {where} or set {env_var('index_dir')})"
        )


def explicit_model(flags: Mapping[str, Any], root: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the model was chosen by the user (flag, environment or config) rather than defaulted."""
    environ = os.environ if environ is None else environ
    if flags.get("model") is not None or environ.get(env_var("model")):
        return True
    return "model" in read_config_file(root)[0]


def _convert(name: str, raw: Any, kind: type, origin: str) -> Any:
    if kind is int:
        if isinstance(raw, bool):
            raise SettingsError(f"{origin}: expected a whole number, got {raw!r}")
        try:
            value: Any = int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{origin}: expected a whole number, got {raw!r}") from None
        if name in _NON_NEGATIVE and value < 0 or name in _POSITIVE and value < 1:
            raise SettingsError(f"{origin}: {value} is out of range")
        return value
    if not isinstance(raw, str):
        raise SettingsError(f"{origin}: expected a string, got {raw!r}")
    if name in _CHOICES and raw not in _CHOICES[name]:
        raise SettingsError(f"{origin}: {raw!r} is not one of {', '.join(_CHOICES[name])}")
    return raw
