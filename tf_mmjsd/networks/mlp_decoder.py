"""Decoder to flat or tabular data: Dense layers (ReLU) -> Dense -> reshape."""

import math

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder
from tf_mmjsd.networks.mlp_encoder import hidden_sizes


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MLPDecoder(Decoder):
  """z -> Dense(h) ReLU for each h of `hidden_units` in reverse (the
  encoder's mirror) -> Dense -> [B, *data_shape]; the MNIST decoder with
  data_shape (28, 28, 1), hidden_units [400] and a sigmoid output (322,784
  parameters)."""

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", hidden_units=400, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    self.hidden_units = hidden_sizes(hidden_units)
    fan_in, self.body = self.input_dim, []
    for i, units in enumerate(reversed(self.hidden_units)):
      self.body.append(initializers.dense(
          units, fan_in, activation="relu",
          name="hidden" if i == 0 else f"hidden_{i}"))
      fan_in = units
    self.body += [
        initializers.dense(math.prod(self.data_shape), fan_in,
                           name="output", dtype="float32"),
        keras.layers.Reshape(self.data_shape, dtype="float32"),
    ]

  def get_config(self):
    return {**super().get_config(), "hidden_units": self.hidden_units}
