"""The training-callback protocol: what a callback of `training.run` gets.

Training calls `on_epoch_end(event)` on the chief after each epoch's
checkpoint; evaluation.periodic.PeriodicEvaluation implements it. A
callback needs nothing from training but this event, so evaluation never
imports training.
"""

import dataclasses
from typing import Any, Callable, Protocol


@dataclasses.dataclass(frozen=True)
class EpochEnd:
  """The state of a run after an epoch and its checkpoint.

  Attributes:
    config: the run's ExperimentConfig.
    epoch: the epoch just finished (0-based).
    step: training steps taken.
    checkpoint: the path of the newest checkpoint (of this step).
    seconds: the epoch's training time (from its start to its checkpoint;
      a resumed epoch's part only).
    eval_model: () -> the model to evaluate on this process (the trained
      one, or its copy outside a distribution strategy).
    train_split, test_split: the data (data.Split), as loaded.
    writer: the run's tf.summary writer.
    log: prints one line.
  """

  config: Any
  epoch: int
  step: int
  checkpoint: str
  seconds: float
  eval_model: Callable[[], Any]
  train_split: Any
  test_split: Any
  writer: Any
  log: Callable[[str], None]


class TrainingCallback(Protocol):
  """Anything with this method can be passed to `training.run`."""

  def on_epoch_end(self, event: EpochEnd) -> None:
    ...
