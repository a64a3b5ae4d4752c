"""The Bernoulli likelihood on logits: log p(x | l) = sum_i x_i l_i -
softplus(l_i).

Data lie in [0, 1] (binary, or grey values read as probabilities, for
which the formula is the usual cross-entropy rather than a normalised
density)."""

import tensorflow as tf

from tf_mmjsd.likelihoods.events import sum_event


def log_prob(x, logits, scale=None):
  """[B] log-probability of x [B, ...] in [0, 1] under Bernoulli(logits)."""
  del scale
  values = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
  return sum_event(values, len(x.shape) - 1)


def mean(logits, spec):
  """sigmoid(logits)."""
  del spec
  return tf.sigmoid(logits)
