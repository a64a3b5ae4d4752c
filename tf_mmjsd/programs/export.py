"""Exports a trained run as a SavedModel for TF Serving (and its Keras
encoders and decoders).

  bin/export --model_dir=runs/quickstart    # -> saved_models/quickstart/1/

Each run writes the next version, <export_dir>/<N>/, and never touches an
existing one. See saved_models/README.md for serving.
"""

import sys

from absl import flags

from tf_mmjsd import cli, errors, preflight, run_dir


def define_flags(fv):
  """Declares this program's flags."""
  flags.DEFINE_string("model_dir", "", "The trained run to export (required).",
      flag_values=fv)
  flags.DEFINE_string("export_dir", "", "Where versions go (default "
                      "saved_models/<last part of --model_dir>).",
                      flag_values=fv)
  flags.DEFINE_string("checkpoint", "", "Checkpoint to export (default: the "
                      "newest in <model_dir>/checkpoints).", flag_values=fv)


def main(fv, args):
  """Exports the run of the parsed flags `fv` (args: none)."""
  del args
  if not fv.model_dir:
    raise errors.UsageError("--model_dir is required")
  export_dir = fv.export_dir or run_dir.default_export_dir(fv.model_dir)
  preflight.export(fv.model_dir, export_dir, fv.checkpoint or None)
  from tf_mmjsd import export  # pylint: disable=g-import-not-at-top
  export.export_run(fv.model_dir, export_dir,
                    fv.checkpoint or None)


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
