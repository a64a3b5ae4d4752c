"""Per-example noise: an error inside its tf.map_fn leaves no state."""

import keras
import tensorflow as tf

from tf_mmjsd import noise


def test_an_error_while_tracing_per_example_noise_leaves_the_scope_clean(
    monkeypatch):
  """tf.map_fn sets a caching device on the shared variable scope and
  resets it only on return: a signal or an error raised while it traced
  left every later strategy scope of the process unable to make variables
  ("Caching devices is not yet supported when eager execution is
  enabled"), failing the tests after it in that process."""

  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt("a signal while tracing")

  @tf.function
  def draw(seeds):
    return noise.per_example(seeds, 3, 2)

  monkeypatch.setattr(tf.random, "stateless_uniform", interrupted)
  try:
    draw(tf.constant([1, 2]))
    raise AssertionError("the draw did not raise")
  except KeyboardInterrupt:
    pass
  monkeypatch.undo()
  assert tf.compat.v1.get_variable_scope().caching_device is None
  with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
  assert layer.kernel.shape == (3, 2)
  normal, uniform = noise.per_example(tf.constant([1, 2]), 3, 2)
  assert normal.shape == (2, 3) and uniform.shape == (2, 2)
