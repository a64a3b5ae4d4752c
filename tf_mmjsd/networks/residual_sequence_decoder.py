"""Residual 1-D transposed-convolutional decoder to length-256 sequences."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder
from tf_mmjsd.networks.residual_block import ResidualBlock


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ResidualSequenceDecoder(Decoder):
  """z -> logits [B, 256, C].

  Dense 640 -> length 1 -> transposed residual blocks to 640 (k4 s1 valid;
  1 -> 4), 640, 512, 384, 256, 128 (k4 s2; 4 -> 128) -> ConvT1D C (k4 s2;
  256). With width 128, 71 symbols and 64 latent inputs: 13,604,039
  trainable parameters.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", width=128, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if len(self.data_shape) != 2 or self.data_shape[0] != 256:
      raise ValueError(f"ResidualSequenceDecoder makes [256, C] sequences, "
                       f"got {data_shape}")
    self.width = int(width)
    w, symbols = self.width, self.data_shape[1]
    block = lambda f, name, **kw: ResidualBlock(f, rank=1, transpose=True,
                                                name=name, **kw)
    self.body = [
        initializers.dense(5 * w, self.input_dim, name="dense"),
        keras.layers.Reshape((1, 5 * w)),
        block(5 * w, "block_0", strides=1, padding="valid"),
        block(5 * w, "block_1"), block(4 * w, "block_2"),
        block(3 * w, "block_3"), block(2 * w, "block_4"),
        block(w, "block_5"),
        initializers.conv(keras.layers.Conv1DTranspose, symbols, 4,
                          symbols * 4, strides=2, padding="same",
                          name="logits", dtype="float32"),
    ]

  def get_config(self):
    return {**super().get_config(), "width": self.width}
