"""Transposed-convolutional decoder to [H, W, C] images of any size."""

import keras

from tf_mmjsd.networks import geometry, initializers
from tf_mmjsd.networks.decoder import Decoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class ConvDecoder(Decoder):
  """z -> [B, H, W, C], the mirror of ConvEncoder with the same `width`.

  Dense 4 * width -> 1x1 -> ReLU -> ConvT (valid, kernel = the encoder's
  remaining size) -> stride-2 ConvT stages (k4 same, ReLU; channels the
  encoder's in reverse) -> ConvT C (k4 s2 same, no activation) -> centre
  crop to H x W where the doublings overshoot. At 32x32 this is the SVHN
  decoder: Dense 128 -> ConvT 64 k4 valid (4x4) -> ConvT 64, 32 k4 s2 ->
  ConvT C k4 s2 (32x32), 233,763 parameters for C = 3, width 32 and
  latent_dim 20.
  """

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", width=32, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    if len(self.data_shape) != 3:
      raise ValueError(f"ConvDecoder makes [H, W, C] images, got {data_shape}")
    self.width = int(width)
    stages, last = geometry.plan(self.data_shape[:2])
    # Output channels of each transposed conv, the encoder's in reverse.
    outs = [width if i == 0 else 2 * width for i in range(stages)][::-1]
    outs.append(self.data_shape[2])
    convt = keras.layers.Conv2DTranspose
    layers = [initializers.dense(4 * width, self.input_dim, name="dense"),
              keras.layers.Reshape((1, 1, 4 * width)),
              keras.layers.ReLU()]
    for i, filters in enumerate(outs):
      final = i == len(outs) - 1
      kernel = last if i == 0 else 4
      volume = last[0] * last[1] if i == 0 else 16
      extra = {"dtype": "float32"} if final else {"activation": "relu"}
      layers.append(initializers.conv(
          convt, filters, kernel, filters * volume, strides=1 if i == 0 else 2,
          padding="valid" if i == 0 else "same", name=f"deconv_{i}", **extra))
    made = [geometry.decoded_size(s, stages) for s in last]
    extra = [m - d for m, d in zip(made, self.data_shape[:2])]
    if any(extra):
      layers.append(keras.layers.Cropping2D(
          tuple((e // 2, e - e // 2) for e in extra), dtype="float32",
          name="crop"))
    self.body = layers

  def get_config(self):
    return {**super().get_config(), "width": self.width}
