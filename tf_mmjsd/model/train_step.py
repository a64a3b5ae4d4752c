"""The training step of MultimodalVAE: the objective's per-example terms
of a batch, reduced once over the global batch, and the update."""

import tensorflow as tf

from tf_mmjsd import guard as guard_lib, noise as noise_lib


class TrainStep:
  """Mixed into MultimodalVAE: compute_terms, train_step and test_step
  (Keras's Model.fit contract; trackers are Keras metrics)."""

  def compute_terms(self, batch, training=False):
    """Per-example objective terms {name: [B]} of a batch.

    In training the noise is stateless, keyed by (seed, step) and the
    example's row in the global batch (noise.py), and while the state
    `styles_from_prior` is set the decoders get style samples from N(0, I)
    instead of q(s_m | x_m) (the style warm-up of ExperimentConfig); the
    style KLs still pull q(s_m | x_m) towards N(0, I), so the switch to
    the posteriors afterwards is smooth. Outside training the draws are
    stateful and the styles are the posteriors'.
    """
    inputs = batch["inputs"]
    missing = [m for m in self.names if m not in inputs]
    if missing:
      raise ValueError(f"a training batch needs every modality (use masks "
                       f"for absent ones); missing {missing}")
    posteriors = self.encode(inputs, training=training,
                             masks=batch.get("masks"))
    dtype = next(iter(posteriors["content"].values()))[0].dtype
    present = self._present(inputs, batch.get("masks"), dtype)
    if training:
      noise = noise_lib.for_replica(self.seed, self.step,
                                    tf.shape(inputs[self.names[0]])[0])
      from_prior = tf.convert_to_tensor(self.styles_from_prior)
    else:
      noise, from_prior = noise_lib.Noise(), None

    def log_likelihood(content, styles, names):
      if from_prior is not None and styles:
        styles = {m: tf.where(from_prior, noise.normal(s), s)
                  for m, s in styles.items()}
      params = self.decode(content, styles, names, training=training,
                           masks=batch.get("masks"))
      return {m: self.log_prob(m, inputs[m], params[m]) for m in names}

    return self.objective(posteriors, present, log_likelihood, self.settings,
                          noise)

  def _update_trackers(self, terms, ok=None):
    """Adds the terms to the running means; with `ok` (bool scalar) False,
    adds nothing (a skipped step's terms may be NaN)."""
    for name, tracker in self.trackers.items():
      if ok is None:
        tracker.update_state(terms[name])
      else:
        weight = tf.cast(ok, terms[name].dtype)
        tracker.update_state(tf.where(ok, terms[name], 0.0),
                             sample_weight=weight * tf.ones_like(terms[name]))
    return {name: tracker.result() for name, tracker in self.trackers.items()}

  def train_step(self, data):
    """One update on a replica's batch, as Keras's own train_step does it:
    the loss (float32 under any precision policy) is the mean over the
    global batch, scaled by the optimizer's loss scale where it has one.
    With a `guard`, a step whose terms or gradients are not finite applies
    no update (guard.py)."""
    with tf.GradientTape() as tape:
      terms = self.compute_terms(data, training=True)
      loss = tf.nn.compute_average_loss(terms["loss"])
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, self.trainable_variables)

    def apply(grads):
      self.optimizer.apply_gradients(zip(grads, self.trainable_variables))

    ok = None
    if self.guard is None:
      apply(grads)
    else:
      ok = self.guard.check(terms, grads, self.step)
      guard_lib.apply_if(apply, ok, grads)
    self.step.assign_add(1)
    return self._update_trackers(terms, ok)

  def test_step(self, data):
    return self._update_trackers(self.compute_terms(data, training=False))
