"""Run one damage probe end to end through the command line: build an index of a copy of the fixture
repository, remember its answers, damage it, ask `status`, run the repair command `status` names, and
check that the repaired index is current and answers like the fresh one.

Used by tests/recovery (one test per probe) and benchmarks/faults.py (the table in RELIABILITY.md).
Runs the CLI in process with the fake encoder (indexer.encoder.FakeEncoder) in place of the model.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from codesearch import encoders
from codesearch.cli import app
from indexer.encoder import FakeEncoder
from tests.conftest import copy_fixture
from tests.recovery.damage import Probe

QUERIES = ("refill the token bucket", "parse_config", "http client retry", "Point distance")
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1"}
FAKE_MODEL = "fake-encoder"


@dataclass
class Outcome:
    """What the commands did after the damage, each as a short word or exit code."""

    status_state: str = ""  # state `status` reports for the damaged index
    status_repair: str | None = None  # the command it names
    search_exit: int | None = None  # a search before the repair (0 or 1 when it copes, 2 with one line)
    search_error: str = ""  # its stderr when it failed
    repair_exit: int | None = None
    repair_error: str = ""
    after_state: str = ""  # state after the repair
    same_answers: bool = False  # the repaired index answers QUERIES like the fresh one
    kept: list[str] = field(default_factory=list)  # what the repair kept aside
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.problems:
            return "repaired"
        return "; ".join(self.problems)


def fake_load(model: str, device: str, dtype: str, batch_tokens: int = 0) -> tuple[FakeEncoder | None, str]:
    """In place of encoders.load_if_available: the model "fake-encoder" is available, others (the
    default model) are not, as offline; torch is never imported."""
    if model != FAKE_MODEL:
        return None, f"model {model} is not available offline"
    return FakeEncoder(model_id=model), ""


class Cli:
    """The app in process, with the fake encoder and an offline hub."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str):
        saved_load, saved_env = encoders.load_if_available, {k: os.environ.get(k) for k in OFFLINE_ENV}
        encoders.load_if_available = fake_load
        os.environ.update(OFFLINE_ENV)
        try:
            return self.runner.invoke(app, [str(a) for a in args])
        finally:
            encoders.load_if_available = saved_load
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def answers(cli: Cli, repo: Path) -> list:
    """The hits of QUERIES in hybrid and lexical mode, as comparable values."""
    out = []
    for query in QUERIES:
        for mode in ("hybrid", "lexical"):
            run = cli("search", query, repo, "--mode", mode, "--json", "-k", "5")
            hits = [json.loads(line)["data"] for line in run.stdout.splitlines() if '"type": "match"' in line]
            out.append((query, mode, run.exit_code, [
                (h["path"]["text"], h["line_span"]["start"], h["line_span"]["end"], h["symbol"], round(h["score"], 4))
                for h in hits
            ]))
    return out


def build(cli: Cli, workdir: Path) -> Path:
    """The fixture indexed, then changed and updated, so that the FAISS delta file holds vectors too."""
    repo = copy_fixture(workdir / "repo")
    for step in range(2):
        run = cli("index", repo, "--model", FAKE_MODEL, "--quiet")
        assert run.exit_code == 0, run.stderr
        if step == 0:
            with open(repo / "src" / "geometry.py", "a") as handle:
                handle.write("\n\ndef scale_points(points, factor):\n    return [p * factor for p in points]\n")
    return repo


def run_probe(probe: Probe, workdir: Path, cli: Cli | None = None) -> Outcome:
    cli = cli or Cli()
    repo = build(cli, workdir)
    fresh = answers(cli, repo)
    index_dir = repo / ".codesearch"
    gc.collect()  # close the connections the commands left open, as the end of their processes would
    probe.damage(index_dir)
    outcome = Outcome()

    status = cli("status", repo, "--json")
    record = json.loads(status.stdout) if status.stdout.strip().startswith("{") else {}
    outcome.status_state = record.get("state", f"exit {status.exit_code}")
    outcome.status_repair = record.get("repair")
    expected = "codesearch " + " ".join(probe.repair) if probe.repair else None
    if outcome.status_repair != expected:
        outcome.problems.append(f"status: {outcome.status_state}, repair {outcome.status_repair!r}")

    search = cli("search", QUERIES[0], repo, "--mode", "lexical")
    outcome.search_exit, outcome.search_error = search.exit_code, search.stderr.strip()
    if search.exit_code == 2 and (search.stderr.count("\n") != 1 or not expected or expected not in search.stderr):
        outcome.problems.append(f"search: {search.stderr.strip()[:120]}")
    elif search.exit_code not in (0, 1, 2):
        outcome.problems.append(f"search exit {search.exit_code}")

    if probe.repair:
        repair = cli(*probe.repair, repo, "--quiet", *(("--model", FAKE_MODEL) if probe.forgets_model else ()))
        outcome.repair_exit, outcome.repair_error = repair.exit_code, repair.stderr.strip()
        if repair.exit_code != 0:
            outcome.problems.append(f"{expected}: exit {repair.exit_code}: {repair.stderr.strip()[:160]}")
            return outcome
    if probe.kept:
        outcome.kept = sorted(p.name for p in index_dir.parent.glob(probe.kept)) + sorted(
            p.name for p in index_dir.glob(probe.kept) if index_dir.is_dir())
        if not outcome.kept:
            outcome.problems.append(f"nothing kept aside as {probe.kept}")
    after = cli("status", repo, "--json")
    outcome.after_state = json.loads(after.stdout)["state"] if after.stdout.strip() else f"exit {after.exit_code}"
    if outcome.after_state != "current":
        outcome.problems.append(f"after repair: {outcome.after_state} ({after.stdout.strip()[:120]})")
    outcome.same_answers = answers(cli, repo) == fresh
    if not outcome.same_answers:
        outcome.problems.append("answers differ from the fresh index")
    return outcome


def clean(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
