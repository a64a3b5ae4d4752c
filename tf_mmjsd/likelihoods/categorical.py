"""The categorical likelihood on logits, per position of a one-hot
sequence: log p(x | logits) = sum_l log_softmax(logits_l)[x_l].

A proper categorical on logits with one-hot x [B, L, C] (the original code
passed log-softmax values as probabilities; we do not reproduce that bug).
"""

import tensorflow as tf


def log_prob(x, logits, scale=None):
  """[B] log-probability of one-hot x [B, L, C] under categorical(logits)."""
  del scale
  return tf.reduce_sum(x * tf.nn.log_softmax(logits, axis=-1), axis=[1, 2])


def mean(logits, spec):
  """The one-hot argmax symbol at each position."""
  return tf.one_hot(tf.argmax(logits, axis=-1), spec.shape[-1],
                    dtype=logits.dtype)
