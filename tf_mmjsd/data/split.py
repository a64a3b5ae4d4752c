"""A split of a multimodal data set, kept as pools plus index tuples."""

import dataclasses

import numpy as np

from tf_mmjsd.data import text
from tf_mmjsd.errors import Error


class DataError(Error, ValueError):
  """Data do not match what the experiment expects; the message says how."""


class DataUnavailableError(DataError):
  """A data set cannot be reached (offline, missing files)."""


@dataclasses.dataclass
class Split:
  """One split of N examples, never materialised as N tuples of arrays.

  Attributes:
    pools: {modality: array [N_m, *shape]} raw examples (uint8 images in
      [0, 255] or float32 values), shared by many tuples.
    indices: {modality: int [N]} row of each example in its modality's pool.
    labels: int32 [N] class of each example (for probes and coherence).
    text_modality: name of a modality made from `labels` as digit words
      (data/text.py), or None.
    text_starts: int32 [N] fixed start positions of the words, or None to
      redraw them every epoch.
    masks: {modality: bool [N]} presence of each modality, or None (all
      present).
  """

  pools: dict
  indices: dict
  labels: np.ndarray
  text_modality: str | None = None
  text_starts: np.ndarray | None = None
  masks: dict | None = None

  def __len__(self):
    return len(self.labels)

  def complete(self):
    """bool [N]: True where every modality of the example is present."""
    out = np.ones(len(self.labels), bool)
    for mask in (self.masks or {}).values():
      out &= np.asarray(mask, bool)
    return out

  @property
  def modality_names(self):
    names = list(self.pools)
    if self.text_modality:
      names.append(self.text_modality)
    return names

  def validate(self, specs, split_name):
    """Raises DataError unless the split matches the modality specs."""
    n = len(self.labels)
    expected = {s.name for s in specs}
    have = set(self.modality_names)
    if have != expected:
      raise DataError(
          f"{split_name} split has modalities {sorted(have)} but the "
          f"experiment expects {sorted(expected)}")
    for spec in specs:
      if spec.name == self.text_modality:
        if spec.shape != (text.TEXT_LENGTH, text.ALPHABET_SIZE):
          raise DataError(f"modality {spec.name!r}: digit text has shape "
                          f"{(text.TEXT_LENGTH, text.ALPHABET_SIZE)}, the "
                          f"spec says {spec.shape}")
        continue
      pool = self.pools[spec.name]
      if tuple(pool.shape[1:]) != spec.shape:
        raise DataError(
            f"modality {spec.name!r} of the {split_name} split has examples "
            f"of shape {tuple(pool.shape[1:])}, the spec says {spec.shape}")
      idx = self.indices[spec.name]
      if idx.shape != (n,):
        raise DataError(f"modality {spec.name!r}: {idx.shape[0]} indices "
                        f"for {n} labels in the {split_name} split")
      if n and (idx.min() < 0 or idx.max() >= len(pool)):
        raise DataError(f"modality {spec.name!r}: indices out of range of "
                        f"its pool of {len(pool)} in the {split_name} split")
    if self.masks is not None:
      for name, mask in self.masks.items():
        if name not in expected or np.shape(mask) != (n,):
          raise DataError(f"{split_name} split: mask {name!r} must be a "
                          f"bool [{n}] of a known modality")
      present = np.zeros(n, np.int32)
      for mask in self.masks.values():
        present += np.asarray(mask, bool)
      present += len(expected) - len(self.masks)
      if n and present.min() == 0:
        bad = int(np.argmin(present))
        raise DataError(f"{split_name} split: example {bad} has no modality "
                        "present; every example needs at least one")
