"""The checkpoint cache (model/cache.py): auto precision decided once per checkpoint, fingerprints
reused while the files stay as they were, and a broken cache file never in the way."""
from __future__ import annotations

import json

import numpy as np
import pytest

import model.encoder
from model import cache, load_encoder
from tests.tinymodel import build_tiny_checkpoint


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def counted(monkeypatch):
    """Counts the probe's forward passes, weight loads and fingerprint computations. auto is made to
    consider bfloat16 on any CPU, so that the probe runs on machines without native bfloat16 too."""
    calls = {"probe": 0, "load_weights": 0, "fingerprint": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(model.encoder, "probe_embeddings", counting("probe", model.encoder.probe_embeddings))
    monkeypatch.setattr(model.encoder, "load_weights", counting("load_weights", model.encoder.load_weights))
    monkeypatch.setattr(model.encoder, "weights_fingerprint",
                        counting("fingerprint", model.encoder.weights_fingerprint))
    real_resolve = model.encoder.resolve_dtype
    monkeypatch.setattr(model.encoder, "resolve_dtype",
                        lambda dtype, device: "bfloat16" if dtype == "auto" else real_resolve(dtype, device))
    monkeypatch.setattr(cache, "RACY_MARGIN_NS", 0)  # the checkpoints are written just before loading
    return calls


def decisions(cache_dir) -> list[dict]:
    return list(json.loads((cache_dir / cache.FILE_NAME).read_text())["precisions"].values())


def test_second_load_reads_the_auto_decision_instead_of_probing(tmp_path, cache_dir, counted):
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    first = load_encoder(folder)
    assert counted["probe"] == 2  # float32, then bfloat16
    assert decisions(cache_dir) == [{"dtype": first.dtype, "cosine": first.auto_cosine}]
    second = load_encoder(folder)
    assert counted["probe"] == 2 and counted["fingerprint"] == 1
    assert (second.dtype, second.auto_cosine) == (first.dtype, first.auto_cosine)
    texts = ["def parse_config(path):\n    return load(path)\n", "x"]
    assert np.abs(first.embed_documents(texts) - second.embed_documents(texts)).max() < 1e-6


def test_changed_checkpoint_gets_a_new_decision(tmp_path, cache_dir, counted):
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    before = load_encoder(folder)
    build_tiny_checkpoint(folder, seed=1)  # other weights, the same file sizes
    after = load_encoder(folder)
    assert counted["fingerprint"] == 2 and counted["probe"] == 4
    assert after.fingerprint != before.fingerprint
    assert len(decisions(cache_dir)) == 2


def test_the_rule_is_part_of_the_decision(tmp_path, cache_dir, counted, monkeypatch):
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    load_encoder(folder)
    monkeypatch.setattr(model.encoder, "AUTO_MIN_COSINE", 1.01)  # nothing is that close
    strict = load_encoder(folder)
    assert counted["probe"] == 4 and strict.dtype == "float32"


def test_falling_back_to_float32_loads_the_weights_once(tmp_path, cache_dir, counted, monkeypatch):
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    monkeypatch.setattr(model.encoder, "AUTO_MIN_COSINE", 1.01)
    fallback = load_encoder(folder)
    assert (fallback.dtype, counted["load_weights"]) == ("float32", 1)
    exact = load_encoder(folder, dtype="float32")
    texts = ["class Reader:\n    def read(self, stream):\n        return stream.read()\n" * 12, "y"]
    assert np.abs(fallback.embed_documents(texts) - exact.embed_documents(texts)).max() < 1e-6
    cached = load_encoder(folder)  # the remembered fallback: float32 without a probe
    assert (cached.dtype, counted["probe"]) == ("float32", 2)


@pytest.mark.parametrize("garbage", [b"{not json", b"\xff\xfe", b"[1, 2]", b'{"format": 1, "precisions": []}'])
def test_corrupt_cache_file_is_ignored_and_rewritten(tmp_path, cache_dir, counted, garbage):
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    cache_dir.mkdir()
    (cache_dir / cache.FILE_NAME).write_bytes(garbage)
    encoder = load_encoder(folder)
    assert decisions(cache_dir) == [{"dtype": encoder.dtype, "cosine": encoder.auto_cosine}]


def test_unwritable_cache_is_not_fatal(tmp_path, monkeypatch, counted):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker))  # the cache folder would have to be a file
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    assert load_encoder(folder).dim == 64
    assert load_encoder(folder).dim == 64 and counted["probe"] == 4  # nothing remembered


def test_cache_off_reads_and_writes_nothing(tmp_path, monkeypatch, counted):
    monkeypatch.setenv(cache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    load_encoder(folder)
    load_encoder(folder)
    assert counted["probe"] == 4 and counted["fingerprint"] == 2
    assert not (tmp_path / "xdg").exists()


def test_fingerprint_of_a_just_written_checkpoint_is_not_trusted(tmp_path, cache_dir, monkeypatch):
    """As in git's racy check: a file stamped within the clock's granularity of the hash could change
    again without its stamp changing, so its fingerprint is recomputed next time."""
    folder = build_tiny_checkpoint(tmp_path / "ckpt")
    monkeypatch.setattr(cache, "RACY_MARGIN_NS", 10**18)
    computed = []
    files = [folder / "config.json", folder / "model.safetensors"]
    assert cache.fingerprint(folder, files, lambda: computed.append(1) or "abc") == "abc"
    assert cache.fingerprint(folder, files, lambda: computed.append(1) or "abc") == "abc"
    assert len(computed) == 2
    monkeypatch.setattr(cache, "RACY_MARGIN_NS", 0)
    cache.fingerprint(folder, files, lambda: computed.append(1) or "abc")
    assert cache.fingerprint(folder, files, lambda: computed.append(1) or "other") == "abc"
    assert len(computed) == 3
