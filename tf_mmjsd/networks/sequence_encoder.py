"""1-D convolutional encoder of [L, C] sequences of any length."""

import keras

from tf_mmjsd.networks import geometry, initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class SequenceEncoder(GaussianEncoder):
  """x [B, L, C] (one-hot symbols, or any C features per position) ->
  posterior parameters.

  Conv1D width k1 ReLU -> stride-2 stages (Conv1D width k4 same, ReLU)
  while the length exceeds 4 (odd lengths round up; networks/geometry.py)
  -> Conv1D width (ReLU, valid, kernel = the remaining length) to length 1
  -> heads. At length 8 this is the text encoder: Conv1D 128 k1 -> Conv1D
  128 k4 s2 (4) -> Conv1D 128 k4 valid (1), 145,704 parameters for 71
  symbols, width 128 and latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0, width=128,
               **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    if len(self.data_shape) != 2:
      raise ValueError(f"SequenceEncoder takes [L, C] sequences, got "
                       f"{data_shape}")
    self.width = int(width)
    stages, (last,) = geometry.plan(self.data_shape[:1])
    conv = keras.layers.Conv1D
    layers = [initializers.conv(conv, width, 1, self.data_shape[1],
                                activation="relu", name="conv_0")]
    for i in range(stages):
      layers.append(initializers.conv(
          conv, width, 4, width * 4, strides=2, padding="same",
          activation="relu", name=f"conv_{i + 1}"))
    layers.append(initializers.conv(
        conv, width, last, width * last, padding="valid", activation="relu",
        name=f"conv_{stages + 1}"))
    layers.append(keras.layers.Flatten())
    self.body = layers
    self.feature_dim = width
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "width": self.width}
