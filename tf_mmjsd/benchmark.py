"""Training throughput of a configuration on the current device.

`measure` times `steps` training steps `repeats` times after `warmup` steps
and reports examples per second (global batch / seconds per step) as
min / median / max. "compute" feeds one fixed batch already in memory (the
model and optimizer alone); "end_to_end" feeds the real input pipeline of
the configured data set.
"""

import time

import numpy as np
import tensorflow as tf

from tf_mmjsd import data as data_lib, training
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


def _device():
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    names = [tf.config.experimental.get_device_details(g).get("device_name",
                                                              g.name)
             for g in gpus]
    return ", ".join(names)
  import os  # pylint: disable=g-import-not-at-top
  return f"CPU ({os.cpu_count()} cores)"
