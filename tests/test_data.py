"""Data sources (synthetic, TFDS, raw files), pipelines and their errors."""

import dataclasses
import gzip
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from scipy import io as sio

from tf_mmjsd import data as data_lib
from tf_mmjsd.data import mst, text
from tf_mmjsd.data.mst import digit_text, synthetic
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.data.mst import specs as mnist_svhn_text_specs
from tf_mmjsd.data.split import DataError, DataUnavailableError

SPECS = mnist_svhn_text_specs()


def test_synthetic_pools_are_deterministic_and_shaped():
  one = synthetic.generate(30, 20, seed=5)
  two = synthetic.generate(30, 20, seed=5)
  for key in one:
    np.testing.assert_array_equal(one[key], two[key])
  assert one["train/mnist"].shape == (30, 28, 28, 1)
  assert one["test/svhn"].shape == (20, 32, 32, 3)
  assert one["train/mnist"].dtype == np.uint8
  assert np.bincount(one["train/labels_svhn"]).tolist() == [3] * 10
  other = synthetic.generate(30, 20, seed=6)
  assert not np.array_equal(one["train/svhn"], other["train/svhn"])


def test_svhn_like_digits_are_mostly_light_and_their_average_shows_them():
  rng = np.random.default_rng(0)
  labels = synthetic.balanced_labels(2500, rng)
  grey = synthetic.svhn_like(labels, rng).astype(np.float32).mean(-1)
  flat = grey.reshape(len(labels), -1)
  # A light digit on a darker ground puts its few stroke pixels above the
  # median; distractors and blur blur the count a little.
  light = flat.mean(1) > np.median(flat, 1)
  assert 0.75 < light.mean() < 0.95, light.mean()
  # The average image of a digit over its styles still shows the digit:
  # nearest per-digit mean (1,500 images) labels the other 1,000 well.
  flat = flat - flat.mean(1, keepdims=True)
  means = np.stack([flat[:1500][labels[:1500] == d].mean(0)
                    for d in range(10)])
  means /= np.linalg.norm(means, axis=1, keepdims=True)
  accuracy = np.mean(np.argmax(flat[1500:] @ means.T, 1) == labels[1500:])
  assert accuracy > 0.5, accuracy


def test_synthetic_cache_is_written_once_and_reused(tmp_path):
  logs = []
  first = synthetic.load_or_generate(str(tmp_path), 20, 10, 0, log=logs.append)
  assert len(logs) == 1 and "synthetic" in logs[0]
  second = synthetic.load_or_generate(str(tmp_path), 20, 10, 0,
                                      log=logs.append)
  assert len(logs) == 1  # no rebuild
  np.testing.assert_array_equal(first["test/svhn"], second["test/svhn"])
  assert [p.name for p in tmp_path.iterdir()] == [
      os.path.basename(synthetic.cache_path(str(tmp_path), 20, 10, 0))]


def test_load_splits_and_batches(tiny_config):
  cfg = tiny_config()
  train, test = data_lib.load_splits(cfg, log=lambda *_: None)
  assert len(train) == 400 and len(test) == 200
  batch = next(iter(Pipeline(train, SPECS).train_dataset(32, 3, 0, 0)))
  assert batch["inputs"]["mnist"].shape == (32, 28, 28, 1)
  assert batch["inputs"]["svhn"].shape == (32, 32, 32, 3)
  assert batch["inputs"]["text"].shape == (32, 8, 71)
  x = batch["inputs"]["svhn"].numpy()
  assert 0.0 <= x.min() and x.max() <= 1.0
  # The text spells the label's word.
  for one_hot, label in zip(batch["inputs"]["text"].numpy(),
                            batch["labels"].numpy()):
    assert text.decode(one_hot).strip() == digit_text.DIGIT_WORDS[label]
  assert all(m.numpy().all() for m in batch["masks"].values())


def test_training_order_is_resumable(tiny_config):
  train, _ = data_lib.load_splits(tiny_config(), log=lambda *_: None)
  pipe = Pipeline(train, SPECS)
  full = list(pipe.train_dataset(32, 5, seed=1, epoch=2))
  resumed = list(pipe.train_dataset(32, 5, seed=1, epoch=2, skip_steps=3))
  assert len(resumed) == 2
  for a, b in zip(full[3:], resumed):
    np.testing.assert_array_equal(a["inputs"]["svhn"], b["inputs"]["svhn"])
    np.testing.assert_array_equal(a["inputs"]["text"], b["inputs"]["text"])
  other_epoch = next(iter(pipe.train_dataset(32, 5, seed=1, epoch=3)))
  assert not np.array_equal(full[0]["labels"], other_epoch["labels"])


def test_masks_zero_absent_inputs(tiny_config):
  train, _ = data_lib.load_splits(tiny_config(), log=lambda *_: None)
  train.masks = {"svhn": np.arange(len(train)) % 2 == 0}
  train.validate(SPECS, "train")
  batch = next(iter(Pipeline(train, SPECS).eval_dataset(8)))
  np.testing.assert_array_equal(batch["masks"]["svhn"],
                                [True, False] * 4)
  assert (batch["inputs"]["svhn"].numpy()[1::2] == 0).all()
  assert batch["masks"]["mnist"].numpy().all()


def test_validation_names_the_problem(tiny_config):
  train, _ = data_lib.load_splits(tiny_config(), log=lambda *_: None)
  bad = mnist_svhn_text_specs()
  bad = (bad[0].__class__("mnist", (32, 32, 1), "laplace", "mlp"),) + bad[1:]
  with pytest.raises(DataError, match=r"'mnist'.*\(28, 28, 1\).*\(32, 32, 1\)"):
    train.validate(bad, "train")
  train.masks = {s.name: np.zeros(len(train), bool) for s in SPECS}
  with pytest.raises(DataError, match="no modality present"):
    train.validate(SPECS, "train")


def test_tfds_path_with_mock_data(monkeypatch):
  monkeypatch.setattr(data_lib, "internet_reachable", lambda: True)
  with tfds.testing.mock_data(num_examples=60):
    pools = mst.load_tfds(log=lambda *_: None)
  assert pools["train"]["mnist"][0].shape[1:] == (28, 28, 1)
  assert pools["test"]["svhn"][0].shape[1:] == (32, 32, 3)
  train, test = mst.splits_from_pools(pools, 2, seed=0)
  train.validate(SPECS, "train")
  for split, name in ((train, "train"), (test, "test")):
    for m in ("mnist", "svhn"):
      labels = pools[name][m][1][split.indices[m]]
      np.testing.assert_array_equal(labels, split.labels)


def test_tfds_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
  monkeypatch.setenv("TF_MMJSD_OFFLINE", "1")
  with pytest.raises(DataUnavailableError) as err:
    mst.load_tfds(str(tmp_path))
  assert "--mnist_dir" in str(err.value) and "internet" in str(err.value)


def _write_idx(path, array):
  header = bytes([0, 0, 8, array.ndim]) + b"".join(
      d.to_bytes(4, "big") for d in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def write_raw_files(root, n=40):
  rng = np.random.default_rng(0)
  mnist_dir, svhn_dir = root / "mnist", root / "svhn"
  mnist_dir.mkdir()
  svhn_dir.mkdir()
  for split in ("train", "test"):
    img, lbl = mst.MNIST_FILES[split]
    _write_idx(mnist_dir / img, rng.integers(0, 256, (n, 28, 28)))
    _write_idx(mnist_dir / lbl, np.arange(n) % 10)
    labels = (np.arange(n) % 10)
    labels[labels == 0] = 10  # SVHN writes digit 0 as 10
    sio.savemat(svhn_dir / mst.SVHN_FILES[split],
                {"X": rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8),
                 "y": labels[:, None]})
  return str(mnist_dir), str(svhn_dir)


def test_raw_files_path(tmp_path):
  mnist_dir, svhn_dir = write_raw_files(tmp_path)
  pools = mst.load_raw(mnist_dir, svhn_dir)
  assert pools["train"]["mnist"][0].shape == (40, 28, 28, 1)
  assert pools["test"]["svhn"][0].shape == (40, 32, 32, 3)
  assert pools["train"]["svhn"][1].tolist() == (np.arange(40) % 10).tolist()
  train, test = mst.splits_from_pools(pools, 3, seed=0)
  assert len(train) == 3 * 40 and len(test) == 3 * 40


def test_raw_files_missing_or_bad(tmp_path):
  mnist_dir, svhn_dir = write_raw_files(tmp_path)
  os.remove(os.path.join(svhn_dir, "test_32x32.mat"))
  with pytest.raises(DataUnavailableError, match="test_32x32.mat"):
    mst.load_raw(mnist_dir, svhn_dir)
  with pytest.raises(DataUnavailableError, match="not a directory"):
    mst.load_raw(str(tmp_path / "nowhere"), svhn_dir)
  with open(os.path.join(svhn_dir, "test_32x32.mat"), "wb") as f:
    f.write(b"not a mat file")
  with pytest.raises(DataError, match="test_32x32.mat"):
    mst.load_raw(mnist_dir, svhn_dir)


def test_missing_rate_masks_match_the_rate_never_empty_and_repeat():
  from tf_mmjsd.data.split import Split, drop_probability  # pylint: disable=g-import-not-at-top
  n, names = 30000, ("a", "b", "c")
  split = Split(pools={m: np.zeros((n, 2), np.float32) for m in names},
                indices={m: np.arange(n) for m in names},
                labels=np.zeros(n, np.int32))
  for rate in (0.3, 0.6):
    dropped = split.with_missing(rate, seed=4, names=names)
    keep = np.stack([dropped.masks[m] for m in names], 1)
    assert keep.any(axis=1).all()  # no example loses every modality
    assert 1 - keep.mean() == pytest.approx(rate, abs=0.01)
    again = split.with_missing(rate, seed=4, names=names).masks
    assert all(np.array_equal(again[m], dropped.masks[m]) for m in names)
    other = split.with_missing(rate, seed=5, names=names).masks
    assert not np.array_equal(other["a"], dropped.masks["a"])
  # Masks from the data combine: an absent entry stays absent.
  given = dataclasses.replace(split, masks={"a": np.arange(n) % 2 == 0})
  combined = given.with_missing(0.3, seed=4, names=names).masks
  assert not combined["a"][1::2].any()
  assert split.with_missing(0.0, seed=4, names=names) is split
  assert drop_probability(0.0, 3) == pytest.approx(0.0, abs=1e-12)
  with pytest.raises(ValueError, match="missing rate"):
    drop_probability(0.7, 3)
