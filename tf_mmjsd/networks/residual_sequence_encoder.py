"""Residual 1-D convolutional encoder of length-256 sequences (CelebA text)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder
from tf_mmjsd.networks.residual_block import ResidualBlock


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ResidualSequenceEncoder(GaussianEncoder):
  """x [B, 256, C] -> posterior parameters.

  Conv1D 128 (k4 s2; 256 -> 128) -> residual blocks (k4 s2) to 256, 384,
  512, 640, 640 channels (128 -> 4) -> a block to 640 (k4 s2 valid; 4 -> 1)
  -> heads. With width 128, 71 symbols, 32 content and 32 style dimensions:
  13,250,816 trainable parameters.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, width=128,
               **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if len(self.data_shape) != 2 or self.data_shape[0] != 256:
      raise ValueError(f"ResidualSequenceEncoder takes [256, C] sequences, "
                       f"got {data_shape}")
    self.width = int(width)
    w = self.width
    block = lambda f, name, **kw: ResidualBlock(f, rank=1, name=name, **kw)
    self.body = [
        initializers.conv(keras.layers.Conv1D, w, 4, self.data_shape[1] * 4,
                          strides=2, padding="same", name="conv"),
        block(2 * w, "block_0"), block(3 * w, "block_1"),
        block(4 * w, "block_2"), block(5 * w, "block_3"),
        block(5 * w, "block_4"), block(5 * w, "block_5", padding="valid"),
        keras.layers.Flatten(),
    ]
    self.feature_dim = 5 * w
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "width": self.width}
