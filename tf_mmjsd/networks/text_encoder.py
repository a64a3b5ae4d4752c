"""1-D convolutional encoder of one-hot character sequences of length 8."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class TextEncoder(GaussianEncoder):
  """x [B, 8, alphabet] -> posterior parameters.

  Conv1D 128 k1 ReLU -> Conv1D 128 k4 s2 same ReLU (length 4) -> Conv1D 128
  k4 s2 valid ReLU (length 1) -> heads: 145,704 parameters for alphabet 71.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if self.data_shape[0] != 8:
      raise ValueError(f"TextEncoder takes sequences of length 8, got "
                       f"{data_shape}")
    alphabet = self.data_shape[1]
    conv = keras.layers.Conv1D
    self.body = [
        initializers.conv(conv, 128, 1, alphabet, activation="relu",
                          name="conv_0"),
        initializers.conv(conv, 128, 4, 128 * 4, strides=2, padding="same",
                          activation="relu", name="conv_1"),
        initializers.conv(conv, 128, 4, 128 * 4, strides=2, padding="valid",
                          activation="relu", name="conv_2"),
        keras.layers.Flatten(),
    ]
    self.feature_dim = 128
    self._make_heads()
