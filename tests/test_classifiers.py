"""Coherence classifiers: training, saving, loading, data checks."""

import json
import os

import numpy as np
import pytest

from tf_mmjsd import data
from tf_mmjsd.evaluation import classifiers


@pytest.fixture(scope="module")
def trained(tiny_config, tmp_path_factory):
  config = tiny_config(synthetic_train_size=1000, synthetic_test_size=300)
  train, test = data.load_splits(config, log=lambda s: None)
  out = str(tmp_path_factory.mktemp("classifiers"))
  lines = []
  meta = classifiers.train(config, train, test, out, epochs=3,
                           log=lines.append)
  return config, train, test, out, meta, lines


@pytest.mark.slow
def test_training_writes_every_classifier_with_its_accuracy(trained):
  config, train, _, out, meta, lines = trained
  assert sorted(os.listdir(out)) == [classifiers.METADATA, "mnist.keras",
                                     "svhn.keras", "text.keras"]
  with open(os.path.join(out, classifiers.METADATA)) as f:
    assert json.load(f) == meta
  assert meta["num_classes"] == 10 and meta["epochs"] == 3
  for m in ("mnist", "svhn", "text"):
    info = meta["modalities"][m]
    assert info["test_examples"] == 300
    assert any(f"{m} classifier test accuracy" in ln for ln in lines)
  # One example per distinct image (no pairing repeats), a tenth of them
  # held out to stop early.
  mnist = meta["modalities"]["mnist"]
  assert mnist["train_examples"] + mnist["validation_examples"] == len(
      np.unique(train.indices["mnist"]))
  assert mnist["validation_examples"] == len(
      np.unique(train.indices["mnist"])) // 10
  # Even on 1000 examples the easy modalities are learnt.
  assert meta["modalities"]["text"]["test_accuracy"] > 0.9
  assert meta["modalities"]["mnist"]["test_accuracy"] > 0.5


@pytest.mark.slow
def test_each_classifier_keeps_its_best_held_out_epoch(trained):
  _, _, _, _, meta, lines = trained
  logged = sum("held-out loss" in ln for ln in lines)
  for m in ("mnist", "svhn", "text"):
    info = meta["modalities"][m]
    losses = info["held_out_losses"]
    assert 1 <= info["epochs_trained"] == len(losses) <= 3
    assert info["best_epoch"] == int(np.argmin(losses)) + 1
    if info["epochs_trained"] < 3:  # stopped: one epoch without a new best
      assert info["best_epoch"] == info["epochs_trained"] - 1
      assert losses[-1] >= losses[-2]
    logged -= len(losses)
  assert logged == 0  # one line per epoch


def test_loaded_classifiers_predict_like_the_saved_ones(trained):
  config, _, test, out, meta, _ = trained
  models, loaded_meta = classifiers.load(config, out)
  assert loaded_meta == meta and set(models) == {"mnist", "svhn", "text"}
  x = test.pools["mnist"][:50].astype(np.float32) / 255
  labels = np.zeros(len(test.pools["mnist"]), int)
  labels[test.indices["mnist"]] = test.labels
  acc = np.mean(np.argmax(models["mnist"](x), -1) == labels[:50])
  assert abs(acc - meta["modalities"]["mnist"]["test_accuracy"]) < 0.25


def test_classifiers_of_other_data_are_refused(trained):
  config, _, _, out, _, _ = trained
  other = config.with_settings(synthetic_train_size=999)
  with pytest.raises(classifiers.ClassifierError, match="other data"):
    classifiers.load(other, out)
  with pytest.raises(classifiers.ClassifierError, match="missing"):
    classifiers.load(config, out + "_nowhere")


def test_classifiers_recorded_without_the_seed_load_for_the_same_data(
    trained):
  """classifiers.json of a data set not yet known to depend on the seed
  lacks it: the same data (fingerprint) still load, other data do not."""
  config, train, test, _, meta, _ = trained
  older = dict(meta, data={k: v for k, v in meta["data"].items()
                           if k != "seed"})
  assert classifiers._same_data(older, config,  # pylint: disable=protected-access
                                data.fingerprint((train, test)))
  assert not classifiers._same_data(older, config, "0" * 16)  # pylint: disable=protected-access


def test_load_or_train_reuses_what_is_there(trained):
  config, train, test, out, meta, _ = trained
  lines = []
  _, got = classifiers.load_or_train(config, train, test, out, 1,
                                     log=lines.append)
  assert got == meta and not lines  # nothing retrained


@pytest.mark.slow
def test_synthetic_classifiers_reach_097(tiny_config, tmp_path):
  config = tiny_config(synthetic_train_size=20000, synthetic_test_size=4000)
  train, test = data.load_splits(config, log=lambda s: None)
  meta = classifiers.train(config, train, test, str(tmp_path), epochs=2,
                           log=print)
  accuracy = {m: v["test_accuracy"] for m, v in meta["modalities"].items()}
  print("synthetic_mst classifier test accuracy:", accuracy)
  assert accuracy["mnist"] >= 0.97 and accuracy["text"] >= 0.97
  assert accuracy["svhn"] >= 0.95
