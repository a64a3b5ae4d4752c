"""Decoder to flat-ish data: Dense(hidden) ReLU -> Dense -> reshape."""

import math

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.decoder import Decoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MLPDecoder(Decoder):
  """z -> [B, *data_shape]; the MNIST decoder with data_shape (28, 28, 1),
  hidden_units 400 and a sigmoid output (322,784 parameters)."""

  def __init__(self, data_shape, latent_dim, style_dim=0,
               output_activation="linear", hidden_units=400, **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, output_activation,
                     **kwargs)
    self.hidden_units = hidden_units
    self.body = [
        initializers.dense(hidden_units, self.input_dim, activation="relu",
                           name="hidden"),
        initializers.dense(math.prod(self.data_shape), hidden_units,
                           name="output", dtype="float32"),
        keras.layers.Reshape(self.data_shape, dtype="float32"),
    ]

  def get_config(self):
    return {**super().get_config(), "hidden_units": self.hidden_units}
