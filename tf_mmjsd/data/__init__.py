"""Data sets as dictionaries of modalities, with labels and presence masks.

Each data set registers itself in `registry` (specs, loader, label kind).
"""

import os
import socket

from tf_mmjsd.data.split import (DataError, DataUnavailableError, Split,
                                 fingerprint)


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


def internet_reachable(host="storage.googleapis.com", port=443, timeout=3.0):
  """False when offline (or TF_MMJSD_OFFLINE is set): TFDS downloads would
  retry for minutes, so loaders check first and say what to do."""
  if os.environ.get("TF_MMJSD_OFFLINE"):
    return False
  try:
    with socket.create_connection((host, port), timeout=timeout):
      return True
  except OSError:
    return False
