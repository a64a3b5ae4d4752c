"""Writes synthetic_clinic, the made-up three-modality example data set
(tf_mmjsd/data/clinic.py), as an .npz file for --dataset=npz.

  bin/make_example_data                 # -> runs/synthetic_clinic.npz
  bin/train --flagfile=configs/clinic.flags

The data are synthetic: not medical data, and not a benchmark.
"""

import os

from absl import flags

from tf_mmjsd import cli, errors


def define_flags():
  """Declares this program's flags."""
  flags.DEFINE_string("out", "runs/synthetic_clinic.npz", "The .npz to write.")
  flags.DEFINE_integer("train_size", 6000, "Training patients.")
  flags.DEFINE_integer("test_size", 1000, "Test patients.")
  flags.DEFINE_float("missing_rate", 0.4, "Fraction of patients lacking each "
                     "modality (no patient lacks all three).")
  flags.DEFINE_integer("seed", 0, "Seed of the data.")


def main(argv):
  FLAGS = flags.FLAGS
  if FLAGS.train_size < 1 or FLAGS.test_size < 1:
    raise errors.UsageError("--train_size and --test_size must be >= 1")
  from tf_mmjsd import files, run_dir  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data import clinic, split  # pylint: disable=g-import-not-at-top
  if files.isdir(FLAGS.out):
    raise errors.UsageError(f"--out={FLAGS.out} is a folder; name an .npz "
                            "file")
  folder = os.path.dirname(FLAGS.out) or "."
  if files.isfile(folder):
    raise errors.UsageError(f"--out={FLAGS.out} cannot be made: {folder} is "
                            "a file, not a folder")
  run_dir.check_creatable(folder, "out")
  try:
    arrays = clinic.write(FLAGS.out, train_size=FLAGS.train_size,
                          test_size=FLAGS.test_size,
                          missing_rate=FLAGS.missing_rate, seed=FLAGS.seed)
  except split.DataError as e:
    raise errors.UsageError(f"--missing_rate: {e}") from e
  absent = ", ".join(f"{m} {1 - arrays[f'train_mask_{m}'].mean():.0%}"
                     for m in clinic.NAMES)
  print(f"wrote {FLAGS.out}: {FLAGS.train_size} train / {FLAGS.test_size} "
        f"test synthetic patients; absent in train: {absent}")


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
