"""1-D transposed-convolutional decoder to character logits of length 8."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class TextDecoder(Decoder):
  """z -> logits [B, 8, alphabet].

  Dense 128 -> length 1 -> ConvT1D 128 k4 valid ReLU (4) -> ConvT1D 128 k4
  s2 same ReLU (8) -> Conv1D alphabet k1: 143,175 parameters for 71 symbols.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if self.data_shape[0] != 8:
      raise ValueError(f"TextDecoder makes sequences of length 8, got "
                       f"{data_shape}")
    convt = keras.layers.Conv1DTranspose
    self.body = [
        initializers.dense(128, self.input_dim, name="dense"),
        keras.layers.Reshape((1, 128)),
        initializers.conv(convt, 128, 4, 128 * 4, padding="valid",
                          activation="relu", name="deconv_0"),
        initializers.conv(convt, 128, 4, 128 * 4, strides=2, padding="same",
                          activation="relu", name="deconv_1"),
        initializers.conv(keras.layers.Conv1D, self.data_shape[1], 1, 128,
                          name="logits", dtype="float32"),
    ]
