"""Data sets as dictionaries of modalities, with labels and presence masks.

Each data set registers itself in `registry` (specs, loader, label kind).
"""

import os

from tf_mmjsd.data.split import DataError, DataUnavailableError, Split


def default_cache_dir():
  return os.environ.get("TF_MMJSD_CACHE",
                        os.path.join(os.path.expanduser("~"), ".cache",
                                     "tf_mmjsd"))


def load_splits(config, log=print):
  """(train, test) `Split`s of the configured data set, validated."""
  from tf_mmjsd.data import registry  # pylint: disable=g-import-not-at-top
  try:
    dataset = registry.get(config.dataset)
  except KeyError as e:
    raise DataError(str(e.args[0])) from None
  return dataset.load(config, log=log)
