"""Every file the README, docs/ and the package's docstrings name exists in
the repository (nothing points at a file a clone does not have)."""

import glob
import os
import re

from tests.harness import REPO

PATH = re.compile(r"[`(\s]((?:[\w.-]+/)*[\w-]+\.(?:py|md|flags|png))\b")
# file:line citations of the reference repositories, in
# docs/reference_settings.md only (elsewhere a path:line must be ours)
CITATION = re.compile(r"[`(\s]((?:[\w.-]+/)*[\w-]+\.py):\d")
SOURCES = ([os.path.join(REPO, "README.md")]
           + glob.glob(os.path.join(REPO, "docs", "**", "*.md"),
                       recursive=True)
           + glob.glob(os.path.join(REPO, "tf_mmjsd", "**", "*.py"),
                       recursive=True))
# Names of what programs write, or of a user's own file, not of ours.
WRITTEN = ("runs/", "saved_models/", "results.md", "configs/my.flags",
           "tf_mmjsd.", "figures/from_", "figures/random", "samples/",
           "missing_rates_")
BASENAMES = {os.path.basename(p) for p in glob.glob(
    os.path.join(REPO, "**", "*"), recursive=True)}


def _resolves(path, source):
  if "/" not in path:  # a file named by itself: anywhere in the tree
    return path in BASENAMES
  for base in (REPO, os.path.join(REPO, "tf_mmjsd"),
               os.path.dirname(source)):
    if os.path.exists(os.path.join(base, path)):
      return True
  # relative to a package folder of tf_mmjsd (e.g. "mst/pairing.py")
  return any(p.endswith(os.sep + path) for p in glob.glob(
      os.path.join(REPO, "tf_mmjsd", "**", os.path.basename(path)),
      recursive=True))


def test_every_named_file_exists():
  missing = []
  for source in SOURCES:
    with open(source, encoding="utf-8") as f:
      text = f.read()
    cited = (set(CITATION.findall(text))
             if source.endswith("reference_settings.md") else set())
    for path in sorted(set(PATH.findall(text)) - cited):
      if not path.startswith(WRITTEN) and not _resolves(path, source):
        missing.append(f"{os.path.relpath(source, REPO)}: {path}")
  assert missing == []


def test_the_check_finds_a_missing_file():
  assert not _resolves("data/no_such_module.py", SOURCES[0])
  assert CITATION.findall(" `utils/utils.py:58-61` and data/split.py") == [
      "utils/utils.py"]
  assert _resolves("data/mst/pairing.py", SOURCES[0])
