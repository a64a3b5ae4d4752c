"""Batch normalisation whose batch statistics see present examples only."""

import inspect

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MaskedBatchNormalization(keras.layers.BatchNormalization):
  """keras.layers.BatchNormalization with a per-example presence mask.

  Absent modalities reach the encoders as all-zero rows; their statistics
  are not the data's. `call(x, training, present)` with `present` bool [B]
  computes the training-mode mean and variance [C] over the present rows
  only (and over every position of them), and updates the moving averages
  with those; a batch without a present row uses and keeps the moving
  averages. With every row present, or `present` None, it is Keras's own
  layer, bit for bit. Inference (training False) ignores `present`.
  """

  def call(self, inputs, training=None, present=None):
    if present is None or not (training and self.trainable):
      return super().call(inputs, training=training)
    present = tf.convert_to_tensor(present, tf.bool)
    return tf.cond(tf.reduce_all(present),
                   lambda: super(MaskedBatchNormalization, self).call(
                       inputs, training=training),
                   lambda: self._present_only(inputs, present))

  def _present_only(self, inputs, present):
    x = tf.cast(inputs, tf.float32)
    axes = list(range(len(x.shape) - 1))  # channels last
    weight = tf.reshape(tf.cast(present, x.dtype),
                        [-1] + [1] * (len(x.shape) - 1))
    count = tf.reduce_sum(weight) * tf.cast(
        tf.reduce_prod(tf.shape(x)[1:-1]), x.dtype)
    safe = tf.maximum(count, 1.0)
    mean = tf.reduce_sum(x * weight, axes) / safe
    variance = tf.reduce_sum(tf.square(x - mean) * weight, axes) / safe
    moving_mean = tf.cast(self.moving_mean, x.dtype)
    moving_variance = tf.cast(self.moving_variance, x.dtype)
    some = count > 0
    mean = tf.where(some, mean, moving_mean)
    variance = tf.where(some, variance, moving_variance)
    m = self.momentum
    self.moving_mean.assign(tf.where(
        some, moving_mean * m + mean * (1.0 - m), moving_mean))
    self.moving_variance.assign(tf.where(
        some, moving_variance * m + variance * (1.0 - m), moving_variance))
    out = tf.nn.batch_normalization(
        x, mean, variance,
        None if self.beta is None else tf.cast(self.beta, x.dtype),
        None if self.gamma is None else tf.cast(self.gamma, x.dtype),
        self.epsilon)
    return tf.cast(out, self.compute_dtype)


def apply_layers(layers, x, present=None):
  """x through `layers` in order; `present` (bool [B] or None) goes to the
  layers whose call takes it (batch norms and the blocks holding them)."""
  for layer in layers:
    if "present" in inspect.signature(layer.call).parameters:
      x = layer(x, present=present)
    else:
      x = layer(x)
  return x
