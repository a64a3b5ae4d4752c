"""What a run trains: its data and its model, built from an ExperimentConfig.

`load_data` loads and checks the data before anything is written; `build`
creates the model, its optimizer and its non-finite guard inside a
distribution strategy's scope; `evaluation_copy` gives the model to
evaluate outside that scope.
"""

import dataclasses

import keras
import numpy as np

from tf_mmjsd import data as data_lib, guard, methods, run_checkpoints
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.model import MultimodalVAE


@dataclasses.dataclass
class TrainingData:
  """The splits of a run and their input pipelines.

  Attributes:
    train_split, test_split: the data as loaded (data.Split).
    train_pipe: batches of the training split with --missing_rate applied
      (training may drop modalities; probes and evaluation do not).
    probe_pipe, test_pipe: batches of the splits as they are.
    steps_per_epoch: config.steps_per_epoch, or the full batches of the
      training split.
    fingerprint: data.fingerprint of the splits (the run's data.json).
    train_examples: examples of the training split (where it streams, all
      of them, not only the sample held in train_split).
  """

  train_split: data_lib.Split
  test_split: data_lib.Split
  train_pipe: Pipeline
  probe_pipe: Pipeline
  test_pipe: Pipeline
  steps_per_epoch: int
  fingerprint: str
  train_examples: int


def load_data(config, log=print):
  """The run's TrainingData; DataError where the data cannot be used."""
  train_split, test_split = data_lib.load_splits(config, log=log)
  for name, split in (("training", train_split), ("test", test_split)):
    if methods.get(config.method).complete_data and split.masks:
      incomplete = int(np.sum(~split.complete()))
      if incomplete:
        raise data_lib.DataError(
            f"method {config.method} trains on examples with every "
            f"modality; {incomplete} of the {len(split)} {name} examples "
            "lack one (choose another method, or leave them out)")
  train_pipe = Pipeline(train_split.with_missing(
      config.missing_rate, config.seed, config.modality_names),
                        config.modalities)
  examples = (train_split.stream.num_examples if train_split.stream
              else len(train_split))
  steps = config.steps_per_epoch or examples // config.batch_size
  if steps < 1:
    raise data_lib.DataError(
        f"{examples} training examples make no batch of "
        f"{config.batch_size}")
  return TrainingData(train_split, test_split, train_pipe,
                      Pipeline(train_split, config.modalities),
                      Pipeline(test_split, config.modalities), steps,
                      data_lib.fingerprint((train_split, test_split)),
                      examples)


def build(config, strategy):
  """The model, its Adam optimizer and its NonFiniteGuard
  (`config.on_nonfinite`), created in the strategy's scope with the
  networks in `config.mixed_precision` (Keras wraps the optimizer in a
  LossScaleOptimizer for mixed_float16). The initial weights depend on
  `config.seed` alone."""
  keras.utils.set_random_seed(config.seed)
  keras.mixed_precision.set_dtype_policy(config.mixed_precision)
  try:
    with strategy.scope():
      model = MultimodalVAE.from_experiment(config)
      optimizer = keras.optimizers.Adam(
          learning_rate=config.learning_rate, beta_1=config.adam_beta1,
          beta_2=config.adam_beta2, epsilon=config.adam_epsilon)
      model.compile(optimizer=optimizer)
      model.optimizer.build(model.trainable_variables)
      model.guard = guard.NonFiniteGuard(
          config.on_nonfinite, list(model.trackers),
          config.max_consecutive_skips,
          check_gradients=config.mixed_precision != "mixed_float16")
  finally:  # the policy applies to the layers built above only
    keras.mixed_precision.set_dtype_policy("float32")
  return model


def evaluation_copy(model, config, copy=None):
  """A model outside any distribution strategy with `model`'s current
  weights and training state (the strategy's metrics and variables may need
  collectives that other workers no longer join); `copy` is the one made
  by an earlier call, reused."""
  if copy is None:
    keras.mixed_precision.set_dtype_policy(config.mixed_precision)
    try:
      copy = MultimodalVAE.from_experiment(config)
    finally:
      keras.mixed_precision.set_dtype_policy("float32")
  source = run_checkpoints.variables_by_path(model)
  for path, variable in run_checkpoints.variables_by_path(copy).items():
    variable.assign(source[path].value)
  for name in ("step", "epoch", "styles_from_prior"):
    getattr(copy, name).assign(getattr(model, name).value)
  return copy
