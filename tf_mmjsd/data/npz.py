"""Bring-your-own data: one .npz file with arrays per modality and split.

Keys (modality names come from the experiment's modality specs):

  train_<m>, test_<m>       examples of modality m, [N, *shape]; uint8 values
                            are scaled by 1/255, other dtypes cast to float32
  train_labels, test_labels optional int [N] classes (for the latent probe)
  train_mask_<m>, ...       optional bool [N] presence of modality m

Every modality's arrays of a split hold the same N examples in the same
order (row i of every array is example i).
"""

import os
import zipfile

import numpy as np

from tf_mmjsd.data.split import DataError, DataUnavailableError, Split

NO_LABEL = -1


def load_npz(path, specs):
  """(train, test) `Split`s from an .npz file laid out as described above."""
  if not path:
    raise DataUnavailableError("--dataset=npz needs --data_path=FILE.npz")
  if not os.path.isfile(path):
    raise DataUnavailableError(f"--data_path={path}: no such file")
  try:
    data = np.load(path, allow_pickle=False)
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
      pools = {m: _array(data, f"{split}_{m}", path) for m in names}
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
      masks = {}
      for m in names:
        if f"{split}_mask_{m}" in keys:
          mask = _array(data, f"{split}_mask_{m}", path, kinds="biu")
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


def _array(data, key, path, kinds="biuf"):
  """data[key] as an array of at least one dimension whose dtype kind is
  in `kinds` (numpy's: bool, signed, unsigned, float)."""
  try:
    value = np.asarray(data[key])
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
