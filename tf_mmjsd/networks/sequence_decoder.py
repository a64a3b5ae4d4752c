"""1-D transposed-convolutional decoder to [L, C] sequences of any length."""

import keras

from tf_mmjsd.networks import geometry, initializers
from tf_mmjsd.networks.decoder import Decoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class SequenceDecoder(Decoder):
  """z -> [B, L, C] (logits of C symbols per position, or the likelihood's
  parameters), the mirror of SequenceEncoder with the same `width`.

  Dense width -> length 1 -> ConvT1D width (ReLU, valid, kernel = the
  encoder's remaining length) -> stride-2 stages (ConvT1D width k4 same,
  ReLU) -> Conv1D C k1 -> the first L positions where the doublings
  overshoot. At length 8 this is the text decoder: Dense 128 -> ConvT1D 128
  k4 valid (4) -> ConvT1D 128 k4 s2 (8) -> Conv1D 71 k1, 143,175 parameters
  for 71 symbols, width 128 and latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", width=128, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if len(self.data_shape) != 2:
      raise ValueError(f"SequenceDecoder makes [L, C] sequences, got "
                       f"{data_shape}")
    self.width = int(width)
    length, symbols = self.data_shape
    stages, (last,) = geometry.plan((length,))
    convt = keras.layers.Conv1DTranspose
    layers = [initializers.dense(width, self.input_dim, name="dense"),
              keras.layers.Reshape((1, width)),
              initializers.conv(convt, width, last, width * last,
                                padding="valid", activation="relu",
                                name="deconv_0")]
    for i in range(stages):
      layers.append(initializers.conv(
          convt, width, 4, width * 4, strides=2, padding="same",
          activation="relu", name=f"deconv_{i + 1}"))
    layers.append(initializers.conv(keras.layers.Conv1D, symbols, 1, width,
                                    name="logits", dtype="float32"))
    extra = geometry.decoded_size(last, stages) - length
    if extra:
      layers.append(keras.layers.Cropping1D((0, extra), dtype="float32",
                                            name="crop"))
    self.body = layers

  def get_config(self):
    return {**super().get_config(), "width": self.width}
