"""Convolutional encoder of [H, W, C] images of any size."""

import keras

from tf_mmjsd.networks import geometry, initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ConvEncoder(GaussianEncoder):
  """x [B, H, W, C] -> posterior parameters.

  Stride-2 stages (k4 same, ReLU) halve H and W while they exceed 4 (odd
  sizes round up; networks/geometry.py); the first stage has `width`
  channels, later ones 2 * width. A final conv of 4 * width channels (ReLU,
  valid, kernel = the remaining size) reaches 1x1 -> heads. At 32x32 this is
  the SVHN encoder: Conv 32/64/64 (k4 s2) -> Conv 128 (k4 valid), 236,360
  parameters for C = 3, width 32 and latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, width=32, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if len(self.data_shape) != 3:
      raise ValueError(f"ConvEncoder takes [H, W, C] images, got {data_shape}")
    self.width = int(width)
    stages, last = geometry.plan(self.data_shape[:2])
    channels = self.data_shape[2]
    layers = []
    for i in range(stages):
      filters = width if i == 0 else 2 * width
      layers.append(initializers.conv(
          keras.layers.Conv2D, filters, 4, channels * 16, strides=2,
          padding="same", activation="relu", name=f"conv_{i}"))
      channels = filters
    layers.append(initializers.conv(
        keras.layers.Conv2D, 4 * width, last, channels * last[0] * last[1],
        padding="valid", activation="relu", name=f"conv_{stages}"))
    layers.append(keras.layers.Flatten())
    self.body = layers
    self.feature_dim = 4 * width
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "width": self.width}
