"""Encoder of flat-ish data: flatten -> Dense(hidden) ReLU -> heads."""

import math

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MLPEncoder(GaussianEncoder):
  """x [B, *data_shape] -> posterior parameters; the MNIST encoder with
  data_shape (28, 28, 1) and hidden_units 400 (330,040 parameters)."""

  def __init__(self, data_shape, latent_dim, style_dim=0, hidden_units=400,
               **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    self.hidden_units = hidden_units
    fan_in = math.prod(self.data_shape)
    self.body = [keras.layers.Flatten(),
                 initializers.dense(hidden_units, fan_in, activation="relu",
                                    name="hidden")]
    self.feature_dim = hidden_units
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "hidden_units": self.hidden_units}
