"""Training: `run(config)` trains one experiment end to end, resumably.

  task.py         what is trained: the data (loaded and checked before
                  anything is written) and the model, optimizer and guard
  loop.py         the Trainer: epochs of compiled steps, progress,
                  TensorBoard scalars, callbacks (callbacks.py)
  checkpoints.py  restore the newest readable checkpoint; save only finite
                  states
  experiment.py   run(): train, then the test terms, probes, sample grids
                  and summary.json

Everything lands in `config.model_dir`:

  config.json        the resolved ExperimentConfig (written before training)
  flags.txt          a flagfile reproducing the run (from bin/train)
  checkpoints/       tf.train checkpoints every `checkpoint_every_steps`
  tensorboard/       scalars of every loss term, sample images
  samples/           PNG grids: conditional generation from each single
                     modality and each pair, and random samples
  summary.json       test-split loss terms and latent probe accuracies

Rerunning with the same config resumes from the newest checkpoint.
"""

from tf_mmjsd.training.experiment import run
from tf_mmjsd.training.loop import Trainer, make_train_function
from tf_mmjsd.training.task import build

__all__ = ["Trainer", "build", "make_train_function", "run"]
