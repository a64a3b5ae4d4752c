"""Coherence of generated samples, judged by per-modality classifiers.

Conditional coherence of subset K -> modality m: the fraction of test
examples whose sample of m, generated from X_K, is classified as the
example's label. Random coherence: the fraction of unconditional samples on
which the predicted labels of *all* modalities agree (one disagreeing
modality makes a sample incoherent; the original code's three-modality
formula counted some disagreements as agreement).
"""

import numpy as np


def conditional(predictions, labels):
  """Fraction of predictions [N] equal to labels [N]."""
  predictions, labels = np.asarray(predictions), np.asarray(labels)
  if predictions.shape != labels.shape or predictions.ndim != 1:
    raise ValueError(f"predictions {predictions.shape} and labels "
                     f"{labels.shape} must both be [N]")
  return float(np.mean(predictions == labels)) if len(labels) else float("nan")


def random(predictions):
  """Fraction of samples on which every modality predicts the same label.

  Args:
    predictions: {m: int [N]} predicted labels of each modality's sample.
  """
  stacked = np.stack([np.asarray(p) for p in predictions.values()])
  if stacked.ndim != 2 or len(stacked) < 2:
    raise ValueError("random coherence needs [N] predictions of >= 2 "
                     "modalities")
  if not stacked.shape[1]:
    return float("nan")
  return float(np.mean(np.all(stacked == stacked[:1], axis=0)))
