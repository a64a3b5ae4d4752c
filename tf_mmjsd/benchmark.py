"""Training throughput of a configuration, and serving latency of an
export, on the current device.

`measure` times `steps` training steps `repeats` times after `warmup` steps
and reports examples per second (global batch / seconds per step) as
min / median / max. "compute" feeds one fixed batch already in memory (the
model and optimizer alone); "end_to_end" feeds the real input pipeline of
the configured data set (for records, in memory or streamed as
`streamed`); `read_rate` times that input pipeline alone. `modality_scaling` times the step against the
number of modalities, `precision_table` against XLA and bfloat16, and
`serving_latency` the signatures of an exported SavedModel, loaded with
TensorFlow alone, one request at a time.

The roofline. `matmul_rate` is the machine's float32 dense-matmul rate
(FLOP/s of square tf.matmul products, with the threads training uses);
`step_flops` counts the FLOPs of one training step per example with the
TensorFlow profiler (`tf.compat.v1.profiler`, the registered counts of
the step's graph: 2 per multiply-add in MatMul, Conv2D and both
convolution gradients, 1 per element of element-wise ops and reductions
that register one; the Adam update, in a branch of the non-finite guard,
is not counted: about 10 FLOPs per weight and step, under 0.5% here).
The roofline rate is matmul_rate / step_flops examples/s: what the step
would reach if all its work ran at the speed of a large matmul; `measure`
reports the achieved fraction of it.
"""

import dataclasses
import logging
import os
import time

import numpy as np
import tensorflow as tf

from tf_mmjsd import data as data_lib, distribution, errors, training
from tf_mmjsd.data import specs as specs_lib
from tf_mmjsd.data.pipeline import Pipeline

MODES = ("compute", "end_to_end")


def _fixed_batch(config, batch, seed=0):
  examples = specs_lib.random_examples(config.modalities, batch,
                                      np.random.default_rng(seed))
  return {"inputs": {m: tf.constant(x) for m, x in examples.items()},
          "masks": {s.name: tf.ones([batch], tf.bool)
                    for s in config.modalities},
          "labels": tf.zeros([batch], tf.int32)}


def matmul_rate(size=1024, repeats=5, products=8):
  """float32 FLOP/s of [size, size] @ [size, size] (the best of `repeats`
  timings of `products` chained products in one tf.function)."""
  a = tf.random.stateless_normal([size, size], seed=[1, 2])
  b = tf.random.stateless_normal([size, size], seed=[3, 4]) / size

  @tf.function
  def chain(x):
    for _ in range(products):
      x = tf.matmul(x, b)
    return tf.reduce_sum(x)

  chain(a).numpy()  # trace and warm up
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    chain(a).numpy()
    best = min(best, time.perf_counter() - start)
  return 2.0 * size**3 * products / best


def step_flops(config, batch_size=None):
  """FLOPs of one training step per example (see the module docstring),
  counted on a one-device step of `batch_size` (default config's)."""
  batch_size = batch_size or config.batch_size
  one = dataclasses.replace(config, distribution="one_device",
                            jit_compile=False, mixed_precision="float32")
  model = training.build(one, distribution.make_strategy("one_device"))
  return graph_flops(tf.function(model.train_step).get_concrete_function(
      _fixed_batch(one, batch_size)).graph) / batch_size


def graph_flops(graph):
  """The FLOPs the TensorFlow profiler registers for the ops of `graph`
  (a tf.Graph with static shapes)."""
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  # The profiler is TensorFlow v1 API (no v2 counts FLOPs): its deprecation
  # warnings say nothing to a user of bin/benchmark.
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    return tf.compat.v1.profiler.profile(graph,
                                         options=options).total_float_ops
  finally:
    logger.setLevel(level)


def roofline(config, log=print):
  """{"matmul_flops_per_second", "step_flops_per_example",
  "roofline_examples_per_second"} of this machine and configuration."""
  rate = matmul_rate()
  flops = step_flops(config)
  log(f"  roofline: float32 matmul {rate / 1e9:.1f} GFLOP/s, step "
      f"{flops / 1e6:.1f} MFLOP/example -> {rate / flops:.0f} examples/s")
  return {"matmul_flops_per_second": rate, "step_flops_per_example": flops,
          "roofline_examples_per_second": rate / flops}


def _input(config, needed, streamed, log):
  """make(pipeline, num_pipelines, replica_batch) of the configured data's
  training batches (records: streamed from their shards where
  `streamed`, else held in memory)."""
  if streamed:
    from tf_mmjsd.data import records  # pylint: disable=g-import-not-at-top
    stream = records.Stream(records.read_manifest(config.data_path))

    def make(pipeline, num_pipelines, replica_batch):
      return stream.train_dataset(config.modalities, config.batch_size,
                                  needed, config.seed, 0, pipeline=pipeline,
                                  num_pipelines=num_pipelines,
                                  replica_batch=replica_batch)
    return make
  train_split, _ = data_lib.load_splits(
      dataclasses.replace(config, stream_records=False), log=log)
  pipe = Pipeline(train_split, config.modalities)

  def make(pipeline, num_pipelines, replica_batch):
    return pipe.train_dataset(config.batch_size, needed, config.seed, 0,
                              pipeline=pipeline, num_pipelines=num_pipelines,
                              replica_batch=replica_batch)
  return make


def read_rate(config, batches=200, streamed=False, warmup=20, log=print):
  """Examples/s of the training input pipeline alone (one process, the
  global batch), after `warmup` batches."""
  make = _input(config, warmup + batches, streamed, log)
  iterator = iter(make(0, 1, config.batch_size))
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * config.batch_size / (time.perf_counter() - start)


def measure(config, mode="compute", steps=50, repeats=5, warmup=10,
            log=print, streamed=False, with_roofline=True):
  """{"examples_per_second": {"min", "median", "max"}, ...} of `mode`.

  "compute" trains on one fixed global batch again and again, split over
  the replicas as training splits its batches; "final_loss" is the mean
  loss of all steps run, so it agrees across strategies.

  The step is the one bin/train runs: the config's strategy, precision,
  `jit_compile` and `steps_per_execution` (a repeat runs `steps` rounded
  up to a multiple of it). With `with_roofline`, also this machine's
  `roofline` and "roofline_fraction": the median examples/s over the
  roofline rate.
  """
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  strategy = distribution.make_strategy(
      config.distribution, config.collective_timeout, config.startup_timeout,
      log=log, mixed_precision=config.mixed_precision)
  distribution.check_batch(config.batch_size, strategy)
  model = training.build(config, strategy)
  train = training.make_train_function(model, strategy, config.jit_compile)
  per_call = config.steps_per_execution
  calls = -(-steps // per_call)
  needed = warmup + calls * per_call * repeats
  if mode == "compute":
    fixed = _fixed_batch(config, config.batch_size)

    def make(pipeline, num_pipelines, replica_batch):
      # The pipeline's rows of the one global batch, as in training.
      part = config.batch_size // num_pipelines
      rows = tf.nest.map_structure(
          lambda x: x[pipeline * part:(pipeline + 1) * part], fixed)
      return tf.data.Dataset.from_tensor_slices(rows).batch(
          replica_batch).cache().repeat()
  else:
    make = _input(config, needed, streamed, log)
  iterator = iter(distribution.distribute(strategy, config.batch_size, make))
  train(iterator, tf.constant(warmup))
  model.step.numpy()  # wait for the warm-up to finish
  rates = []
  for r in range(repeats):
    start = time.perf_counter()
    for _ in range(calls):
      train(iterator, tf.constant(per_call))
    model.step.numpy()
    seconds = time.perf_counter() - start
    rates.append(calls * per_call * config.batch_size / seconds)
    log(f"  repeat {r + 1}/{repeats}: {rates[-1]:.0f} examples/s")
  bound = roofline(config, log) if with_roofline else {}
  if bound:
    bound["roofline_fraction"] = (float(np.median(rates))
                                  / bound["roofline_examples_per_second"])
  return {**bound, "mode": mode, "batch_size": config.batch_size,
          "input": ("records, streamed" if streamed else
                    "fixed batch" if mode == "compute" else "in memory"),
          "steps": calls * per_call, "repeats": repeats, "device": _device(),
          "replicas": strategy.num_replicas_in_sync,
          "mixed_precision": config.mixed_precision,
          "jit_compile": config.jit_compile,
          "steps_per_execution": per_call,
          "final_loss": float(model.trackers["loss"].result()),
          "examples_per_second": {"min": min(rates),
                                  "median": float(np.median(rates)),
                                  "max": max(rates)}}


def latest_version(export_dir):
  """export_dir itself if it holds a SavedModel, else its newest version."""
  if tf.io.gfile.exists(os.path.join(export_dir, "saved_model.pb")):
    return export_dir
  versions = [int(n) for n in tf.io.gfile.listdir(export_dir)
              if n.strip("/").isdigit()] if tf.io.gfile.isdir(export_dir) else []
  if not versions:
    raise errors.UsageError(f"--export_dir={export_dir} holds no SavedModel and "
                       "no version folder; write one with bin/export")
  return os.path.join(export_dir, str(max(versions)))


def _request(signature, batch, rng):
  """Random inputs of every signature input (all modalities present)."""
  out = {}
  for key, spec in signature.structured_input_signature[1].items():
    shape = [batch] + spec.shape.as_list()[1:]
    if spec.dtype == tf.bool:
      out[key] = tf.ones(shape, tf.bool)
    elif spec.dtype.is_integer:
      out[key] = tf.constant(rng.integers(0, 2**31, shape), spec.dtype)
    else:
      out[key] = tf.constant(rng.random(shape), spec.dtype)
  return out


def serving_latency(export_dir, signatures=("serving_default", "generate"),
                    batch_sizes=(1, 256), calls=200, warmup=10, log=print):
  """Latency of single requests to each signature at each batch size.

  Returns:
    {"export": path, "device": ..., "latency_ms": {signature: {batch:
     {"p50", "p90", "p99"}}}}.
  """
  path = latest_version(export_dir)
  loaded = tf.saved_model.load(path)
  rng = np.random.default_rng(0)
  table = {}
  for name in signatures:
    if name not in loaded.signatures:
      raise errors.UsageError(f"{path} has no signature {name!r}; it has "
                         f"{sorted(loaded.signatures)}")
    fn = loaded.signatures[name]
    table[name] = {}
    for batch in batch_sizes:
      request = _request(fn, batch, rng)
      for _ in range(warmup):
        fn(**request)
      seconds = []
      for _ in range(calls):
        start = time.perf_counter()
        out = fn(**request)
        _ = [v.numpy() for v in out.values()]  # the answer, on the host
        seconds.append(time.perf_counter() - start)
      ms = np.percentile(np.array(seconds) * 1e3, [50, 90, 99])
      table[name][batch] = {"p50": ms[0], "p90": ms[1], "p99": ms[2]}
      log(f"  {name:16s} batch {batch:4d}: p50 {ms[0]:7.2f} ms  "
          f"p90 {ms[1]:7.2f} ms  p99 {ms[2]:7.2f} ms")
  return {"export": path, "device": _device(), "calls": calls,
          "latency_ms": table}


def _device():
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    names = [tf.config.experimental.get_device_details(g).get("device_name",
                                                              g.name)
             for g in gpus]
    return ", ".join(names)
  return f"CPU ({os.cpu_count()} cores)"


def _copies(config, count):
  """`config` with `count` copies of its first conv modality (else its
  first), named <name>_0 .. <name>_{count-1}, and nothing else."""
  base = next((s for s in config.modalities if s.network == "conv"),
              config.modalities[0])
  specs = tuple(dataclasses.replace(base, name=f"{base.name}_{i}")
                for i in range(count))
  return dataclasses.replace(config, modalities=specs)


def modality_scaling(config, counts=(2, 3, 4, 6, 8),
                     methods=("mmjsd", "mvae", "mmvae"), steps=10, repeats=3,
                     warmup=3, log=print):
  """Seconds per training step against the number of modalities M.

  Every modality is a copy of the configuration's conv modality (SVHN's
  networks for MNIST-SVHN-Text), so the cost of one modality is fixed and
  any growth beyond linear comes from the objective.

  Returns:
    {"batch_size", "device", "seconds_per_step": {method: {M: median}}}.
  """
  table = {}
  for method in methods:
    table[method] = {}
    for count in counts:
      cfg = _copies(config, count).with_settings(method=method)
      result = measure(cfg, "compute", steps, repeats, warmup,
                       with_roofline=False,
                       log=lambda *_: None)
      seconds = config.batch_size / result["examples_per_second"]["median"]
      table[method][count] = seconds
      log(f"  {method:6s} M={count}: {seconds * 1e3:8.1f} ms/step")
  return {"batch_size": config.batch_size, "device": _device(),
          "seconds_per_step": table}


PRECISION_VARIANTS = {"float32": {},
                      "float32 + XLA": {"jit_compile": True},
                      "mixed_bfloat16": {"mixed_precision": "mixed_bfloat16"},
                      "mixed_bfloat16 + XLA": {
                          "mixed_precision": "mixed_bfloat16",
                          "jit_compile": True}}


def precision_table(config, modes=MODES, steps=20, repeats=3, warmup=5,
                    log=print):
  """Median examples/s of each PRECISION_VARIANTS entry in each mode.

  Returns:
    {"batch_size", "device", "examples_per_second": {variant: {mode: x}},
     "final_loss": {variant: {mode: x}}}.
  """
  rates, losses = {}, {}
  for name, settings in PRECISION_VARIANTS.items():
    cfg = dataclasses.replace(config, **settings)
    rates[name], losses[name] = {}, {}
    for mode in modes:
      result = measure(cfg, mode, steps, repeats, warmup,
                       log=lambda *_: None, with_roofline=False)
      rates[name][mode] = result["examples_per_second"]["median"]
      losses[name][mode] = result["final_loss"]
      log(f"  {name:22s} {mode:10s}: {rates[name][mode]:8.0f} examples/s")
  return {"batch_size": config.batch_size, "device": _device(),
          "examples_per_second": rates, "final_loss": losses}


# Test sets whose whole-set evaluation `evaluation_rate` projects.
WHOLE_TEST_SETS = {"MNIST-SVHN-Text": 200_000, "CelebA": 19_867}


def evaluation_rate(config, sizes=(1000, 3000), log=print):
  """Seconds of each evaluation part at two numbers of test examples, and
  the line through them: a fixed cost (tracing, fitting) and a cost per
  example, projected to the whole test sets of WHOLE_TEST_SETS.

  A first, uncounted evaluation warms the process up (one-time tracing of
  module-level functions, TensorFlow's first runs), so the fixed costs
  are those of each further evaluation in a process. The model and its
  coherence classifiers are untrained (the time of a pass does not depend
  on the weights; k-means and mixture fits may take
  other numbers of steps on trained features). Every part evaluates the
  `n` examples of its size: eval_examples, likelihood_examples and
  quality_examples are set to n; the latent probe's training rows stay
  `probe_train_examples`.

  Returns:
    {"sizes": [n1, n2], "seconds": {n: {part: s}}, "parts": {part:
    {"fixed_s", "per_1000_s", "examples_per_s"}}, "projected_s": {set:
    {"examples": N, part: s, "total": s}}} (sample quality projected with
    min(N, quality_examples) examples, the option's cap).
  """
  from tf_mmjsd import networks  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import classifiers as classifiers_lib  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation.suite import Evaluator  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.model import MultimodalVAE  # pylint: disable=g-import-not-at-top
  train_split, test_split = data_lib.load_splits(config, log=log)
  if len(test_split) < max(sizes):
    raise errors.UsageError(
        f"the test split has {len(test_split)} examples; --eval_sizes "
        f"needs {max(sizes)} (raise --synthetic_test_size)")
  model = MultimodalVAE.from_experiment(config)
  num_classes = classifiers_lib.num_classes_of(train_split)
  clfs = {s.name: networks.build_classifier(s, num_classes)
          for s in config.modalities}
  seconds = {}
  for i, n in enumerate((sizes[0],) + tuple(sizes)):
    cfg = config.with_settings(eval_examples=n, likelihood_examples=n,
                               quality_examples=max(n, config.prd_clusters))
    log(f"Evaluating {n} test examples"
        + (" (warm-up, not counted)" if not i else "") + " ...")
    results, _ = Evaluator(model, cfg, train_split, test_split, clfs,
                           {"modalities": {}}, log=lambda *_: None).evaluate()
    log("  " + ", ".join(f"{k} {v:.1f} s"
                         for k, v in results["seconds"].items()))
    if i:
      seconds[n] = results["seconds"]
  (n1, n2), parts = sizes, {}
  for part in seconds[n1]:
    slope = max(seconds[n2][part] - seconds[n1][part], 0.0) / (n2 - n1)
    parts[part] = {"fixed_s": round(seconds[n1][part] - slope * n1, 2),
                   "per_1000_s": round(slope * 1000, 3),
                   "examples_per_s": round(1 / slope) if slope else None}
  projected = {}
  for name, total in WHOLE_TEST_SETS.items():
    out = {}
    for part, fit in parts.items():
      n = (min(total, config.quality_examples) if part == "sample_quality"
           else total)
      out[part] = round(max(fit["fixed_s"], 0.0)
                        + fit["per_1000_s"] * n / 1000, 1)
    out["total"] = round(sum(out.values()), 1)
    projected[name] = {"examples": total, **out}
  return {"sizes": list(sizes), "seconds": seconds, "parts": parts,
          "projected_s": projected, "device": _device()}
