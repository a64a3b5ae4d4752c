"""Residual convolutional encoder of 64x64 images (the CelebA encoder)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder
from tf_mmjsd.networks.residual_block import ResidualBlock


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ResidualConvEncoder(GaussianEncoder):
  """x [B, 64, 64, C] -> posterior parameters.

  Conv 128 (k3 s2 pad 1, no bias; 64 -> 32) -> residual blocks (k4 s2) to
  256, 384, 512 channels (32 -> 16 -> 8 -> 4) -> a block to 640 (k4 s2
  valid; 4 -> 1) -> heads. Blocks: networks/residual_block.py. With width
  128 (the channels scale with width / 128), C = 3, 32 content and 32 style
  dimensions: 21,559,040 trainable parameters.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, width=128,
               **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if tuple(self.data_shape[:2]) != (64, 64) or len(self.data_shape) != 3:
      raise ValueError(f"ResidualConvEncoder takes 64x64xC images, got "
                       f"{data_shape}")
    self.width = int(width)
    w = self.width
    self.body = [
        keras.layers.ZeroPadding2D(1),
        initializers.conv(keras.layers.Conv2D, w, 3, self.data_shape[2] * 9,
                          strides=2, use_bias=False, name="conv"),
        ResidualBlock(2 * w, name="block_0"),
        ResidualBlock(3 * w, name="block_1"),
        ResidualBlock(4 * w, name="block_2"),
        ResidualBlock(5 * w, padding="valid", name="block_3"),
        keras.layers.Flatten(),
    ]
    self.feature_dim = 5 * w
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "width": self.width}
