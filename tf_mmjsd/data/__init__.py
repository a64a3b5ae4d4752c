"""Data sets as dictionaries of modalities, with labels and presence masks."""

import os

from tf_mmjsd.data.split import DataError, DataUnavailableError, Split


def default_cache_dir():
  return os.environ.get("TF_MMJSD_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache",
                                     "tf_mmjsd"))


def load_splits(config, log=print):
  """(train, test) `Split`s of the configured data set, validated."""
  from tf_mmjsd.data import mnist_svhn_text  # pylint: disable=g-import-not-at-top
  if config.dataset == "synthetic_mst":
    pools = mnist_svhn_text.load_synthetic(
        config.data_dir or default_cache_dir(), config.synthetic_train_size,
        config.synthetic_test_size, config.seed, log=log)
  elif config.dataset == "mnist_svhn_text":
    if config.mnist_dir:
      pools = mnist_svhn_text.load_raw(config.mnist_dir, config.svhn_dir)
    else:
      pools = mnist_svhn_text.load_tfds(config.data_dir, log=log)
  elif config.dataset == "npz":
    from tf_mmjsd.data import npz  # pylint: disable=g-import-not-at-top
    return npz.load_npz(config.data_path, config.modalities)
  else:
    raise DataError(f"unknown dataset {config.dataset!r}")
  train, test = mnist_svhn_text.splits_from_pools(
      pools, config.data_multiplication, config.seed)
  train.validate(config.modalities, "train")
  test.validate(config.modalities, "test")
  return train, test
