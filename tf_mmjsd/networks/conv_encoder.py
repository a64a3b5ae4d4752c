"""Convolutional encoder of 32x32 images (the SVHN encoder)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ConvEncoder(GaussianEncoder):
  """x [B, 32, 32, C] -> posterior parameters.

  Conv 32/64/64 (k4 s2 same, ReLU) -> Conv 128 (k4 s1 valid, ReLU, 1x1) ->
  heads: 236,360 parameters for C = 3 and latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if self.data_shape[:2] != (32, 32):
      raise ValueError(f"ConvEncoder takes 32x32 images, got {data_shape}")
    channels = self.data_shape[2]
    layers = []
    for i, filters in enumerate((32, 64, 64)):
      layers.append(initializers.conv(
          keras.layers.Conv2D, filters, 4, channels * 16, strides=2,
          padding="same", activation="relu", name=f"conv_{i}"))
      channels = filters
    layers.append(initializers.conv(keras.layers.Conv2D, 128, 4, channels * 16,
                                    padding="valid", activation="relu",
                                    name="conv_3"))
    layers.append(keras.layers.Flatten())
    self.body = layers
    self.feature_dim = 128
    self._make_heads()
