"""`PeriodicEvaluation`: the evaluation suite during training, as a
training callback (callbacks.TrainingCallback)."""

import os
import time

from tf_mmjsd import callbacks, files
from tf_mmjsd.evaluation import evaluate


class PeriodicEvaluation:
  """Runs the suite every `config.eval_every_epochs` epochs, into
  <model_dir>/evaluations/step_<N>/ and TensorBoard."""

  def on_epoch_end(self, event: callbacks.EpochEnd):
    cfg = event.config
    if not cfg.eval_every_epochs or (event.epoch + 1) % cfg.eval_every_epochs:
      return
    out_dir = os.path.join(cfg.model_dir, "evaluations", f"step_{event.step}")
    files.makedirs(out_dir)
    start = time.time()
    evaluate.evaluate_and_write(event.eval_model(), cfg, event.train_split,
                                event.test_split, out_dir, event.step,
                                event.writer, event.log,
                                checkpoint=event.checkpoint)
    event.log(f"Evaluation at step {event.step} took "
              f"{time.time() - start:.0f} s; see "
              f"{os.path.join(out_dir, 'results.md')}")
