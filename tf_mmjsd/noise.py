"""Where the random draws of an objective come from.

A training step draws its noise statelessly for the whole global batch,
eps [B_global, ...] from the key (seed, step, draw number), and each replica
keeps the rows of its own examples (rows offset .. offset + B_replica - 1;
the input pipeline puts replica r's examples at those rows of the global
batch). So a step's draws depend neither on the number of replicas nor on
anything before the step: two replicas compute what one device computes,
and a resumed run draws exactly what an uninterrupted one draws.

Outside training (test terms, likelihood estimates, unseeded generation)
the draws come from TensorFlow's stateful generator (`stateful_normal`).
Seeded inference draws per example (`per_example`): row i depends on its
seed alone, never on the batch it came in or on earlier calls, so a served
request and its seed always give the same output.

Every random draw of the model goes through this module.
"""

import tensorflow as tf


class Noise:
  """The draws of one objective evaluation on one replica's batch.

  Args:
    key: None (stateful draws), or int [2], e.g. (seed, step).
    offset: int scalar, this replica's first row of the global batch.
    global_batch: int scalar, the global batch size (default: the
      replica's batch, i.e. one replica).
  """

  def __init__(self, key=None, offset=0, global_batch=None):
    self.key = None if key is None else tf.cast(key, tf.int64)
    self.offset = offset
    self.global_batch = global_batch
    self._draws = 0

  def normal(self, like):
    """eps ~ N(0, I) of the shape and dtype of `like` [B, ...]."""
    if self.key is None:
      return stateful_normal(tf.shape(like), dtype=like.dtype)
    self._draws += 1  # each draw site gets its own stream, in trace order
    shape = tf.shape(like)
    full = standard_normal(
        tf.concat([[self.global_size(shape[0])], shape[1:]], 0),
        tf.random.experimental.stateless_fold_in(self.key, self._draws,
                                                 alg="philox"))
    return tf.cast(full[self.offset:self.offset + shape[0]], like.dtype)

  def reparameterized_sample(self, loc, scale):
    """One sample loc + scale * eps [B, D]."""
    return loc + scale * self.normal(loc)

  def global_size(self, batch):
    return batch if self.global_batch is None else self.global_batch

  def positions(self, batch):
    """(rows [B] of this replica's examples in the global batch, global
    batch size)."""
    return self.offset + tf.range(batch), self.global_size(batch)


def standard_normal(shape, key):
  """float32 N(0, 1) draws of `shape` from the int [2] key.

  The random bits are Philox's, named explicitly ("auto_select" picks
  another generator under XLA); they become normals here, by the inverse
  CDF of u = (k + 1/2) / 2^23 with k the top 23 bits, because XLA turns
  bits into normals differently from TensorFlow's CPU kernels. So a step
  draws the same noise with and without jit_compile (to float rounding),
  and |eps| < 5.3.
  """
  bits = tf.random.stateless_uniform(shape, key, minval=None, maxval=None,
                                     dtype=tf.uint32, alg="philox")
  top = tf.bitwise.right_shift(bits, tf.constant(9, tf.uint32))
  return tf.math.ndtri((tf.cast(top, tf.float32) + 0.5) * 2.0**-23)


def for_replica(seed, step, batch):
  """The stateless Noise of a training step on the current replica.

  Args:
    seed, step: ints or int scalars.
    batch: int scalar, this replica's batch size.
  """
  context = tf.distribute.get_replica_context()
  replicas = context.num_replicas_in_sync if context else 1
  replica = context.replica_id_in_sync_group if context else 0
  replica = tf.cast(replica, tf.int32)
  return Noise(tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)]),
               offset=replica * batch, global_batch=replicas * batch)


def stateful_normal(shape, dtype=tf.float32):
  """N(0, I) draws of `shape` from TensorFlow's stateful generator (seeded
  by keras.utils.set_random_seed)."""
  return tf.random.normal(shape, dtype=dtype)


def per_example(seeds, normal_size, uniform_size):
  """Stateless noise per example: row i depends on seeds[i] alone.

  Args:
    seeds: int [B].
    normal_size, uniform_size: sizes of the two draws of each example.

  Returns:
    (standard normal [B, normal_size], uniform in [0, 1) [B, uniform_size]).
  """
  def draw(seed):
    return (tf.random.stateless_normal([normal_size], tf.stack([seed, 0])),
            tf.random.stateless_uniform([uniform_size], tf.stack([seed, 1])))

  # tf.map_fn sets a caching device on the global variable scope and
  # resets it only when it returns: an error (or a signal) inside it left
  # every later strategy scope of the process unable to make variables.
  scope = tf.compat.v1.get_variable_scope()
  caching_device = scope.caching_device
  try:
    return tf.map_fn(draw, tf.cast(seeds, tf.int64), fn_output_signature=(
        tf.TensorSpec([normal_size], tf.float32),
        tf.TensorSpec([uniform_size], tf.float32)))
  finally:
    if scope.caching_device is not caching_device:  # only while tracing
      scope.set_caching_device(caching_device)
