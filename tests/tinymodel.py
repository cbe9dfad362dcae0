"""Build a tiny, real ModernBERT checkpoint folder with seeded random weights, for tests.

The folder looks like a sentence-transformers ModernBERT embedding model on the Hugging Face hub
(gte-modernbert-base style): `config.json`, `model.safetensors`, `tokenizer.json`, `modules.json`,
`1_Pooling/config.json`, `config_sentence_transformers.json`, `sentence_bert_config.json`.

Defaults: 4 layers (0 and 3 global, 1 and 2 local), hidden 64, 4 heads, an 8192-token context and a
128-token local window, so inputs longer than 65 tokens exercise the window. Everything is
deterministic: the same overrides give byte-identical files.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]  # ids 0..4, in this order
DEFAULT_PROMPTS = {"query": "search_query: ", "document": "search_document: "}

_IDENTIFIERS = [
    "parse", "config", "load", "save", "index", "search", "query", "token", "vector", "embed",
    "file", "path", "reader", "writer", "buffer", "request", "response", "handler", "user", "cache",
    "count", "value", "items", "result", "error", "open", "close", "stream", "chunk", "model",
]
_TEMPLATES = [
    "def {a}_{b}(self, {c}):\n    return self.{d}({c})\n",
    "function {a}{B}({c}) {{\n  const {d} = {c}.{b};\n  return {d};\n}}\n",
    "func {A}{B}({c} string) error {{\n\tif {c} == \"\" {{\n\t\treturn nil\n\t}}\n\treturn {d}({c})\n}}\n",
    "class {A}{B}:\n    \"\"\"{A} the {b} of a {c}.\"\"\"\n    {d}: int = 0\n",
    "fn {a}_{b}(&mut self, {c}: &str) -> Result<(), Error> {{ self.{d}.push({c}); Ok(()) }}\n",
    "# {A} {b}s every {c} before the {d} is written\nfor {c} in {d}:\n    {a}({c})\n",
    "public int {a}{B}(int {c}) {{ return this.{d} + {c}; }}\n",
]


def training_corpus(size: int = 6000, seed: int = 0) -> list[str]:
    """A few KB of deterministic code-like lines to train the tokenizer on."""
    rng = random.Random(seed)
    lines, total = [], 0
    while total < size:
        a, b, c, d = (rng.choice(_IDENTIFIERS) for _ in range(4))
        text = rng.choice(_TEMPLATES).format(a=a, b=b, c=c, d=d, A=a.title(), B=b.title())
        lines.append(text)
        total += len(text)
    return lines


def build_tokenizer(vocab_size: int = 512) -> Tokenizer:
    """A byte-level BPE tokenizer with ModernBERT's special tokens and `[CLS] $A [SEP]` framing."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 1), ("[SEP]", 2)],
    )
    return tokenizer


def _config_json(
    *, config_style: str, hidden: int, layers: int, heads: int, intermediate: int, vocab: int,
    activation: str, bias: bool, max_positions: int, local_attention: int, pooling: str,
) -> dict:
    config = {
        "architectures": ["ModernBertModel"],
        "model_type": "modernbert",
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "hidden_activation": activation,
        "max_position_embeddings": max_positions,
        "norm_eps": 1e-5,
        "norm_bias": bias,
        "attention_bias": bias,
        "mlp_bias": bias,
        "local_attention": local_attention,
        "pad_token_id": 3,
        "cls_token_id": 1,
        "sep_token_id": 2,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "classifier_pooling": pooling,
        "torch_dtype": "float32",
    }
    if config_style == "legacy":
        config.update(global_attn_every_n_layers=3, global_rope_theta=160000.0, local_rope_theta=10000.0)
    elif config_style == "new":
        config["layer_types"] = [
            "full_attention" if i % 3 == 0 else "sliding_attention" for i in range(layers)
        ]
        config["rope_parameters"] = {
            "full_attention": {"rope_type": "default", "rope_theta": 160000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        }
    else:
        raise ValueError(f"config_style must be 'legacy' or 'new', not {config_style!r}")
    return config


def random_state_dict(
    *, hidden: int, layers: int, intermediate: int, vocab: int, bias: bool, seed: int
) -> dict[str, torch.Tensor]:
    """Seeded random weights under ModernBertModel's own key names (no prefix)."""
    gen = torch.Generator().manual_seed(seed)

    def normal(*shape: int, std: float = 0.05, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=gen) * std + mean

    def norm(name: str) -> dict[str, torch.Tensor]:
        out = {f"{name}.weight": normal(hidden, std=0.1, mean=1.0)}
        if bias:
            out[f"{name}.bias"] = normal(hidden, std=0.1)
        return out

    def linear(name: str, n_out: int, n_in: int) -> dict[str, torch.Tensor]:
        out = {f"{name}.weight": normal(n_out, n_in, std=n_in**-0.5)}
        if bias:
            out[f"{name}.bias"] = normal(n_out, std=0.05)
        return out

    state = {"embeddings.tok_embeddings.weight": normal(vocab, hidden, std=1.0)}
    state.update(norm("embeddings.norm"))
    for i in range(layers):
        p = f"layers.{i}"
        if i > 0:
            state.update(norm(f"{p}.attn_norm"))
        state.update(linear(f"{p}.attn.Wqkv", 3 * hidden, hidden))
        state.update(linear(f"{p}.attn.Wo", hidden, hidden))
        state.update(norm(f"{p}.mlp_norm"))
        state.update(linear(f"{p}.mlp.Wi", 2 * intermediate, hidden))
        state.update(linear(f"{p}.mlp.Wo", hidden, intermediate))
    state.update(norm("final_norm"))
    return {k: v.contiguous() for k, v in state.items()}


def build_tiny_checkpoint(
    dest: Path,
    *,
    config_style: str = "legacy",
    pooling: str = "cls",
    bias: bool = False,
    activation: str = "gelu",
    prefix: str = "",
    hidden: int = 64,
    layers: int = 4,
    heads: int = 4,
    intermediate: int = 96,
    vocab: int = 512,
    max_positions: int = 8192,
    local_attention: int = 128,
    max_seq_length: int | None = None,
    prompts: dict[str, str] | None = None,
    sentence_transformers: bool = True,
    include_prompt: bool = True,
    seed: int = 0,
) -> Path:
    """Write a tiny ModernBERT checkpoint folder into `dest` and return `dest`.

    `config_style` picks the legacy (`global_rope_theta`, `global_attn_every_n_layers`) or the newer
    (`layer_types`, `rope_parameters`) config keys; `prefix` is prepended to every state-dict key
    (`""`, `"model."` or `"0.model."` as seen in the wild); `bias` turns on the attention, MLP and
    norm biases; `sentence_transformers=False` leaves out the pooling and prompt files.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    config = _config_json(
        config_style=config_style, hidden=hidden, layers=layers, heads=heads,
        intermediate=intermediate, vocab=vocab, activation=activation, bias=bias,
        max_positions=max_positions, local_attention=local_attention, pooling=pooling,
    )
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    state = random_state_dict(
        hidden=hidden, layers=layers, intermediate=intermediate, vocab=vocab, bias=bias, seed=seed
    )
    save_file({prefix + k: v for k, v in state.items()}, str(dest / "model.safetensors"), metadata={"format": "pt"})

    build_tokenizer(vocab_size=min(vocab, 512)).save(str(dest / "tokenizer.json"))

    if sentence_transformers:
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ]
        (dest / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
        (dest / "1_Pooling").mkdir(exist_ok=True)
        pooling_config = {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": include_prompt,
        }
        (dest / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2) + "\n")
        st_config = {"prompts": DEFAULT_PROMPTS if prompts is None else prompts, "default_prompt_name": None}
        (dest / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2) + "\n")
        bert_config = {"max_seq_length": max_seq_length or max_positions, "do_lower_case": False}
        (dest / "sentence_bert_config.json").write_text(json.dumps(bert_config, indent=2) + "\n")
    return dest
