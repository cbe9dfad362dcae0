"""The recovery tests run the CLI in process (tests/recovery/harness.py): keep the caller's settings out."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("CODESEARCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
