"""Writes a data set as sharded TFRecords for --dataset=records.

  bin/make_records --flagfile=configs/quickstart.flags --out=runs/mst_records
  bin/train --flagfile=configs/quickstart.flags --dataset=records \
      --data_path=runs/mst_records --model_dir=runs/from_records

Takes the data flags of bin/train (any registered data set, or your arrays
with --dataset=npz and --modality); --out may be a gs:// folder. The layout
is described in tf_mmjsd/data/records.py.
"""

import sys

from absl import flags

from tf_mmjsd import cli, errors, flags as mm_flags, preflight, run_dir


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)
  flags.DEFINE_string("out", "", "The folder to write (created; must not "
                      "hold records already).", flag_values=fv)
  flags.DEFINE_integer("train_shards", 8, "Shards of the train split: at "
                       "least the number of workers that will read it.",
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_integer("test_shards", 2, "Shards of the test split.",
                       lower_bound=1, flag_values=fv)


def main(fv, args):
  """Writes the records of the parsed flags `fv` (args: none)."""
  del args
  if not fv.out:
    raise errors.UsageError("--out=FOLDER is required")
  cfg = mm_flags.config_from_flags(fv, require_model_dir=False)
  run_dir.check_creatable(fv.out, "out")
  preflight.data(cfg)
  from tf_mmjsd import data as data_lib  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data import records, registry  # pylint: disable=g-import-not-at-top
  splits = data_lib.load_splits(cfg)
  manifest = records.write(
      splits, cfg.modalities, fv.out,
      (fv.train_shards, fv.test_shards),
      dataset=registry.of(cfg.dataset, cfg.data_path), seed=cfg.seed,
      source=f"--dataset={cfg.dataset}"
      + (f" --data_path={cfg.data_path}" if cfg.data_path else ""))
  print(f"wrote {fv.out}: " + ", ".join(
      f"{manifest['splits'][s]['examples']} {s} examples in "
      f"{len(manifest['splits'][s]['shards'])} shard(s)"
      for s in records.SPLITS) + f"; fingerprint {manifest['fingerprint']}")


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
