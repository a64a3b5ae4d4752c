"""Residual transposed-convolutional decoder to 64x64 images (CelebA)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder
from tf_mmjsd.networks.residual_block import ResidualBlock


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ResidualConvDecoder(Decoder):
  """z -> [B, 64, 64, C].

  Dense 640 -> 1x1x640 -> transposed residual blocks to 512 (k4 s1 valid;
  1 -> 4), 384, 256, 128 (k4 s2; 4 -> 8 -> 16 -> 32) -> ConvT C (k3 s2,
  PyTorch's padding 1 and output padding 1: 32 -> 64), no activation. With
  width 128, C = 3 and 64 latent inputs: 21,912,323 trainable parameters.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", width=128, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if tuple(self.data_shape[:2]) != (64, 64) or len(self.data_shape) != 3:
      raise ValueError(f"ResidualConvDecoder makes 64x64xC images, got "
                       f"{data_shape}")
    self.width = int(width)
    w, channels = self.width, self.data_shape[2]
    block = lambda f, name, **kw: ResidualBlock(f, transpose=True, name=name,
                                                **kw)
    self.body = [
        initializers.dense(5 * w, self.input_dim, name="dense"),
        keras.layers.Reshape((1, 1, 5 * w)),
        block(4 * w, "block_0", strides=1, padding="valid"),
        block(3 * w, "block_1"), block(2 * w, "block_2"),
        block(w, "block_3"),
        # "valid" gives 65 x 65; PyTorch's padding 1 / output padding 1
        # keeps rows and columns 1..64.
        initializers.conv(keras.layers.Conv2DTranspose, channels, 3,
                          channels * 9, strides=2, padding="valid",
                          name="deconv", dtype="float32"),
        keras.layers.Cropping2D(((1, 0), (1, 0)), dtype="float32",
                                name="crop"),
    ]

  def get_config(self):
    return {**super().get_config(), "width": self.width}
