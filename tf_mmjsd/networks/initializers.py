"""PyTorch's default initialisation, which the reference results used.

Weights and biases are uniform in +-1/sqrt(fan_in). Keras' VarianceScaling
with scale 1/3 gives that bound for kernels (its fan_in of a transposed
convolution, kh*kw*out_channels, is also PyTorch's); biases need fan_in.
"""

import math

import keras


def kernel():
  return keras.initializers.VarianceScaling(
      scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def bias(fan_in):
  bound = 1.0 / math.sqrt(fan_in)
  return keras.initializers.RandomUniform(-bound, bound)


def dense(units, fan_in, **kwargs):
  return keras.layers.Dense(units, kernel_initializer=kernel(),
                            bias_initializer=bias(fan_in), **kwargs)


def conv(layer_cls, filters, kernel_size, fan_in, **kwargs):
  """A Conv*/Conv*Transpose layer with fan_in = channels * kernel volume."""
  return layer_cls(filters, kernel_size, kernel_initializer=kernel(),
                   bias_initializer=bias(fan_in), **kwargs)
