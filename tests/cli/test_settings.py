"""Settings precedence: flag > CODESEARCH_* environment > config file > default, with clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from codesearch.settings import DEFAULT_MODEL_ID, Settings, SettingsError, explicit_model, load_settings


def _pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.codesearch]\n{body}\n')


def test_defaults_without_any_layer(tmp_path):
    assert load_settings(tmp_path, {}, environ={}) == Settings()
    assert Settings().model == DEFAULT_MODEL_ID


def test_each_layer_overrides_the_one_below(tmp_path):
    _pyproject(tmp_path, 'top = 3\nmode = "lexical"\ncontext = 1')
    env = {"CODESEARCH_TOP": "4", "CODESEARCH_MODE": "semantic"}
    settings = load_settings(tmp_path, {"top": 5, "mode": None}, environ=env)
    assert settings.top == 5  # flag beats environment and file
    assert settings.mode == "semantic"  # environment beats file (the flag was not given)
    assert settings.context == 1  # file beats default
    assert settings.dtype == "auto"  # default


def test_dedicated_config_file_wins_over_pyproject(tmp_path):
    _pyproject(tmp_path, "top = 3")
    (tmp_path / ".codesearch.toml").write_text("top = 7\n")
    assert load_settings(tmp_path, {}, environ={}).top == 7


def test_index_dir_from_file_is_relative_to_root_and_from_flag_to_cwd(tmp_path, monkeypatch):
    (tmp_path / ".codesearch.toml").write_text('index_dir = "build/idx"\n')
    assert load_settings(tmp_path, {}, environ={}).index_path(tmp_path) == tmp_path / "build/idx"
    monkeypatch.chdir(tmp_path / "..")
    flagged = load_settings(tmp_path, {"index_dir": "elsewhere"}, environ={})
    assert flagged.index_path(tmp_path) == (tmp_path / ".." / "elsewhere").resolve()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CODESEARCH_TOP": "many"}, "CODESEARCH_TOP: expected a whole number"),
        ({"CODESEARCH_TOP": "0"}, "CODESEARCH_TOP: 0 is out of range"),
        ({"CODESEARCH_MODE": "fuzzy"}, "CODESEARCH_MODE: 'fuzzy' is not one of hybrid, semantic, lexical"),
    ],
)
def test_bad_environment_values_name_their_source(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(tmp_path, {}, environ=env)


def test_unknown_and_mistyped_config_keys_are_errors(tmp_path):
    _pyproject(tmp_path, "topk = 3")
    with pytest.raises(SettingsError, match="unknown setting 'topk'"):
        load_settings(tmp_path, {}, environ={})
    _pyproject(tmp_path, "model = 3")
    with pytest.raises(SettingsError, match="expected a string"):
        load_settings(tmp_path, {}, environ={})


def test_broken_config_file_is_an_error_naming_the_file(tmp_path):
    (tmp_path / ".codesearch.toml").write_text("top = [\n")
    with pytest.raises(SettingsError, match=r"cannot read .*\.codesearch\.toml"):
        load_settings(tmp_path, {}, environ={})


def test_explicit_model_tells_a_chosen_model_from_the_default(tmp_path):
    assert not explicit_model({}, tmp_path, environ={})
    assert explicit_model({"model": "m"}, tmp_path, environ={})
    assert explicit_model({}, tmp_path, environ={"CODESEARCH_MODEL": "m"})
    _pyproject(tmp_path, 'model = "m"')
    assert explicit_model({}, tmp_path, environ={})


def test_default_model_is_the_model_packages_default():
    import model

    assert DEFAULT_MODEL_ID == model.DEFAULT_MODEL_ID


def test_every_dtype_the_cli_accepts_is_one_the_model_accepts():
    import torch

    from codesearch.settings import DTYPES
    from model.encoder import resolve_dtype

    for dtype in DTYPES:
        assert resolve_dtype(dtype, torch.device("cpu")) in ("float32", "bfloat16", "int8")
