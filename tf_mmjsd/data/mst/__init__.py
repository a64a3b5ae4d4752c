"""MNIST-SVHN-Text (docs/reference_settings.md) from TFDS, raw files or the
synthetic stand-in (synthetic.py).

Every source yields the same thing, image pools with their labels per split:
  {"train": {"mnist": (uint8 [N, 28, 28, 1], int [N]),
             "svhn": (uint8 [N', 32, 32, 3], int [N'])},
   "test": {...}}
and `splits_from_pools` turns it into label-matched `Split`s (pairing.py)
with a text modality made from the labels (digit_text.py).
"""

import gzip
import os

import numpy as np

from tf_mmjsd import data as data_lib, errors, files
from tf_mmjsd.data import registry
from tf_mmjsd.data.mst import digit_text, pairing
from tf_mmjsd.data.split import (DataError, DataUnavailableError, Split,
                                 validated)
from tf_mmjsd.options import Option, at_least

TEXT = "text"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
HOW_TO_GET = (
    "Either run once with internet access (TFDS downloads and caches "
    "'mnist' and 'svhn_cropped' under --data_dir), or pass --mnist_dir "
    "(holding " + ", ".join(MNIST_FILES["train"] + MNIST_FILES["test"]) +
    ") and --svhn_dir (holding train_32x32.mat, test_32x32.mat). "
    "Offline, --dataset=synthetic_mst runs without any download.")


def splits_from_pools(pools, multiplication, seed, max_per_class=10000):
  """Label-matched (train, test) splits; the test split's text is fixed.

  Args:
    pools: {split: {modality: (images, labels)}} as in the module docstring.
    multiplication: data multiplication of the pairing (20 in the paper).
    seed: seeds the pairing and the test split's text positions.
  """
  out = []
  for split_id, split in enumerate(("train", "test")):
    rng = np.random.default_rng([seed, split_id, 11])
    images = {k: v[0] for k, v in pools[split].items()}
    labels = {k: np.asarray(v[1]) for k, v in pools[split].items()}
    indices, pair_labels = pairing.pair_by_label(
        labels, multiplication, rng, max_per_class)
    starts = (digit_text.draw_starts(pair_labels, rng) if split == "test"
              else None)
    out.append(Split(pools=images, indices=indices, labels=pair_labels,
                     derived={TEXT: digit_text.DigitText(starts)}))
  return tuple(out)


def load_tfds(data_dir=None, log=print):
  """Image pools from TFDS `mnist` and `svhn_cropped`.

  Fails within seconds, with instructions, when a data set is not prepared
  and the internet cannot be reached (TFDS itself retries for minutes).
  Set TF_MMJSD_OFFLINE=1 to skip the network check and treat it as offline.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = data_dir or None
  builders = {"mnist": tfds.builder("mnist", data_dir=data_dir),
              "svhn": tfds.builder("svhn_cropped", data_dir=data_dir)}
  missing = [b.name for b in builders.values() if not b.is_prepared()]
  if missing and not data_lib.internet_reachable():
    raise DataUnavailableError(
        f"TFDS data set(s) {missing} are not prepared under "
        f"{data_dir or '~/tensorflow_datasets'} and the internet cannot be "
        f"reached. {HOW_TO_GET}")
  pools = {"train": {}, "test": {}}
  for name, builder in builders.items():
    if not builder.is_prepared():
      log(f"Downloading and preparing TFDS {builder.name} ...")
      builder.download_and_prepare()
    for split in ("train", "test"):
      ds = builder.as_dataset(split=split, as_supervised=True).batch(10000)
      parts = list(tfds.as_numpy(ds))
      pools[split][name] = (
          np.concatenate([p[0] for p in parts]).astype(np.uint8),
          np.concatenate([p[1] for p in parts]).astype(np.int64))
  return pools


def _read_idx(path):
  data = gzip.decompress(files.read_bytes(path))
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
    raise DataError(f"{path} is not an IDX file of unsigned bytes")
  ndim = data[3]
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
  arr = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
  if arr.size != int(np.prod(dims)):
    raise DataError(f"{path}: header says {dims}, found {arr.size} bytes")
  return arr.reshape(dims)


def _require(directory, names, flag):
  if not files.isdir(directory):
    raise DataUnavailableError(f"{flag}={directory} is not a directory")
  missing = [n for n in names
             if not files.isfile(os.path.join(directory, n))]
  if missing:
    raise DataUnavailableError(
        f"{flag}={directory} lacks {missing}; expected {list(names)}. "
        f"{HOW_TO_GET}")


def check_raw(mnist_dir, svhn_dir):
  """DataUnavailableError unless both folders hold the raw files."""
  _require(mnist_dir, MNIST_FILES["train"] + MNIST_FILES["test"],
           "--mnist_dir")
  _require(svhn_dir, tuple(SVHN_FILES.values()), "--svhn_dir")


def load_raw(mnist_dir, svhn_dir):
  """Image pools from the standard raw files (no internet needed)."""
  check_raw(mnist_dir, svhn_dir)
  from scipy import io as sio  # pylint: disable=g-import-not-at-top
  pools = {"train": {}, "test": {}}
  for split in ("train", "test"):
    img_file, lbl_file = MNIST_FILES[split]
    images = _read_idx(os.path.join(mnist_dir, img_file))
    labels = _read_idx(os.path.join(mnist_dir, lbl_file))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
      raise DataError(f"{img_file}: expected [N, 28, 28] images, got "
                      f"{images.shape}")
    if len(labels) != len(images):
      raise DataError(f"{lbl_file}: {len(labels)} labels for "
                      f"{len(images)} images")
    pools[split]["mnist"] = (images[..., None], labels.astype(np.int64))
    path = os.path.join(svhn_dir, SVHN_FILES[split])
    try:
      with files.open(path, "rb") as f:
        mat = sio.loadmat(f)
    except Exception as e:  # scipy raises several types for bad files
      raise DataError(f"{path} is not a readable SVHN .mat file: {e}") from e
    if "X" not in mat or "y" not in mat or mat["X"].shape[:3] != (32, 32, 3):
      raise DataError(f"{path}: expected arrays X [32, 32, 3, N] and y [N, 1]")
    images = np.transpose(mat["X"], (3, 0, 1, 2)).astype(np.uint8)
    labels = mat["y"].reshape(-1).astype(np.int64) % 10  # label 10 is digit 0
    pools[split]["svhn"] = (images, labels)
  return pools


def load_synthetic(cache_dir, train_size, test_size, seed, log=print):
  """Image pools of the synthetic stand-in (synthetic.py)."""
  from tf_mmjsd.data.mst import synthetic  # pylint: disable=g-import-not-at-top
  arrays = synthetic.load_or_generate(cache_dir, train_size, test_size, seed,
                                      log=log)
  return {split: {name: (arrays[f"{split}/{name}"],
                         arrays[f"{split}/labels_{name}"])
                  for name in ("mnist", "svhn")}
          for split in ("train", "test")}


def _load_synthetic_splits(config, log=print):
  pools = load_synthetic(config.data_dir or data_lib.default_cache_dir(),
                         config.synthetic_train_size,
                         config.synthetic_test_size, config.seed, log=log)
  return validated(splits_from_pools(pools, config.data_multiplication,
                                     config.seed), config.modalities)


def _load_real_splits(config, log=print):
  if config.mnist_dir:
    pools = load_raw(config.mnist_dir, config.svhn_dir)
  else:
    pools = load_tfds(config.data_dir, log=log)
  return validated(splits_from_pools(pools, config.data_multiplication,
                                     config.seed), config.modalities)


def specs():
  """The three modalities of MNIST-SVHN-Text (docs/reference_settings.md).

  Reconstruction weights rescale each log-likelihood to the size of SVHN
  (3 * 32 * 32 = 3072): 3072 / 784 for the digit image, 3072 / 8 for text
  (which counts its 8 positions). Style weights (1, 1, 5) apply only when
  style_dim > 0.
  """
  from tf_mmjsd.data.specs import ModalitySpec  # pylint: disable=g-import-not-at-top
  return (
      ModalitySpec("mnist", (28, 28, 1), "laplace", "mlp",
                   weight=3072.0 / 784.0, output_activation="sigmoid"),
      ModalitySpec("svhn", (32, 32, 3), "laplace", "conv", weight=1.0),
      ModalitySpec(TEXT, digit_text.SHAPE, "categorical", "sequence",
                   weight=3072.0 / digit_text.TEXT_LENGTH, style_weight=5.0),
  )


# The data sets' own settings (registry.Dataset.options).
DATA_MULTIPLICATION = Option(
    "data_multiplication", 20, "Times each image is paired with a random "
    "partner of the same digit.", check=at_least(1), invalid=(0,))
MNIST_DIR = Option(
    "mnist_dir", "", "Directory with the raw MNIST *-idx?-ubyte.gz files.",
    resumable=True, path=True)
SVHN_DIR = Option(
    "svhn_dir", "", "Directory with train_32x32.mat and test_32x32.mat.",
    resumable=True, path=True)

registry.register(registry.Dataset(
    "synthetic_mst", _load_synthetic_splits, specs, synthetic=True,
    seed_changes_data=True,
    description="offline synthetic stand-in of MNIST-SVHN-Text",
    options=(registry.SYNTHETIC_TRAIN_SIZE, registry.SYNTHETIC_TEST_SIZE,
             DATA_MULTIPLICATION)))
def _check(config):
  if bool(config.mnist_dir) != bool(config.svhn_dir):
    raise errors.ConfigError("give both --mnist_dir and --svhn_dir (raw files), or "
                      "neither (TFDS)")


registry.register(registry.Dataset(
    "mnist_svhn_text", _load_real_splits, specs, check=_check,
    preflight=lambda c, _: check_raw(c.mnist_dir, c.svhn_dir) if c.mnist_dir
    else None,
    description="MNIST-SVHN-Text (TFDS, or raw files with "
                "--mnist_dir/--svhn_dir)",
    options=(MNIST_DIR, SVHN_DIR, DATA_MULTIPLICATION)))
registry.register_derived(digit_text.DigitText.kind, digit_text.DigitText)
