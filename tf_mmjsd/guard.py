"""`NonFiniteGuard`: no update, and so no checkpoint, from a non-finite step.

Inside the compiled training step (model.train_step) the guard looks at the
step's per-example loss terms {name: [B]} and its gradients. A step is bad
when any of them holds a NaN or an infinity on any replica (the verdict is
all-reduced, so every replica agrees and skips together). A bad step never
updates the weights or the optimizer; what happens next is the mode's:

  stop        the first bad step is recorded and every later step of the
              run is a no-op (the training loop also leaves its
              tf.function at once); the host sees it where it logs or
              checkpoints and stops the run with NonFiniteError.
  skip_batch  the batch is skipped and counted (`skipped`); after
              `max_consecutive` bad steps in a row the run stops as in
              `stop`.

The host reads the guard's variables only where it already waits for the
device (logging, checkpoints), so the check costs no extra sync. Under
mixed_float16 the gradients are not checked: Keras's loss scaling already
skips steps whose scaled gradients overflow, and lowers the scale.
"""

import tensorflow as tf

from tf_mmjsd.errors import Error

MODES = ("stop", "skip_batch")
GRADIENTS = "gradients"  # the name reported for non-finite gradients


class NonFiniteError(Error):
  """Training produced a NaN or an infinity and stopped."""


def _variable(value, dtype=tf.int64):
  return tf.Variable(value, dtype=dtype, trainable=False,
                     synchronization=tf.VariableSynchronization.ON_WRITE,
                     aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


class NonFiniteGuard:
  """Detects non-finite training steps and gates their updates.

  Create it in the strategy's scope. Variables (int64 scalars):
    bad_step: the step (model.step before it) of the newest bad step, -1.
    bad_terms: bit i set where term i of `term_names` (the last bit:
      the gradients) was non-finite in that step.
    skipped: bad steps of the run so far (checkpointed by the trainer).
    in_a_row: bad steps since the last good one.

  Args:
    mode: "stop" or "skip_batch".
    term_names: the names of the loss terms, in a fixed order.
    max_consecutive: skip_batch: bad steps in a row that stop the run.
    check_gradients: also check the gradients (off under loss scaling).
  """

  def __init__(self, mode, term_names, max_consecutive=10,
               check_gradients=True):
    if mode not in MODES:
      raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if max_consecutive < 1:
      raise ValueError(f"max_consecutive must be >= 1, got {max_consecutive}")
    self.mode, self.max_consecutive = mode, max_consecutive
    self.term_names = tuple(term_names)
    self.check_gradients = check_gradients
    self.bad_step = _variable(-1)
    self.bad_terms = _variable(0)
    self.skipped = _variable(0)
    self.in_a_row = _variable(0)

  # --- inside the compiled step (replica context) -------------------------

  def stopped(self):
    """bool scalar: the run must stop (read where the step runs)."""
    if self.mode == "stop":
      return self.bad_step >= 0
    return self.in_a_row >= self.max_consecutive

  def check(self, terms, grads, step):
    """Records this step's verdict; returns bool scalar `apply`: whether
    its update may be applied (the same on every replica).

    Args:
      terms: {name: [B]} per-example loss terms (every name of
        `term_names`).
      grads: the gradients (None entries are ignored).
      step: int64 scalar, model.step of this step.
    """
    flags = [tf.logical_not(tf.reduce_all(tf.math.is_finite(terms[n])))
             for n in self.term_names]
    grads_bad = tf.constant(False)
    if self.check_gradients:
      for g in grads:
        if g is not None:
          grads_bad = tf.logical_or(
              grads_bad, tf.logical_not(tf.reduce_all(tf.math.is_finite(g))))
    flags.append(grads_bad)
    bad = tf.cast(tf.stack(flags), tf.float32)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
      bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
    bad = bad > 0
    any_bad = tf.reduce_any(bad)
    was_stopped = self.stopped()
    bits = tf.reduce_sum(tf.cast(bad, tf.int64) * tf.bitwise.left_shift(
        tf.constant(1, tf.int64), tf.range(len(flags), dtype=tf.int64)))
    record = tf.logical_and(any_bad, tf.logical_not(was_stopped))
    self.bad_step.assign(tf.where(record, step, self.bad_step))
    self.bad_terms.assign(tf.where(record, bits, self.bad_terms))
    self.skipped.assign_add(tf.cast(record, tf.int64))
    self.in_a_row.assign(tf.where(
        was_stopped, self.in_a_row,
        tf.where(any_bad, self.in_a_row + 1, tf.zeros_like(self.in_a_row))))
    return tf.logical_not(tf.logical_or(any_bad, was_stopped))

  # --- on the host ----------------------------------------------------------

  def names_of(self, bits):
    """The term names (and GRADIENTS) of a `bad_terms` bit mask."""
    names = self.term_names + (GRADIENTS,)
    return [n for i, n in enumerate(names) if int(bits) >> i & 1]

  def failure(self):
    """None while training may go on; else (step, names) of the bad step
    that stops it."""
    if not bool(self.stopped().numpy()):
      return None
    return int(self.bad_step.numpy()), self.names_of(self.bad_terms.numpy())


def apply_if(apply, ok, grads):
  """Runs `apply(grads)` (which applies the gradients) only where `ok`
  (bool scalar, the same on every replica), from a replica context.

  An optimizer update synchronises replicas (merge_call) under strategies
  that need it, and TensorFlow allows no cond around a merge_call in a
  replica context; there the cond runs in the cross-replica context and
  each replica applies its own `grads`, as Keras's LossScaleOptimizer does.
  """
  def skipped():
    return tf.constant(False)

  if tf.__internal__.distribute.strategy_supports_no_merge_call():
    def applied():
      apply(grads)
      return tf.constant(True)

    tf.cond(ok, applied, skipped)
    return

  def cross_replica(distribution, ok, grads):
    def applied_everywhere():
      distribution.extended.call_for_each_replica(apply, args=(grads,))
      return tf.constant(True)

    tf.cond(distribution.experimental_local_results(ok)[0],
            applied_everywhere, skipped)

  tf.distribute.get_replica_context().merge_call(cross_replica,
                                                 args=(ok, grads))
