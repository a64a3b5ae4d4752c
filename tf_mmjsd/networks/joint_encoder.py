"""Joint encoder q(c | x_1..x_M) of a method that trains one (JMVAE)."""

import keras
import tensorflow as tf

from tf_mmjsd import posteriors
from tf_mmjsd.networks import build, initializers


@keras.saving.register_keras_serializable(package="tf_mmjsd")
class JointEncoder(keras.Model):
  """A copy of every modality's encoder architecture (its own weights),
  their content (loc, log-variance) concatenated [B, 2 M latent_dim],
  Dense ReLU layers of `hidden_units`, and (loc, log-variance) heads
  [B, latent_dim]: MultiVae's default joint encoder, except that it
  concatenates the copies' means only, which leaves their variance heads
  untrained (docs/reference_settings.md).

  Args:
    modalities: the ModalitySpecs (or their dicts), in the model's order.
    latent_dim: size of c.
    hidden_units: sizes of the Dense layers after the concatenation.

  Call takes {m: [B, *shape_m]} for every modality; returns
  {"content_loc", "content_log_var": [B, latent_dim]}.
  """

  def __init__(self, modalities, latent_dim, hidden_units=(512, 512),
               **kwargs):
    super().__init__(**kwargs)
    from tf_mmjsd.data.specs import ModalitySpec  # pylint: disable=g-import-not-at-top
    self.specs = tuple(m if isinstance(m, ModalitySpec) else
                       ModalitySpec.from_dict(m) for m in modalities)
    self.latent_dim = latent_dim
    self.hidden_units = [int(h) for h in hidden_units]
    self.encoders = {s.name: build.build_encoder(
        s, latent_dim, name=f"joint_encoder_{s.name}") for s in self.specs}
    fan_in = 2 * latent_dim * len(self.specs)
    self.hidden = []
    for i, units in enumerate(self.hidden_units):
      self.hidden.append(initializers.dense(units, fan_in, activation="relu",
                                            name=f"joint_hidden_{i}"))
      fan_in = units
    head = {"dtype": "float32"}  # as GaussianEncoder's heads
    self.content_loc = initializers.dense(latent_dim, fan_in, name="c_loc",
                                          **head)
    self.content_log_var = initializers.dense(latent_dim, fan_in,
                                              name="c_log_var", **head)

  def call(self, inputs, present=None):
    """`present` ({m: bool [B]}, optional) goes to each copy's layers with
    batch statistics."""
    parts = []
    for s in self.specs:
      out = self.encoders[s.name](
          inputs[s.name],
          present=None if present is None else present.get(s.name))
      parts += [out["content_loc"], out["content_log_var"]]
    h = tf.concat(parts, axis=-1)
    for layer in self.hidden:
      h = layer(h)
    return {"content_loc": self.content_loc(h),
            "content_log_var": self.content_log_var(h)}

  def posterior_parameters(self, inputs, training=False, present=None):
    """(loc, scale) [B, latent_dim] of q(c | x_1..x_M)."""
    params = self(inputs, training=training, present=present)
    return params["content_loc"], posteriors.scale_from_log_var(
        params["content_log_var"])

  def get_config(self):
    config = super().get_config()
    config.update(modalities=[s.to_dict() for s in self.specs],
                  latent_dim=self.latent_dim, hidden_units=self.hidden_units)
    return config
