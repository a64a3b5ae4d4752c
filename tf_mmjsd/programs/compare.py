"""Trains and evaluates several methods side by side and writes one report.

  bin/compare --flagfile=configs/compare_synthetic.flags   # offline, synthetic
  bin/compare --flagfile=configs/compare_mst.flags         # the paper's table

Takes the flags of bin/train as the base of every row, plus --compare_dir,
--methods, --styles (MS off/on), --missing_rates and --seeds. Finished
rows are reused and interrupted ones resume, so rerunning the command
continues. Writes <compare_dir>/<report>.json, .md and .png plots.
"""

import sys

from absl import flags

from tf_mmjsd import cli, errors, flags as mm_flags, methods, preflight


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)
  flags.DEFINE_string("compare_dir", "", "Where the rows and the report go "
                      "(required).", flag_values=fv)
  flags.DEFINE_list("methods", list(methods.names()),
                    "Methods to compare (default: every registered one).",
                    flag_values=fv)
  flags.DEFINE_list("styles", ["off", "on"], "Modality-specific style "
                    "subspaces (MS): off, on, or both.", flag_values=fv)
  flags.DEFINE_list("missing_rates", ["0"], "Training missing rates "
                    "(--missing_rate of each row).", flag_values=fv)
  flags.DEFINE_list("seeds", ["0"], "Seeds; the report gives mean and "
                    "standard deviation over them.", flag_values=fv)
  flags.DEFINE_list("ms_settings", ["latent_dim=16", "style_dim=4"],
                    "setting=value for the rows with styles.", flag_values=fv)
  flags.DEFINE_list("shared_settings", ["latent_dim=20", "style_dim=0",
                                        "style_warmup_epochs=0"],
                    "setting=value for the rows without styles.",
                    flag_values=fv)
  flags.DEFINE_list("method_settings", [],
                    "method:setting=value for the rows of one method, applied "
                    "last (e.g. mopoe:learning_rate=0.001).", flag_values=fv)
  flags.DEFINE_string("report", "comparison", "Name of the report files.",
      flag_values=fv)


def check(fv):
  """The comparison's arguments from the parsed flags `fv`, every row's
  settings checked (it reads no file but a records manifest and a glob
  of --compare_dir; tests/test_doc_commands.py calls it on the docs'
  commands): a dict of
  `compare.run`'s keyword arguments, the grid's rows and their settings
  (`compare.plan`) among them."""
  if not fv.compare_dir:
    raise errors.UsageError("--compare_dir is required")
  styles = {"off": False, "on": True}
  if not set(fv.styles) <= set(styles):
    raise errors.UsageError(f"--styles takes off and on, got {fv.styles}")
  try:
    rates = [float(r) for r in fv.missing_rates]
    seeds = [int(s) for s in fv.seeds]
  except ValueError as e:
    raise errors.UsageError(f"--missing_rates or --seeds: {e}") from e
  from tf_mmjsd import compare  # pylint: disable=g-import-not-at-top
  grid = dict(
      base=mm_flags.config_from_flags(fv, require_model_dir=False),
      compare_dir=fv.compare_dir, methods=fv.methods,
      styles=[styles[s] for s in fv.styles], missing_rates=rates,
      seeds=seeds,
      style_overrides=compare.parse_overrides(fv.ms_settings,
                                              "--ms_settings"),
      shared_overrides=compare.parse_overrides(fv.shared_settings,
                                               "--shared_settings"),
      method_overrides=compare.parse_method_overrides(fv.method_settings,
                                                      fv.methods))
  return dict(grid, planned=compare.plan(**grid))


def main(fv, args):
  """Runs the comparison of the parsed flags `fv` (args: none)."""
  del args
  grid = check(fv)
  from tf_mmjsd import compare  # pylint: disable=g-import-not-at-top
  base = grid["base"]
  preflight.data(base, preflight.input_pipelines(base))
  preflight.readable(base.inception_weights, "inception_weights")
  compare.run(**grid, report=fv.report)


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
