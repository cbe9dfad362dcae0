"""Fault battery: damage a built index in each way of tests/recovery/damage.py, then check that `status`
names the one command that repairs it, that a search before the repair fails with one line naming that
command (or copes), and that the command leaves an index `status` calls current which answers like a
fresh one. Prints a table (probe, expected, got) for RELIABILITY.md.

    python benchmarks/faults.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.recovery.damage import PROBES  # noqa: E402
from tests.recovery.harness import Cli, run_probe  # noqa: E402


def main() -> int:
    cli = Cli()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, probe in enumerate(PROBES):
            outcome = run_probe(probe, Path(scratch) / str(number), cli)
            expected = (f"`codesearch {' '.join(probe.repair)}` repairs" if probe.repair else "nothing to repair")
            expected += ", damaged file kept" if probe.kept else ""
            got = outcome.summary()
            if not outcome.problems:
                searched = {0: "hits", 1: "no hits", 2: "one-line error naming it"}[outcome.search_exit]
                named = "names it" if probe.repair else "no repair named"
                got = f"status: {outcome.status_state}, {named}; search: {searched}; after: current, same answers"
                if outcome.kept:
                    got += f"; kept {outcome.kept[0].split('.corrupt-')[0]}.corrupt-*"
            rows.append((probe.name, expected, got))
    width = [max(len(r[i]) for r in rows + [("probe", "expected", "got")]) for i in range(3)]
    print(f"| {'probe':<{width[0]}} | {'expected':<{width[1]}} | {'got':<{width[2]}} |")
    print(f"| {'-' * width[0]} | {'-' * width[1]} | {'-' * width[2]} |")
    for row in rows:
        print("| " + " | ".join(f"{cell:<{w}}" for cell, w in zip(row, width)) + " |")
    failed = sum(1 for _, _, got in rows if "same answers" not in got)
    print(f"\n{len(rows) - failed}/{len(rows)} probes repaired")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
