"""tf.data pipelines that gather batches from a `Split` by index.

A batch is a dict:
  {"inputs": {modality: float32 [B, *shape]},
   "masks":  {modality: bool [B]},
   "labels": int32 [B]}
Absent modalities (mask False) have all-zero inputs. Integer tokens of a
categorical modality are one-hot encoded here; a memory-mapped pool is read
batch by batch (only the rows of the batch are touched).
"""

import numpy as np
import tensorflow as tf

from tf_mmjsd.data.split import is_tokens


def epoch_order(num_examples, num_steps, batch_size, rng):
  """Example order of one epoch: concatenated permutations, num_steps*B long."""
  need = num_steps * batch_size
  parts, have = [], 0
  while have < need:
    parts.append(rng.permutation(num_examples))
    have += num_examples
  return np.concatenate(parts)[:need]


def model_input(spec, x, mask, tokens):
  """The network input float32 [B, *spec.shape] of stored examples `x`
  [B, ...]: integer tokens (`tokens`) one-hot encoded, uint8 scaled by
  1/255, anything else cast; zeros where `mask` (bool [B]) is False."""
  if tokens:
    x = tf.one_hot(tf.cast(x, tf.int32), spec.shape[-1], dtype=tf.float32)
  elif x.dtype == tf.uint8:
    x = tf.cast(x, tf.float32) * (1.0 / 255.0)
  else:
    x = tf.cast(x, tf.float32)
  mask = tf.reshape(mask, [-1] + [1] * len(spec.shape))
  return tf.where(mask, x, tf.zeros_like(x))  # also replaces NaN


class Pipeline:
  """Builds batches of one split; in-memory pools are copied to TF once,
  memory-mapped ones (np.memmap) stay on disk."""

  def __init__(self, split, specs):
    self.split = split
    self.specs = tuple(specs)
    self._pools = {name: pool if isinstance(pool, np.memmap) else
                   tf.constant(pool) for name, pool in split.pools.items()}
    self._tokens = {s.name for s in self.specs if s.name in split.pools
                    and is_tokens(s, split.pools[s.name])}
    self._derived = split.derived or {}

  def _rows(self, name, index):
    """pool[index] of modality `name`: [B, *pool shape[1:]]."""
    pool = self._pools[name]
    if not isinstance(pool, np.memmap):
      return tf.gather(pool, index)
    rows = tf.numpy_function(lambda i: np.asarray(pool[i]), [index],
                             tf.as_dtype(pool.dtype), stateful=False)
    rows.set_shape([None] + list(pool.shape[1:]))
    return rows

  def _slices(self, order, params):
    """The tensors of the examples `order`; `params` {m: int [N]} are those
    of the derived modalities."""
    split = self.split
    out = {"labels": split.labels[order].astype(np.int32)}
    out["index"] = {k: v[order] for k, v in split.indices.items()}
    if params:
      out["derived"] = {m: p[order].astype(np.int32)
                        for m, p in params.items()}
    out["masks"] = {}
    for spec in self.specs:
      if split.masks is not None and spec.name in split.masks:
        out["masks"][spec.name] = np.asarray(split.masks[spec.name],
                                             bool)[order]
      else:
        out["masks"][spec.name] = np.ones(len(order), bool)
    return out

  def _gather(self, sl):
    inputs = {}
    for spec in self.specs:
      if spec.name in self._derived:
        x = self._derived[spec.name].make(sl["labels"],
                                          sl["derived"][spec.name])
      else:
        x = self._rows(spec.name, sl["index"][spec.name])
      inputs[spec.name] = model_input(spec, x, sl["masks"][spec.name],
                                      spec.name in self._tokens)
    return {"inputs": inputs, "masks": sl["masks"], "labels": sl["labels"]}

  def train_dataset(self, batch_size, steps, seed, epoch, skip_steps=0,
                    pipeline=0, num_pipelines=1, replica_batch=None):
    """The batches of one training epoch, deterministic from (seed, epoch).

    Step s trains on examples s*B .. (s+1)*B - 1 of the epoch's order (B =
    `batch_size`, the global batch). With several input pipelines (one per
    worker), pipeline p reads the p-th of `num_pipelines` equal contiguous
    parts of every global batch, cut into batches of `replica_batch` for its
    local replicas in order; so replica r of R always gets rows r*B/R ..
    (r+1)*B/R - 1 of the global batch.

    Args:
      skip_steps: batches of this epoch already trained on (resumption).
      pipeline, num_pipelines: this input pipeline and how many there are.
      replica_batch: examples per replica (default: B / num_pipelines).
    """
    if self.split.stream is not None:  # records streamed (records.Stream)
      return self.split.stream.train_dataset(
          self.specs, batch_size, steps, seed, epoch, skip_steps, pipeline,
          num_pipelines, replica_batch)
    rng = np.random.default_rng([seed, epoch, 7])
    order = epoch_order(len(self.split), steps, batch_size, rng)
    params = {m: d.draw(self.split.labels, rng)
              for m, d in self._derived.items()}
    part = batch_size // num_pipelines
    order = order.reshape(steps, batch_size)[skip_steps:]
    order = order[:, pipeline * part:(pipeline + 1) * part].reshape(-1)
    ds = tf.data.Dataset.from_tensor_slices(self._slices(order, params))
    ds = ds.batch(replica_batch or part, drop_remainder=True)
    ds = ds.map(self._gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

  def eval_dataset(self, batch_size, rows=None):
    """The examples `rows` (default: all) in order, last batch partial."""
    order = np.arange(len(self.split)) if rows is None else np.asarray(rows)
    params = {m: d.fixed if d.fixed is not None else
              d.draw(self.split.labels, np.random.default_rng(0))
              for m, d in self._derived.items()}
    ds = tf.data.Dataset.from_tensor_slices(self._slices(order, params))
    ds = ds.batch(batch_size).map(self._gather,
                                  num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
