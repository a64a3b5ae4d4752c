"""Training throughput of a configuration, and serving latency of an
export, on the current device.

`measure` times `steps` training steps `repeats` times after `warmup` steps
and reports examples per second (global batch / seconds per step) as
min / median / max. "compute" feeds one fixed batch already in memory (the
model and optimizer alone); "end_to_end" feeds the real input pipeline of
the configured data set. `serving_latency` times the signatures of an
exported SavedModel, loaded with TensorFlow alone, one request at a time.
"""

import os
import time

import numpy as np
import tensorflow as tf

from tf_mmjsd import data as data_lib, errors, training
from tf_mmjsd.data.pipeline import Pipeline

MODES = ("compute", "end_to_end")


def _fixed_batch(config, seed=0):
  rng = np.random.default_rng(seed)
  batch = config.batch_size
  inputs = {}
  for spec in config.modalities:
    if spec.likelihood == "categorical":
      ids = rng.integers(0, spec.shape[-1], (batch, spec.shape[0]))
      inputs[spec.name] = tf.one_hot(ids, spec.shape[-1])
    else:
      inputs[spec.name] = tf.constant(rng.random((batch,) + spec.shape),
                                      tf.float32)
  return {"inputs": inputs,
          "masks": {s.name: tf.ones([batch], tf.bool)
                    for s in config.modalities},
          "labels": tf.zeros([batch], tf.int32)}


def measure(config, mode="compute", steps=50, repeats=5, warmup=10,
            log=print):
  """{"examples_per_second": {"min", "median", "max"}, ...} of `mode`."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  strategy = training.make_strategy(config.distribution)
  model = training.build(config, strategy)
  train_step = training.make_train_function(model, strategy)
  needed = warmup + steps * repeats
  if mode == "compute":
    dataset = tf.data.Dataset.from_tensors(_fixed_batch(config)).repeat()
  else:
    train, _ = data_lib.load_splits(config, log=log)
    dataset = Pipeline(train, config.modalities).train_dataset(
        config.batch_size, needed, config.seed, epoch=0)
  iterator = iter(strategy.experimental_distribute_dataset(dataset))
  for _ in range(warmup):
    train_step(next(iterator))
  model.optimizer.iterations.numpy()  # wait for the warm-up to finish
  rates = []
  for r in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      train_step(next(iterator))
    model.optimizer.iterations.numpy()
    seconds = time.perf_counter() - start
    rates.append(steps * config.batch_size / seconds)
    log(f"  repeat {r + 1}/{repeats}: {rates[-1]:.0f} examples/s")
  return {"mode": mode, "batch_size": config.batch_size, "steps": steps,
          "repeats": repeats, "device": _device(),
          "replicas": strategy.num_replicas_in_sync,
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
    raise errors.Error(f"--export_dir={export_dir} holds no SavedModel and "
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
      raise errors.Error(f"{path} has no signature {name!r}; it has "
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
