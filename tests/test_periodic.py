"""Evaluation during training: the subset it evaluates and its budget."""

from tf_mmjsd import callbacks, config as config_lib
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.evaluation import periodic


def _config(**settings):
  return config_lib.ExperimentConfig.of(modalities=mnist_svhn_text_specs(),
                                        **settings)


def test_a_periodic_evaluation_caps_every_part_at_its_examples():
  config = _config(periodic_eval_examples=800,
                               likelihood_examples=2000,
                               quality_examples=5000)
  capped = periodic.periodic_config(config)
  assert (capped.eval_examples, capped.likelihood_examples,
          capped.quality_examples) == (800, 800, 800)
  small = _config(eval_examples=300, periodic_eval_examples=800,
                              likelihood_examples=0)
  capped = periodic.periodic_config(small)
  assert (capped.eval_examples, capped.likelihood_examples) == (300, 800)
  whole = _config(periodic_eval_examples=0)
  assert periodic.periodic_config(whole) is whole


def test_evaluations_during_training_keep_to_their_budget(monkeypatch):
  """Epochs of 20 s, evaluations of 5 s, a budget of 10%: the first runs,
  the next ones wait until 10% of the training time covers one more, and
  the last epoch's is the full evaluation. The classifiers' training
  (100 s, once, before the first) is not an evaluation's cost."""
  clock = [0.0]
  monkeypatch.setattr(periodic.time, "time", lambda: clock[0])
  seen = []

  def fake_evaluate(model, config, *args, **kwargs):
    del model, args, kwargs
    clock[0] += 5.0
    seen.append(config)

  trained = []

  def fake_train(*args, **kwargs):
    del args, kwargs
    clock[0] += 100.0
    trained.append(clock[0])

  monkeypatch.setattr(periodic.evaluate, "evaluate_and_write", fake_evaluate)
  monkeypatch.setattr(periodic.classifiers, "train", fake_train)
  monkeypatch.setattr(periodic.files, "isfile", lambda path: bool(trained))
  monkeypatch.setattr(periodic.files, "makedirs", lambda path: None)
  config = _config(epochs=7, eval_every_epochs=1,
                               eval_budget=0.1, periodic_eval_examples=500,
                               model_dir="/nowhere")
  callback, lines, steps = periodic.PeriodicEvaluation(), [], []
  for epoch in range(7):
    before = len(seen)
    callback.on_epoch_end(callbacks.EpochEnd(
        config=config, epoch=epoch, step=epoch + 1, checkpoint="ckpt",
        seconds=20.0, eval_model=lambda: None, train_split=None,
        test_split=None, writer=None, log=lines.append))
    if len(seen) > before:
      steps.append(epoch + 1)
  # After epoch 1: 5 s of 20 s. Another 5 s fits once 10% of the training
  # time reaches 10 s: epoch 5 (100 s). Epoch 7 is the full evaluation.
  assert steps == [1, 5, 7] and trained == [100.0]
  assert [c.eval_examples for c in seen] == [500, 500, 0]
  assert callback.eval_seconds == 10.0 and callback.train_seconds == 140.0
  skipped = [ln for ln in lines if ln.startswith("Skipping")]
  assert len(skipped) == 4 and "--eval_budget=0.1" in skipped[0]
  assert lines[-1].startswith("Full evaluation at step 7 took 5 s")


def test_no_evaluation_without_eval_every_epochs(monkeypatch):
  monkeypatch.setattr(periodic.evaluate, "evaluate_and_write",
                      lambda *a, **k: (_ for _ in ()).throw(AssertionError))
  callback = periodic.PeriodicEvaluation()
  callback.on_epoch_end(callbacks.EpochEnd(
      config=_config(epochs=1), epoch=0, step=1,
      checkpoint="c", seconds=3.0, eval_model=None, train_split=None,
      test_split=None, writer=None, log=print))
  assert callback.train_seconds == 3.0
