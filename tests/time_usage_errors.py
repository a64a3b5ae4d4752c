"""Times every usage error of the fault tables as a user meets it: the bin/
program in its own process, wall time from start to exit. Prints one row
per case, sorted, and the cases over the target (1.5 s on a 2-core
machine); exits 1 if any case is over it or does not give its one error
line.

  python tests/time_usage_errors.py [--target=1.5]

A benchmark, not a test: the suite checks what the errors say
(test_faults.py, test_reliability.py, test_hostile.py, test_programs.py),
this prints how long they take.
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests import harness, test_faults, test_hostile  # pylint: disable=g-import-not-at-top,wrong-import-position
from tests import test_programs, test_reliability  # pylint: disable=g-import-not-at-top,wrong-import-position


def _cases():
  """(id, program, args, setup, exit code, pattern) of every usage error:
  the fault tables, one per program, and the unknown schemes of every
  path flag (a gs:// path loads TensorFlow to ask its store)."""
  tables = test_faults.CASES + test_reliability.CASES + test_hostile.CASES
  tables += [c for c in test_hostile.STORE_CASES if "unknown scheme" in c[0]]
  tables += [(f"{p} (programs)", p, args, None, 2, pattern)
             for p, args, pattern in test_programs.USAGE_ERRORS]
  return [c for c in tables if c[4] == 2]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--target", type=float, default=1.5)
  target = parser.parse_args().target
  rows, bad = [], []
  with tempfile.TemporaryDirectory() as root:
    cache = os.path.join(root, "cache")
    os.makedirs(cache)
    for number, case in enumerate(_cases()):
      folder = os.path.join(root, f"case{number}")
      os.makedirs(folder)
      args = harness._case_args(case, pathlib.Path(folder))  # pylint: disable=protected-access
      env = dict(os.environ, TF_MMJSD_CACHE=cache, TF_MMJSD_OFFLINE="1",
                 TF_CPP_MIN_LOG_LEVEL="2")
      if "--distribution=multi_worker" in case[2]:
        env["TF_CONFIG"] = test_reliability.BAD_JSON
      start = time.perf_counter()
      out = subprocess.run(
          [sys.executable, os.path.join(REPO, "bin", case[1])] + args,
          env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
      seconds = time.perf_counter() - start
      lines = [ln for ln in out.stderr.splitlines()
               if ln.startswith("error: ")]
      ok = (out.returncode == 2 and len(lines) == 1
            and re.search(case[5], lines[0]))
      rows.append((seconds, case[0], case[1]))
      if not ok:
        bad.append(f"{case[0]}: exit {out.returncode}, "
                   f"{out.stderr[-300:]!r}")
  rows.sort(reverse=True)
  print(f"{len(rows)} usage errors, wall seconds of bin/<program> "
        "(slowest first):")
  for seconds, name, program in rows:
    print(f"  {seconds:6.2f}  {program:20s} {name}")
  times = sorted(s for s, _, _ in rows)
  print(f"median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s, "
        f"target {target:.2f} s")
  over = [f"{n} ({s:.2f} s)" for s, n, _ in rows if s > target]
  for line in bad:
    print(f"WRONG: {line}")
  for line in over:
    print(f"OVER TARGET: {line}")
  return 1 if bad or over else 0


if __name__ == "__main__":
  sys.exit(main())
