"""Encoder of flat or tabular data: flatten -> Dense layers (ReLU) -> heads."""

import math

import keras

from tf_mmjsd.networks import initializers
from tf_mmjsd.networks.gaussian_encoder import GaussianEncoder


def hidden_sizes(hidden_units):
  """A list of layer sizes from an int or a sequence of ints."""
  if isinstance(hidden_units, int):
    return [hidden_units]
  return [int(h) for h in hidden_units]


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class MLPEncoder(GaussianEncoder):
  """x [B, *data_shape] -> flatten -> Dense(h) ReLU for each h in
  `hidden_units` -> heads; the MNIST encoder with data_shape (28, 28, 1) and
  hidden_units [400] (330,040 parameters)."""

  def __init__(self, data_shape, latent_dim, style_dim=0, hidden_units=400,
               **kwargs):
    super().__init__(data_shape, latent_dim, style_dim, **kwargs)
    self.hidden_units = hidden_sizes(hidden_units)
    fan_in = math.prod(self.data_shape)
    self.body = [keras.layers.Flatten()]
    for i, units in enumerate(self.hidden_units):
      self.body.append(initializers.dense(
          units, fan_in, activation="relu",
          name="hidden" if i == 0 else f"hidden_{i}"))
      fan_in = units
    self.feature_dim = fan_in
    self._make_heads()

  def get_config(self):
    return {**super().get_config(), "hidden_units": self.hidden_units}
