"""Bring-your-own data: arrays per modality and split, in one .npz file or
in a folder of .npy files (memory-mapped: for data larger than memory).

Keys (file names without .npy in a folder; modality names come from the
experiment's modality specs):

  train_<m>, test_<m>       examples of modality m, [N, *shape]; uint8 values
                            are scaled by 1/255, other dtypes cast to float32;
                            a categorical modality [L, C] may instead hold
                            integer tokens [N, L] in [0, C) (one-hot encoded
                            batch by batch: C times less memory)
  train_labels, test_labels optional int [N] classes 0, 1, ... (for the
                            latent probe); -1 marks an example without a
                            label ({-1, +1} labels are refused: write
                            them as 0 and 1)
  train_mask_<m>, ...       optional bool [N] presence of modality m

Every modality's arrays of a split hold the same N examples in the same
order (row i of every array is example i). An .npz file is read into memory
when loaded; the example arrays of a folder stay on disk (np.load with
mmap_mode="r") and the input pipeline reads the rows of each batch.
"""

import os
import zipfile

import numpy as np

from tf_mmjsd import files
from tf_mmjsd.data import registry
from tf_mmjsd.data.split import DataError, DataUnavailableError, Split

NO_LABEL = -1
HOW_TO_LABEL = ("labels are the classes 0, 1, ..., and -1 marks an example "
                "without a label")


def _check_labels(labels, where):
  """Raises DataError for {-1, +1} labels: a binary convention in which -1
  is a class, which here would mean 'no label' (Split.validate checks the
  range)."""
  values = np.unique(labels)
  if NO_LABEL in values and set(values[values >= 0].tolist()) == {1}:
    raise DataError(
        f"{where} hold only -1 and 1. Here {HOW_TO_LABEL}, so the -1 "
        "examples would silently leave the probe; if they are two classes, "
        "write them as 0 and 1 ((labels + 1) // 2)")


class _Folder:
  """The .npy files of a folder as a mapping like np.load's NpzFile: local
  files memory-mapped, remote ones (scheme://) read into memory."""

  def __init__(self, path):
    self.path = path
    self.files = [f[:-4] for f in files.listdir(path) if f.endswith(".npy")]

  def __getitem__(self, key):
    path = os.path.join(self.path, key + ".npy")
    if files.is_remote(path):
      return files.load_npz(path)
    return np.load(path, mmap_mode="r", allow_pickle=False)  # local

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


def load_npz(path, specs):
  """(train, test) `Split`s from an .npz file or a folder of .npy files
  laid out as described above."""
  if not path:
    raise DataUnavailableError("--dataset=npz needs --data_path=FILE.npz "
                               "(or a folder of .npy files)")
  if files.isdir(path):
    data = _Folder(path)
  elif not files.isfile(path):
    raise DataUnavailableError(f"--data_path={path}: no such file or folder")
  else:
    try:
      data = files.load_npz(path)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
      raise DataError(f"--data_path={path} is not a readable .npz file: "
                      f"{e}") from e
  with data:
    keys = set(data.files)
    names = [s.name for s in specs]
    out = []
    for split in ("train", "test"):
      missing = [f"{split}_{m}" for m in names if f"{split}_{m}" not in keys]
      if missing:
        raise DataError(f"{path} lacks arrays {missing}; it has "
                        f"{sorted(keys)}")
      pools = {m: _array(data, f"{split}_{m}", path, memmap=True)
               for m in names}
      sizes = {m: len(v) for m, v in pools.items()}
      if len(set(sizes.values())) != 1:
        raise DataError(f"{path}: the {split} arrays disagree on the number "
                        f"of examples: {sizes}")
      n = next(iter(sizes.values()))
      labels = np.full(n, NO_LABEL, np.int32)
      if f"{split}_labels" in keys:
        labels = _array(data, f"{split}_labels", path, kinds="iub")
        if labels.shape != (n,):
          raise DataError(f"{path}: {split}_labels has shape {labels.shape}, "
                          f"expected ({n},)")
        labels = labels.astype(np.int32)
        _check_labels(labels, f"{path}: {split}_labels")
      masks = {}
      for m in names:
        if f"{split}_mask_{m}" in keys:
          mask = _array(data, f"{split}_mask_{m}", path, kinds="biu")
          if mask.shape != (n,):
            raise DataError(f"{path}: {split}_mask_{m} has shape "
                            f"{mask.shape}, expected ({n},): one True/False "
                            "per example")
          if mask.dtype.kind != "b" and not np.isin(mask, (0, 1)).all():
            raise DataError(f"{path}: {split}_mask_{m} must hold True/False "
                            "(or 0/1)")
          masks[m] = mask.astype(bool)
      split_data = Split(pools=pools,
                         indices={m: np.arange(n) for m in names},
                         labels=labels, masks=masks or None)
      split_data.validate(specs, split)
      out.append(split_data)
  return tuple(out)


def _array(data, key, path, kinds="biuf", memmap=False):
  """data[key] as an array of at least one dimension whose dtype kind is
  in `kinds` (numpy's: bool, signed, unsigned, float); with `memmap`, a
  memory-mapped .npy stays mapped, otherwise it is read into memory."""
  try:
    value = data[key]
    value = value if memmap and isinstance(value, np.memmap) else np.asarray(
        value)
  except (ValueError, OSError, zipfile.BadZipFile) as e:
    raise DataError(f"{path}: array {key} cannot be read ({e})") from e
  if value.ndim < 1:
    raise DataError(f"{path}: {key} is a scalar; expected one row per "
                    "example")
  if value.dtype.kind not in kinds:
    names = {"b": "bool", "i": "integer", "u": "unsigned", "f": "float"}
    raise DataError(f"{path}: {key} has dtype {value.dtype}; expected "
                    + " or ".join(names[k] for k in kinds) + " values")
  return value


# The splits read by the last preflight, kept for the load that follows it
# in the same program (an .npz is read once per run; cli.execute forgets
# them when the program ends): {"key": ..., "splits": ...}.
_CHECKED = {}


def _stat(path):
  stat = os.stat(path)  # local: remote paths are never kept
  return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _key(config):
  """What identifies the data of a load: the file, or every .npy of a
  folder (inode, size, mtime, ctime: a rewritten file is read again), and
  the modalities."""
  path = config.data_path
  try:
    stats = [_stat(path)]
    if os.path.isdir(path):  # local
      names = sorted(os.listdir(path))  # local
      stats += [(n, _stat(os.path.join(path, n))) for n in names
                if n.endswith(".npy")]
  except OSError:
    return None
  return (os.path.abspath(path), tuple(stats), config.modalities)


def forget():
  """Drops the splits a preflight kept (the end of a program)."""
  _CHECKED.clear()


def preflight(config, pipelines=()):  # pylint: disable=unused-argument
  """Reads and checks a local .npz (or .npy folder) with numpy, before
  TensorFlow loads; the next `load` of the same data takes the result."""
  if files.is_remote(config.data_path or ""):
    return
  splits = load_npz(config.data_path, config.modalities)
  _CHECKED.clear()
  _CHECKED.update(key=_key(config), splits=splits)


def load(config, log=print):
  """(train, test) Splits of config.data_path (see load_npz)."""
  del log
  key = _key(config) if not files.is_remote(config.data_path or "") else None
  if key is not None and _CHECKED.get("key") == key:
    splits = _CHECKED["splits"]
    _CHECKED.clear()
    return splits
  return load_npz(config.data_path, config.modalities)


registry.register(registry.Dataset(
    "npz", load, None, description="your arrays: --data_path and "
    "--modality or --modalities_file", preflight=preflight))
