"""Exports a trained run as a SavedModel for TF Serving (and its Keras
encoders and decoders).

  bin/export --model_dir=runs/quickstart    # -> saved_models/quickstart/1/

Each run writes the next version, <export_dir>/<N>/, and never touches an
existing one. See saved_models/README.md for serving.
"""

from absl import flags

from tf_mmjsd import cli, errors


def define_flags():
  """Declares this program's flags."""
  flags.DEFINE_string("model_dir", "", "The trained run to export (required).")
  flags.DEFINE_string("export_dir", "", "Where versions go (default "
                      "saved_models/<last part of --model_dir>).")
  flags.DEFINE_string("checkpoint", "", "Checkpoint to export (default: the "
                      "newest in <model_dir>/checkpoints).")


def main(argv):
  FLAGS = flags.FLAGS
  if not FLAGS.model_dir:
    raise errors.UsageError("--model_dir is required")
  from tf_mmjsd import export  # pylint: disable=g-import-not-at-top
  export.export_run(FLAGS.model_dir, FLAGS.export_dir or None,
                    FLAGS.checkpoint or None)


def run():
  """The console-script entry point."""
  cli.run(main, define_flags)


if __name__ == "__main__":
  run()
