"""Unimodal posteriors of a whole split, and probes of every subset."""

import numpy as np
import tensorflow as tf

from tf_mmjsd import fusion
from tf_mmjsd.evaluation import probe
from tf_mmjsd.subsets import key as subset_key  # pylint: disable=unused-import  # part of this module's API


def encode_split(model, pipeline, batch_size, rows=None):
  """Unimodal posterior parameters of the rows of a split.

  Returns:
    ({m: (loc [N, D], scale [N, D])}, {m: float [N] presence}, labels [N]),
    numpy arrays.
  """
  encode = tf.function(lambda inputs: model.encode(inputs)["content"])
  parts, masks, labels = [], [], []
  for batch in pipeline.eval_dataset(batch_size, rows):
    parts.append({m: (l.numpy(), s.numpy())
                  for m, (l, s) in encode(batch["inputs"]).items()})
    masks.append({m: v.numpy() for m, v in batch["masks"].items()})
    labels.append(batch["labels"].numpy())
  content = {m: (np.concatenate([p[m][0] for p in parts]),
                 np.concatenate([p[m][1] for p in parts]))
             for m in parts[0]}  # the joint encoder's too, if any
  present = {m: np.concatenate([k[m] for k in masks]).astype(np.float32)
             for m in model.names}
  return content, present, np.concatenate(labels)


def subset_means(model, content, present, subset, fusion_kind):
  """Posterior means [N, D] of c given `subset` under one fusion."""
  dist = model.fuse(model.restrict(content, subset),
                    {m: present[m] for m in subset}, fusion_kind)
  return dist.mean().numpy()


def probe_subsets(model, train, test, fusions=fusion.KINDS):
  """Probe accuracy on the test rows for every non-empty subset.

  Args:
    train, test: (content, present, labels) from `encode_split`.

  Returns:
    {fusion: {"a+b": score}}: accuracy for class labels, mean average
    precision for attribute labels (then also {"per_attribute": {fusion:
    {"a+b": [K] APs}}}); single modalities appear under both fusions (the
    fusions differ only by the prior factor there).
  """
  out, per_attribute = {}, {}
  for kind in fusions:
    out[kind] = {}
    for subset in fusion.subsets(model.names):
      train_part, test_part = rows_with_any(train, subset), rows_with_any(
          test, subset)
      if not len(train_part[2]) or not len(test_part[2]):
        continue  # no example observes any modality of the subset
      train_x = subset_means(model, *train_part[:2], subset, kind)
      test_x = subset_means(model, *test_part[:2], subset, kind)
      value, per = probe.score(train_x, train_part[2], test_x, test_part[2])
      out[kind][subset_key(subset)] = value
      if per is not None:
        per_attribute.setdefault(kind, {})[subset_key(subset)] = per
  if per_attribute:
    out["per_attribute"] = per_attribute
  return out


def encode_probe_rows(model, train_pipe, test_pipe, num_train, seed,
                      test_rows=None, batch_size=1000):
  """The posteriors the probe and clustering read: of `num_train` random
  labelled training examples and of the labelled `test_rows` (default:
  the whole test split).

  Returns:
    {"train": encoded, "test": encoded}, each (content, present, labels)
    of `encode_split`, or {"skipped": reason} without labels.
  """
  train_labels = train_pipe.split.labels
  rng = np.random.default_rng([seed, 3])
  n = min(num_train, len(train_labels))
  rows = np.sort(rng.choice(len(train_labels), n, replace=False))
  rows = rows[train_pipe.split.labelled()[rows]]
  if test_rows is None:
    test_rows = np.arange(len(test_pipe.split))
  test_rows = test_rows[test_pipe.split.labelled()[test_rows]]
  if not len(rows):
    return {"skipped": f"none of the {n} training examples drawn for the "
                       "probe has a label"}
  if not len(test_rows):
    return {"skipped": "no test example has a label"}
  return {"train": encode_split(model, train_pipe, batch_size, rows),
          "test": encode_split(model, test_pipe, batch_size, test_rows)}


def probe_part(model, encoded):
  """The latent probe's results of `encode_probe_rows`'s value:
  {"train_examples": n, "test_examples": n', "metric", "poe": {...},
  "mixture": {...}} (see `probe_subsets`), or its {"skipped": reason}."""
  if "skipped" in encoded:
    return encoded
  train, test = encoded["train"], encoded["test"]
  return {"train_examples": int(len(train[2])),
          "test_examples": int(len(test[2])),
          "metric": "accuracy" if train[2].ndim == 1 else "mean_ap",
          **probe_subsets(model, train, test)}


def run_probe(model, train_pipe, test_pipe, num_train, seed, test_rows=None,
              batch_size=1000):
  """Probe accuracies of every subset (`probe_part` of
  `encode_probe_rows`)."""
  return probe_part(model, encode_probe_rows(
      model, train_pipe, test_pipe, num_train, seed, test_rows, batch_size))


def rows_with_any(encoded, subset):
  """The rows of (content, present, labels) observing a modality of subset."""
  content, present, labels = encoded
  keep = sum(present[m] for m in subset) > 0
  return ({m: (loc[keep], scale[keep]) for m, (loc, scale) in content.items()},
          {m: p[keep] for m, p in present.items()}, labels[keep])
