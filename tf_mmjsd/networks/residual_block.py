"""The residual block of the CelebA networks (1-D or 2-D, down or up)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.masked_batch_normalization import (
    MaskedBatchNormalization)

_CONV = {(1, False): keras.layers.Conv1D, (1, True): keras.layers.Conv1DTranspose,
         (2, False): keras.layers.Conv2D, (2, True): keras.layers.Conv2DTranspose}


def batch_norm(name=None):
  """PyTorch's BatchNorm defaults (momentum 0.1, eps 1e-5) in Keras terms,
  with statistics over the present examples only."""
  return MaskedBatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _apply(layer, x, training, present):
  if isinstance(layer, MaskedBatchNormalization):
    return layer(x, training=training, present=present)
  return layer(x, training=training)


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ResidualBlock(keras.layers.Layer):
  """x [B, *spatial, C_in] -> 2.0 * shortcut(x) + 0.3 * main(x).

  main:     BN -> ReLU -> 1x1 conv (C_in) -> dropout -> BN -> ReLU -> conv
            (C_out, `kernel`, `strides`, `padding`) -> dropout
  shortcut: conv (C_out, same kernel, strides and padding; with bias) -> BN

  `rank` 2 uses Conv2D (transposed: Conv2DTranspose) with channel dropout
  (SpatialDropout2D) and convolutions of the main path without bias; rank 1
  uses Conv1D (transposed: Conv1DTranspose) with element-wise dropout and
  biases, as the original CelebA networks do. Padding "same" with kernel 4
  and stride 2 halves (transposed: doubles) an even size, as PyTorch's
  padding 1 does; "valid" is PyTorch's padding 0.
  """

  def __init__(self, filters, kernel_size=4, strides=2, padding="same",
               rank=2, transpose=False, dropout=0.5, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.strides = filters, kernel_size, strides
    self.padding, self.rank, self.transpose = padding, rank, transpose
    self.dropout = dropout
    self._conv = _CONV[(rank, transpose)]

  def build(self, input_shape):
    channels = int(input_shape[-1])
    volume = self.kernel_size ** self.rank
    bias = self.rank == 1
    drop = (keras.layers.SpatialDropout2D if self.rank == 2 else
            keras.layers.Dropout)
    # Fan-ins for PyTorch's initialisation: a transposed conv's is
    # C_out * kernel volume (initializers.py).
    main_fan = (self.filters if self.transpose else channels) * volume
    self.main = [
        batch_norm("bn_0"), keras.layers.ReLU(),
        initializers.conv(self._conv, channels, 1, channels, use_bias=bias,
                          name="conv_0"),
        drop(self.dropout), batch_norm("bn_1"), keras.layers.ReLU(),
        initializers.conv(self._conv, self.filters, self.kernel_size,
                          main_fan, strides=self.strides, padding=self.padding,
                          use_bias=bias, name="conv_1"),
        drop(self.dropout)]
    self.shortcut = [
        initializers.conv(self._conv, self.filters, self.kernel_size,
                          main_fan, strides=self.strides, padding=self.padding,
                          name="shortcut"),
        batch_norm("bn_shortcut")]
    shape = tuple(input_shape)
    for layer in self.main:
      layer.build(shape)
      shape = layer.compute_output_shape(shape)
    shape = tuple(input_shape)
    for layer in self.shortcut:
      layer.build(shape)
      shape = layer.compute_output_shape(shape)
    super().build(input_shape)

  def call(self, x, training=None, present=None):
    """`present` (bool [B], optional): the rows whose statistics batch
    normalisation may use in training (absent modalities are zero rows)."""
    main, short = x, x
    for layer in self.main:
      main = _apply(layer, main, training, present)
    for layer in self.shortcut:
      short = _apply(layer, short, training, present)
    return 2.0 * short + 0.3 * main

  def compute_output_shape(self, input_shape):
    return self.shortcut[0].compute_output_shape(tuple(input_shape))

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, kernel_size=self.kernel_size,
                  strides=self.strides, padding=self.padding, rank=self.rank,
                  transpose=self.transpose, dropout=self.dropout)
    return config
