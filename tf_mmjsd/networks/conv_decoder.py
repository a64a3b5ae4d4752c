"""Transposed-convolutional decoder to 32x32 images (the SVHN decoder)."""

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ConvDecoder(Decoder):
  """z -> [B, 32, 32, C].

  Dense 128 -> 1x1x128 -> ReLU -> ConvT 64 k4 valid ReLU (4x4) -> ConvT 64
  k4 s2 same ReLU (8x8) -> ConvT 32 k4 s2 same ReLU (16x16) -> ConvT C k4 s2
  same (32x32): 233,763 parameters for C = 3 and latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if self.data_shape[:2] != (32, 32):
      raise ValueError(f"ConvDecoder makes 32x32 images, got {data_shape}")
    convt = keras.layers.Conv2DTranspose
    self.body = [
        initializers.dense(128, self.input_dim, name="dense"),
        keras.layers.Reshape((1, 1, 128)),
        keras.layers.ReLU(),
        initializers.conv(convt, 64, 4, 64 * 16, padding="valid",
                          activation="relu", name="deconv_0"),
        initializers.conv(convt, 64, 4, 64 * 16, strides=2, padding="same",
                          activation="relu", name="deconv_1"),
        initializers.conv(convt, 32, 4, 32 * 16, strides=2, padding="same",
                          activation="relu", name="deconv_2"),
        initializers.conv(convt, self.data_shape[2], 4,
                          self.data_shape[2] * 16, strides=2, padding="same",
                          name="deconv_3", dtype="float32"),
    ]
