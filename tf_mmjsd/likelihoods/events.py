"""Summing a log-density over an example's dimensions."""

import tensorflow as tf


def sum_event(values, event_rank):
  """values [B, *event] summed over the last `event_rank` axes: [B]."""
  return tf.reduce_sum(values, axis=list(range(-event_rank, 0)))
