"""Prints training examples/s of a configuration (default: the paper's
MNIST-SVHN-Text networks at global batch 256) on the current device, or the
serving latency of an export.

  bin/benchmark                        # model + optimizer on in-memory batches
  bin/benchmark --mode=end_to_end      # with the synthetic_mst input pipeline
  bin/benchmark --mode=modalities      # ms/step for M = 2..8, three methods
  bin/benchmark --mode=precision       # float32 / XLA / bfloat16 table
  bin/benchmark --logical_cpus=2 --distribution=mirrored   # two replicas
  bin/train_local_cluster --program=benchmark -- --mode=compute
  bin/benchmark --mode=serving --export_dir=saved_models/quickstart
  bin/benchmark --mode=evaluation --flagfile=configs/quickstart.flags
"""

import json
import sys

from absl import flags

from tf_mmjsd import cli, errors, flags as mm_flags, preflight


def define_flags(fv):
  """Declares this program's flags."""
  mm_flags.define_flags(fv)
  flags.DEFINE_enum("mode", "compute", ["compute", "end_to_end", "modalities",
                                        "precision", "serving",
                                        "evaluation"],
                    "What to time: training steps, their cost against the "
                    "number of modalities or the precision, requests to an "
                    "export, or the evaluation's parts against the number "
                    "of test examples.", flag_values=fv)
  flags.DEFINE_list("eval_sizes", ["1000", "3000"], "--mode=evaluation: the "
                    "two numbers of test examples timed.", flag_values=fv)
  flags.DEFINE_integer("logical_cpus", 0, "Split the CPU into this many "
                       "logical devices first (for --distribution=mirrored "
                       "on a machine without GPUs).", lower_bound=0,
                       flag_values=fv)
  flags.DEFINE_list("modality_counts", ["2", "3", "4", "6", "8"],
                    "--mode=modalities: numbers of modalities M.",
                    flag_values=fv)
  flags.DEFINE_list("methods", ["mmjsd", "mvae", "mmvae"],
                    "--mode=modalities: methods to time.", flag_values=fv)
  flags.DEFINE_string("export_dir", "", "--mode=serving: a SavedModel, or an "
                      "export folder (its newest version).", flag_values=fv)
  flags.DEFINE_list("signatures", ["serving_default", "generate"],
                    "--mode=serving: signatures to time.", flag_values=fv)
  flags.DEFINE_list("serving_batch_sizes", ["1", "256"],
                    "--mode=serving: batch sizes to time.", flag_values=fv)
  flags.DEFINE_integer("calls", 200, "--mode=serving: timed requests per "
                       "signature and batch size.", lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer("steps", 50, "Timed steps per repeat.", lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer("repeats", 5, "Timed repeats.", lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer("warmup", 10, "Untimed steps first.", lower_bound=0,
                       flag_values=fv)


def check(fv):
  """The experiment's settings of the parsed flags `fv` (None for
  --mode=serving), its lists checked; reads no file but a records
  manifest (tests/test_doc_commands.py calls it on the docs' commands)."""
  cfg = None
  if fv.mode == "serving":
    if not fv.export_dir:
      raise errors.UsageError("--mode=serving needs --export_dir")
  else:
    cfg = mm_flags.config_from_flags(fv, require_model_dir=False)
  if fv.mode == "evaluation" and not (
      len(fv.eval_sizes) == 2 and all(n.isdigit() for n in fv.eval_sizes)
      and 0 < int(fv.eval_sizes[0]) < int(fv.eval_sizes[1])):
    raise errors.UsageError("--eval_sizes must be two increasing positive "
                            f"integers, got {fv.eval_sizes}")
  if fv.mode == "modalities" and not all(
      m.isdigit() and int(m) > 0 for m in fv.modality_counts):
    raise errors.UsageError("--modality_counts must be positive integers, "
                            f"got {fv.modality_counts}")
  return cfg


def main(fv, args):
  """Runs the benchmark of the parsed flags `fv` (args: none)."""
  del args
  cfg = check(fv)
  if fv.mode == "serving":
    preflight.readable(fv.export_dir, "export_dir", "folder")
  elif fv.mode in ("end_to_end", "precision", "evaluation"):
    preflight.data(cfg, preflight.input_pipelines(cfg))  # else random
  if fv.logical_cpus:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    try:
      tf.config.set_logical_device_configuration(
          tf.config.list_physical_devices("CPU")[0],
          [tf.config.LogicalDeviceConfiguration()] * fv.logical_cpus)
    except RuntimeError as e:  # TensorFlow started earlier in this process
      raise errors.UsageError(
          f"--logical_cpus must be set before TensorFlow starts ({e}); run "
          "bin/benchmark in a process of its own") from None
  from tf_mmjsd import benchmark  # pylint: disable=g-import-not-at-top
  if fv.mode == "serving":
    return _serving(benchmark, fv)
  if fv.mode == "modalities":
    result = benchmark.modality_scaling(
        cfg, [int(m) for m in fv.modality_counts], fv.methods,
        fv.steps, fv.repeats, fv.warmup)
    _print_modalities(result)
  elif fv.mode == "precision":
    result = benchmark.precision_table(cfg, steps=fv.steps,
                                       repeats=fv.repeats,
                                       warmup=fv.warmup)
    _print_precision(result)
  elif fv.mode == "evaluation":
    result = benchmark.evaluation_rate(
        cfg, tuple(int(n) for n in fv.eval_sizes))
    _print_evaluation(result)
  elif fv.mode == "end_to_end" and cfg.dataset == "records":
    result = _records(benchmark, cfg, fv)
  else:
    result = benchmark.measure(cfg, fv.mode, fv.steps, fv.repeats,
                               fv.warmup)
    rate = result["examples_per_second"]
    print(f"{result['mode']}: {result['device']}, {result['replicas']} "
          f"replica(s), global batch {result['batch_size']}: "
          f"{rate['median']:.0f} examples/s median (min {rate['min']:.0f}, "
          f"max {rate['max']:.0f}); mean loss {result['final_loss']:.6g}")
    _print_roofline(result)
  print(json.dumps(result))
  return 0


def _print_evaluation(result):
  print(f"evaluation parts on {result['device']} (untrained model and "
        "classifiers): fixed s + s per 1,000 test examples")
  for part, fit in result["parts"].items():
    print(f"  {part:15s} {fit['fixed_s']:7.1f} s + {fit['per_1000_s']:6.2f} s"
          f" per 1,000" + (f" ({fit['examples_per_s']} examples/s)"
                           if fit["examples_per_s"] else ""))
  for name, parts in result["projected_s"].items():
    print(f"  projected for {parts['examples']:,} test examples (the size of "
          f"{name}'s test set) with these networks: "
          f"{parts['total'] / 60:.1f} min")


def _records(benchmark, cfg, fv):
  """end_to_end on records: the same data held in memory and read from the
  shards as a worker reads them, side by side, with the input pipeline
  alone."""
  rows = {}
  for streamed, name in ((False, "in memory"),
                         (True, "records, streamed")):
    print(f"{name}:")
    reading = benchmark.read_rate(cfg, batches=max(fv.steps, 50),
                                  streamed=streamed)
    result = benchmark.measure(cfg, "end_to_end", fv.steps, fv.repeats,
                               fv.warmup, streamed=streamed,
                               with_roofline=streamed)  # once is enough
    result["input_only_examples_per_second"] = reading
    rows[name] = result
  print(f"end_to_end on {cfg.data_path}, global batch {cfg.batch_size} "
        "(examples/s):")
  print(f"  {'input':<26}{'input alone':>12}{'training (median)':>19}")
  for name, result in rows.items():
    print(f"  {name:<26}{result['input_only_examples_per_second']:>12.0f}"
          f"{result['examples_per_second']['median']:>19.0f}")
  bound = rows["records, streamed"]
  _print_roofline(bound)
  rows["in memory"]["roofline_fraction"] = (
      rows["in memory"]["examples_per_second"]["median"]
      / bound["roofline_examples_per_second"])
  return {"mode": "end_to_end", "data_path": cfg.data_path, "inputs": rows}


def _print_roofline(result):
  print(f"roofline: {result['step_flops_per_example'] / 1e6:.1f} MFLOP per "
        "example at this machine's float32 matmul rate of "
        f"{result['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s = "
        f"{result['roofline_examples_per_second']:.0f} examples/s; achieved "
        f"{result['roofline_fraction']:.2f} of it")


def _print_modalities(result):
  table = result["seconds_per_step"]
  counts = list(next(iter(table.values())))
  print(f"ms per step, {result['device']}, global batch "
        f"{result['batch_size']}, M copies of the conv modality:")
  print("| method | " + " | ".join(f"M={m}" for m in counts)
        + f" | t({counts[-1]})/t({counts[0]}) |")
  print("|---" * (len(counts) + 2) + "|")
  for method, row in table.items():
    print(f"| {method} | " + " | ".join(f"{row[m] * 1e3:.0f}" for m in counts)
          + f" | {row[counts[-1]] / row[counts[0]]:.2f} |")


def _print_precision(result):
  print(f"examples/s, {result['device']}, global batch "
        f"{result['batch_size']}:")
  print("| variant | compute | end to end |")
  print("|---|---|---|")
  for name, row in result["examples_per_second"].items():
    print(f"| {name} | {row['compute']:.0f} | {row['end_to_end']:.0f} |")


def _serving(benchmark, fv):
  try:
    batches = [int(b) for b in fv.serving_batch_sizes]
  except ValueError as e:
    raise errors.UsageError(f"--serving_batch_sizes: {e}") from e
  result = benchmark.serving_latency(fv.export_dir, fv.signatures,
                                     batches, fv.calls)
  print(f"serving: {result['device']}, {result['export']}, "
        f"{result['calls']} requests each")
  print(json.dumps(result))
  return 0


def run():
  """The console-script entry point."""
  cli.run(sys.modules[__name__])


if __name__ == "__main__":
  run()
