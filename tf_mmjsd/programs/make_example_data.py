"""Writes synthetic_clinic, the made-up three-modality example data set
(tf_mmjsd/data/clinic.py), as an .npz file for --dataset=npz.

  bin/make_example_data                 # -> runs/synthetic_clinic.npz
  bin/train --flagfile=configs/clinic.flags

The data are synthetic: not medical data, and not a benchmark.
"""

import os
import sys

from absl import flags

from tf_mmjsd import cli, errors
from tf_mmjsd.config import MAX_SEED


def define_flags(fv):
  """Declares this program's flags."""
  flags.DEFINE_string("out", "runs/synthetic_clinic.npz", "The .npz to write.",
      flag_values=fv)
  flags.DEFINE_integer("train_size", 6000, "Training patients.",
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("test_size", 1000, "Test patients.", lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_float("missing_rate", 0.4, "Fraction of patients lacking each "
                     "modality (no patient lacks all three).",
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of the data.", lower_bound=0,
                       upper_bound=MAX_SEED, flag_values=fv)


def main(fv, args):
  """Writes the data of the parsed flags `fv` (args: none)."""
  del args
  from tf_mmjsd import files, run_dir  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data import clinic, split  # pylint: disable=g-import-not-at-top
  if files.isdir(fv.out):
    raise errors.UsageError(f"--out={fv.out} is a folder; name an .npz "
                            "file")
  folder = os.path.dirname(fv.out) or "."
  if files.isfile(folder):
    raise errors.UsageError(f"--out={fv.out} cannot be made: {folder} is "
                            "a file, not a folder")
  run_dir.check_creatable(folder, "out")
  try:
    arrays = clinic.write(fv.out, train_size=fv.train_size,
                          test_size=fv.test_size,
                          missing_rate=fv.missing_rate, seed=fv.seed)
  except split.DataError as e:
    raise errors.UsageError(f"--missing_rate: {e}") from e
  absent = ", ".join(f"{m} {1 - arrays[f'train_mask_{m}'].mean():.0%}"
                     for m in clinic.NAMES)
  print(f"wrote {fv.out}: {fv.train_size} train / {fv.test_size} "
        f"test synthetic patients; absent in train: {absent}")


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
