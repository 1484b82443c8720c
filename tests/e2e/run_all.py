#!/usr/bin/env python3
"""Runs the e2e suites one after another (each in its own namespaces), prints a summary, exits 1 if any failed.

Usage: run_all.py [SUITE ...]   (default: all; names as in SUITES, e.g. `run_all.py aiortc_test`)
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The browser self-test goes first: if the machine cannot run a call on its own, the later failures say nothing
# about shardcast.
SUITES = ["browser_selftest", "browser_test", "late_join_test", "aiortc_test", "bench_test", "loss_test",
          "simulcast_test"]
SUITE_TIMEOUT = 600


def main(argv):
    unknown = [name for name in argv if name not in SUITES]
    if unknown:
        print(f"unknown suite(s) {unknown}; choose from {SUITES}")
        return 2
    results = []
    for suite in argv or SUITES:
        print(f"=== {suite}", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.run([sys.executable, str(HERE / f"{suite}.py")], timeout=SUITE_TIMEOUT).returncode
            verdict = "PASS" if code == 0 else f"FAIL (exit {code})"
        except subprocess.TimeoutExpired:
            verdict = f"FAIL (killed after {SUITE_TIMEOUT}s)"
        results.append((suite, verdict, time.monotonic() - started))
    print("=== e2e summary")
    for suite, verdict, seconds in results:
        print(f"  {verdict:<24} {suite} ({seconds:.0f}s)")
    return 0 if all(verdict == "PASS" for _, verdict, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
