"""Average precision (AP) of scores for binary labels, and its mean over
attributes: the CelebA metric of latent probes and coherence.

  AP = sum_n (R_n - R_{n-1}) P_n

over the distinct score thresholds in decreasing order, P_n and R_n the
precision and recall of predicting 1 at scores >= the n-th threshold
(scikit-learn's `average_precision_score`). AP is undefined (NaN) for an
attribute whose labels are all 0; the mean skips such attributes.
"""

import numpy as np


def average_precision(labels, scores):
  """AP of scores [N] for 0/1 labels [N]; NaN without a positive."""
  labels = np.asarray(labels).astype(bool)
  scores = np.asarray(scores, np.float64)
  if labels.shape != scores.shape or labels.ndim != 1:
    raise ValueError(f"labels {labels.shape} and scores {scores.shape} must "
                     "both be [N]")
  positives = labels.sum()
  if not positives:
    return float("nan")
  order = np.argsort(-scores, kind="stable")
  scores, labels = scores[order], labels[order]
  hits = np.cumsum(labels)
  # The last index of each distinct threshold (ties count together).
  last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
  precision = hits[last] / (last + 1)
  recall = hits[last] / positives
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_attribute(labels, scores):
  """[K] AP of each attribute: labels [N, K] of 0/1, scores [N, K]."""
  labels, scores = np.asarray(labels), np.asarray(scores)
  if labels.ndim != 2 or labels.shape != scores.shape:
    raise ValueError(f"labels {labels.shape} and scores {scores.shape} must "
                     "both be [N, K]")
  return np.array([average_precision(labels[:, k], scores[:, k])
                   for k in range(labels.shape[1])])


def mean_average_precision(labels, scores):
  """Mean of `per_attribute` over the attributes with a positive."""
  values = per_attribute(labels, scores)
  return float(np.nanmean(values)) if np.isfinite(values).any() else float(
      "nan")
