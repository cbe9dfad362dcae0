"""Find a checkpoint (local folder or Hugging Face id) and read its parts: config, weights, tokenizer,
sentence-transformers pooling and prompts.

Weights are read from safetensors only (never unpickled). Every key and shape is checked against the
model and the first mismatch is named in the error.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash
from tokenizers import Tokenizer

from model.config import ModernBertConfig
from model.errors import ModelError, ModelNotAvailable

if TYPE_CHECKING:  # torch is imported by load_weights and check_weight_shapes only: model/query.py reads checkpoints without it
    import torch

    from model.modernbert import ModernBertModel

# State-dict prefixes seen in the wild: bare ModernBertModel, ModernBertForMaskedLM ("model."), and
# sentence-transformers exports of the whole pipeline ("0.model.", "0.auto_model.").
KEY_PREFIXES = ("", "model.", "0.model.", "0.auto_model.", "auto_model.")
# Heads that sit beside the encoder in the same file (masked-LM, classifiers) and are not ours to load.
IGNORED_HEADS = ("head.", "decoder.", "classifier.")
CHECKPOINT_FILES = [
    "config.json", "model.safetensors", "model.safetensors.index.json", "model-*.safetensors",
    "tokenizer.json", "modules.json", "1_Pooling/config.json", "config_sentence_transformers.json",
    "sentence_bert_config.json",
]


@dataclass(frozen=True)
class SentenceTransformersInfo:
    """What the sentence-transformers files say about pooling, prompts and length."""

    pooling: str = "mean"  # "cls" (first token) or "mean" (over all tokens, special ones included)
    prompts: dict[str, str] = field(default_factory=dict)  # e.g. {"query": "search_query: "}
    max_seq_length: int | None = None
    include_prompt: bool = True  # False: mean pooling leaves out the prompt's tokens (and [CLS])


def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """A local checkpoint folder, or the cached (else downloaded) snapshot of a Hugging Face model id."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    name = str(name_or_path)
    if path.exists() or path.is_absolute() or name.startswith((".", "~")) or name.count("/") != 1:
        raise ModelError(f"model folder not found: {name} (pass a checkpoint folder or a Hugging Face id)")
    return _hub_snapshot(name)


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import constants, snapshot_download

    try:  # the cache first: no network needed once the model was downloaded
        return Path(snapshot_download(repo_id, allow_patterns=CHECKPOINT_FILES, local_files_only=True))
    except Exception:  # noqa: BLE001 - huggingface_hub raises several types for "not cached"
        pass
    how = (
        f"download it once with network access (`hf download {repo_id}`) "
        f"or pass a local checkpoint folder"
    )
    if constants.HF_HUB_OFFLINE:
        raise ModelNotAvailable(f"model {repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: {how}")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=CHECKPOINT_FILES, etag_timeout=10))
    except Exception as exc:  # noqa: BLE001 - network, auth and missing-repo errors all mean "not available"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelNotAvailable(f"model {repo_id} could not be downloaded ({reason}): {how}") from None


def read_config(folder: Path) -> ModernBertConfig:
    try:
        raw = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        raise ModelError(f"{folder} has no config.json: not a Hugging Face checkpoint folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{folder / 'config.json'} is not valid JSON: {exc}") from None
    try:
        return ModernBertConfig.from_dict(raw)
    except ModelError as exc:
        detail = str(exc).removeprefix("config.json ").removesuffix(" in config.json")
        raise ModelError(f"{folder / 'config.json'}: {detail}") from None


def weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / shard for shard in shards]
    if (folder / "model.safetensors").exists():
        return [folder / "model.safetensors"]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise ModelError(f"{folder} has only pickled weights; convert them to model.safetensors (we never unpickle)")
    raise ModelError(f"{folder} has no model.safetensors")


def load_weights(model: ModernBertModel, folder: Path) -> None:
    """Copy the checkpoint's tensors into `model`, checking every key and shape (float32 in memory)."""
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    for file in weight_files(folder):
        try:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():
                    tensors[key] = f.get_tensor(key)
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for bad files
            raise ModelError(f"cannot read {file}: {exc}") from None
    expected = model.state_dict()
    prefix = _match_shapes({k: tuple(v.shape) for k, v in tensors.items()},
                           {k: tuple(v.shape) for k, v in expected.items()}, folder)
    ours = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    model.load_checkpoint_state({k: ours[k].float() for k in expected})


def check_weight_shapes(config: ModernBertConfig, folder: Path) -> None:
    """Check the checkpoint's keys and shapes against the config before any memory is allocated from
    it: the shapes come from the safetensors headers, the expected ones from a model on the meta device."""
    import torch
    from safetensors import safe_open

    from model.modernbert import ModernBertModel

    shapes: dict[str, tuple[int, ...]] = {}
    for file in weight_files(folder):
        try:
            with safe_open(str(file), framework="pt") as f:
                shapes.update({key: tuple(f.get_slice(key).get_shape()) for key in f.keys()})
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for bad files
            raise ModelError(f"cannot read {file}: {exc}") from None
    # The embedding table first: its shape alone tells a config whose sizes overflow even on the meta device.
    _match_shapes(shapes, {"embeddings.tok_embeddings.weight": (config.vocab_size, config.hidden_size)}, folder,
                  partial=True)
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in ModernBertModel(config).state_dict().items()}
    except RuntimeError as exc:  # "Storage size calculation overflowed"
        raise ModelError(f"{folder / 'config.json'}: sizes too large for any model ({exc})") from None
    _match_shapes(shapes, expected, folder)


def _match_shapes(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]], folder: Path,
                  partial: bool = False) -> str:
    """The key prefix of the checkpoint's encoder weights; ModelError naming the first missing,
    misshapen or (unless `partial`: only some are expected) unexpected weight."""
    anchor = "embeddings.tok_embeddings.weight"
    prefix = next((p for p in KEY_PREFIXES if p + anchor in found), None)
    if prefix is None:
        raise ModelError(f"{folder}: no {anchor} in the weights under any of the prefixes {list(KEY_PREFIXES)}")
    for key, shape in expected.items():
        if prefix + key not in found:
            raise ModelError(f"{folder}: weight {prefix + key!r} is missing from the checkpoint")
        if found[prefix + key] != shape:
            raise ModelError(
                f"{folder}: weight {prefix + key!r} has shape {found[prefix + key]}, the config expects {shape}"
            )
    for key in [] if partial else found:
        rest = key[len(prefix):] if key.startswith(prefix) else key.removeprefix("0.")
        if rest not in expected and not rest.startswith(IGNORED_HEADS):
            raise ModelError(f"{folder}: unexpected weight {key!r} in the checkpoint")
    return prefix


def check_tokenizer(tokenizer: Tokenizer, config: ModernBertConfig, folder: Path) -> None:
    """ModelError when the tokenizer makes ids past the embedding table (they would fail mid-run)."""
    if tokenizer.get_vocab_size(with_added_tokens=True) > config.vocab_size:
        raise ModelError(f"{folder / 'tokenizer.json'} has {tokenizer.get_vocab_size(with_added_tokens=True)} "
                         f"tokens, past the model's vocabulary (vocab_size {config.vocab_size})")


def weights_fingerprint(folder: Path) -> str:
    """A hash of the config and weight bytes: changes whenever the weights change."""
    digest = xxhash.xxh3_128()
    digest.update((folder / "config.json").read_bytes())
    for file in weight_files(folder):
        with open(file, "rb") as f:
            while block := f.read(1 << 24):
                digest.update(block)
    return digest.hexdigest()


def load_tokenizer(folder: Path) -> Tokenizer:
    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - the tokenizers library raises a bare Exception
        raise ModelError(f"cannot read {folder / 'tokenizer.json'}: {exc}") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()  # the encoder truncates itself, so it can count what it truncated
    return tokenizer


def read_sentence_transformers(folder: Path) -> SentenceTransformersInfo:
    """Pooling mode, prompts and max length from the sentence-transformers files, where present.

    Without a pooling config we pool like sentence-transformers does for a bare model: mean.
    """
    pooling = "mean"
    modules = _json_or_none(folder / "modules.json") or []
    pooling_dir = next((m["path"] for m in modules if m.get("type", "").endswith("Pooling")), "1_Pooling")
    pooling_config = _json_or_none(folder / pooling_dir / "config.json")
    if pooling_config:
        if pooling_config.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif pooling_config.get("pooling_mode_mean_tokens"):
            pooling = "mean"
        else:
            raise ModelError(f"{folder}: unsupported pooling mode in {pooling_dir}/config.json (only cls and mean)")
    include_prompt = bool((pooling_config or {}).get("include_prompt", True))
    prompts = (_json_or_none(folder / "config_sentence_transformers.json") or {}).get("prompts") or {}
    max_seq_length = (_json_or_none(folder / "sentence_bert_config.json") or {}).get("max_seq_length")
    return SentenceTransformersInfo(
        pooling=pooling, prompts=dict(prompts), max_seq_length=max_seq_length, include_prompt=include_prompt
    )


def _json_or_none(path: Path):
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON: {exc}") from None
