"""Writes a data set as sharded TFRecords for --dataset=records.

  bin/make_records --flagfile=configs/quickstart.flags --out=runs/mst_records
  bin/train --flagfile=configs/quickstart.flags --dataset=records \
      --data_path=runs/mst_records --model_dir=runs/from_records

Takes the data flags of bin/train (any registered data set, or your arrays
with --dataset=npz and --modality); --out may be a gs:// folder. The layout
is described in tf_mmjsd/data/records.py.
"""

from absl import flags

from tf_mmjsd import cli, errors, flags as mm_flags


def define_flags():
  """Declares this program's flags."""
  mm_flags.define_flags()
  flags.DEFINE_string("out", "", "The folder to write (created; must not "
                      "hold records already).")
  flags.DEFINE_integer("train_shards", 8, "Shards of the train split: at "
                       "least the number of workers that will read it.")
  flags.DEFINE_integer("test_shards", 2, "Shards of the test split.")


def main(argv):
  FLAGS = flags.FLAGS
  if not FLAGS.out:
    raise errors.UsageError("--out=FOLDER is required")
  if FLAGS.train_shards < 1 or FLAGS.test_shards < 1:
    raise errors.UsageError("--train_shards and --test_shards must be >= 1")
  cfg = mm_flags.config_from_flags(require_model_dir=False)
  from tf_mmjsd import data as data_lib, run_dir  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data import records, registry  # pylint: disable=g-import-not-at-top
  run_dir.check_creatable(FLAGS.out, "out")
  splits = data_lib.load_splits(cfg)
  manifest = records.write(
      splits, cfg.modalities, FLAGS.out,
      (FLAGS.train_shards, FLAGS.test_shards),
      dataset=registry.of(cfg.dataset, cfg.data_path), seed=cfg.seed,
      source=f"--dataset={cfg.dataset}"
      + (f" --data_path={cfg.data_path}" if cfg.data_path else ""))
  print(f"wrote {FLAGS.out}: " + ", ".join(
      f"{manifest['splits'][s]['examples']} {s} examples in "
      f"{len(manifest['splits'][s]['shards'])} shard(s)"
      for s in records.SPLITS) + f"; fingerprint {manifest['fingerprint']}")


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
