"""A split of a multimodal data set, kept as pools plus index tuples."""

import dataclasses
import hashlib
from typing import Protocol

import numpy as np

from tf_mmjsd import likelihoods
from tf_mmjsd.errors import UsageError

# The largest number of classes a label may name: the classifiers and the
# probe have one output per class.
MAX_CLASSES = 10_000


class DataError(UsageError, ValueError):
  """Data do not match what the experiment expects; the message says how."""


class DataUnavailableError(DataError):
  """A data set cannot be reached (offline, missing files)."""


class DerivedModality(Protocol):
  """A modality made from each example's label in the input pipeline
  instead of being stored (MNIST-SVHN-Text's digit words: data/mst/).

  Attributes:
    kind: its name in registry.register_derived (records store the label
      and parameter of a registered kind, not the tensor).
    shape: the shape of one example.
    fixed: int32 [N] per-example parameters used in every pass (a test
      split's), or None: `draw` them anew for every training epoch.
    classifier_examples: training examples its coherence classifier needs.
  """

  kind: str
  shape: tuple
  fixed: np.ndarray | None
  classifier_examples: int

  def draw(self, labels, rng):
    """int32 [N] parameters of the examples of `labels` [N]."""

  def from_uniform(self, labels, u):
    """int32 [N] parameters from uniforms `u` [N] in [0, 1), one per
    example, as `draw` makes them from rng.random(N) (records draw `u`
    per row)."""

  def make(self, labels, params):
    """float32 [B, *shape] (TensorFlow ops) of labels and parameters [B]."""

  def check(self, spec):
    """Raises DataError unless the ModalitySpec `spec` fits."""


@dataclasses.dataclass
class Split:
  """One split of N examples, never materialised as N tuples of arrays.

  Attributes:
    pools: {modality: array [N_m, *shape]} raw examples (uint8 images in
      [0, 255] or float32 values), shared by many tuples; a categorical
      modality may hold integer tokens [N_m, L] instead of one-hot
      [N_m, L, C] (`is_tokens`); a pool may be an np.memmap (read by batch).
    indices: {modality: int [N]} row of each example in its modality's pool.
    labels: int [N] class of each example, or int8 [N, K] of 0/1 for K
      binary attributes (registry label kinds; -1: unknown), for probes and
      coherence.
    derived: {modality: DerivedModality} made from `labels` rather than
      stored (no pool, no indices), or None.
    masks: {modality: bool [N]} presence of each modality, or None (all
      present).
    stream: where the training batches are streamed from files
      (data.records.Stream), the reader; the split itself is then the
      evaluation sample of them (records.read_sample). None: batches come
      from the pools.
  """

  pools: dict
  indices: dict
  labels: np.ndarray
  masks: dict | None = None
  derived: dict | None = None
  stream: object | None = None

  def __len__(self):
    return len(self.labels)

  def labelled(self):
    """bool [N]: True where the example's label (every attribute) is known."""
    labels = np.asarray(self.labels)
    known = labels >= 0
    return known if labels.ndim == 1 else known.all(axis=1)

  def complete(self):
    """bool [N]: True where every modality of the example is present."""
    out = np.ones(len(self.labels), bool)
    for mask in (self.masks or {}).values():
      out &= np.asarray(mask, bool)
    return out

  def with_missing(self, rate, seed, names):
    """A copy in which each present modality of each example is also
    absent with probability `rate`, drawn once per example from `seed`
    (the same masks in every epoch and after resumption); an example never
    loses every modality: where a draw would leave none, the example's draw
    is repeated. The per-draw probability is raised so that, for complete
    data, the fraction of absent entries is `rate` (drop_probability).

    Args:
      rate: in [0, (M - 1) / M); names: the M modality names, in order.
    """
    if not rate:
      return self
    masks = self.masks or {}
    present = np.stack([np.asarray(masks[m], bool) if m in masks else
                        np.ones(len(self), bool) for m in names], axis=1)
    keep = draw_presence(present, drop_probability(rate, len(names)),
                         np.random.default_rng([seed, 23]))
    return dataclasses.replace(
        self, masks={m: keep[:, i] for i, m in enumerate(names)},
        stream=self.stream and self.stream.with_missing(rate, names))

  @property
  def modality_names(self):
    return list(self.pools) + list(self.derived or {})

  def validate(self, specs, split_name):
    """Raises DataError unless the split matches the modality specs: the
    modalities, shapes, index ranges and masks, and the values of every
    present example (numeric, finite, inside the likelihood's support)."""
    n = len(self.labels)
    if n == 0:
      raise DataError(f"the {split_name} split has no examples")
    check_labels(self.labels, split_name)
    expected = {s.name for s in specs}
    have = set(self.modality_names)
    if have != expected:
      raise DataError(
          f"{split_name} split has modalities {sorted(have)} but the "
          f"experiment expects {sorted(expected)}")
    for name, mask in (self.masks or {}).items():
      if name not in expected or np.shape(mask) != (n,):
        raise DataError(f"{split_name} split: mask {name!r} must be a "
                        f"bool [{n}] of a known modality, got shape "
                        f"{np.shape(mask)}")
    for spec in specs:
      if spec.name in (self.derived or {}):
        self.derived[spec.name].check(spec)
        continue
      pool = self.pools[spec.name]
      if tuple(pool.shape[1:]) != spec.shape and not is_tokens(spec, pool):
        tokens = (f" (or integer tokens {spec.shape[:1]})"
                  if likelihoods.of(spec).one_hot else "")
        raise DataError(
            f"modality {spec.name!r} of the {split_name} split has examples "
            f"of shape {tuple(pool.shape[1:])}, the spec says {spec.shape}"
            + tokens)
      idx = self.indices[spec.name]
      if idx.shape != (n,):
        raise DataError(f"modality {spec.name!r}: {idx.shape[0]} indices "
                        f"for {n} labels in the {split_name} split")
      if n and (idx.min() < 0 or idx.max() >= len(pool)):
        raise DataError(f"modality {spec.name!r}: indices out of range of "
                        f"its pool of {len(pool)} in the {split_name} split")
      present = None
      if self.masks is not None and spec.name in self.masks:
        present = np.asarray(self.masks[spec.name], bool)
      check_values(spec, pool, idx, present, split_name)
    if self.masks is not None:
      present = np.zeros(n, np.int32)
      for mask in self.masks.values():
        present += np.asarray(mask, bool)
      present += len(expected) - len(self.masks)
      if n and present.min() == 0:
        bad = int(np.argmin(present))
        raise DataError(f"{split_name} split: example {bad} has no modality "
                        "present; every example needs at least one")
      never = [m for m, mask in self.masks.items()
               if split_name == "train" and not np.asarray(mask, bool).any()]
      if never:
        raise DataError(
            f"modality {never[0]!r} is absent from every example of the "
            "train split (its mask is False throughout): its networks would "
            "never train. Drop it from the modalities or supply its data")


# `fingerprint` reads every byte of a pool up to this size, and
# FINGERPRINT_ROWS evenly spaced rows of a larger one.
FINGERPRINT_BYTES = 1 << 30
FINGERPRINT_ROWS = 4096


def fingerprint(splits):
  """A short hex digest of the data of `splits` (train, test): every label,
  index and mask, each pool's shape and dtype, and its values (all of them
  up to FINGERPRINT_BYTES, else FINGERPRINT_ROWS evenly spaced rows). It
  names the data, not where they are: the same arrays moved or copied give
  the same fingerprint; other data another (for a pool above the size
  limit, an edit confined to unread rows goes unseen). Streamed records
  (Split.stream) give the fingerprint their manifest records."""
  for split in splits:
    if split.stream is not None:
      return split.stream.fingerprint
  digest = hashlib.sha256()

  def add(name, array):
    array = np.ascontiguousarray(array)
    digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
    digest.update(array.tobytes())

  for i, split in enumerate(splits):
    add(f"{i}/labels", split.labels)
    for m in sorted(split.modality_names):
      if m in (split.derived or {}):
        digest.update(f"{i}/{m}:derived;".encode())
        continue
      pool = split.pools[m]
      digest.update(f"{i}/{m}:{np.dtype(pool.dtype).str}:{pool.shape};"
                    .encode())
      row_bytes = max(pool[:1].nbytes, 1)
      if len(pool) * row_bytes <= FINGERPRINT_BYTES:
        step = max(1, (64 << 20) // row_bytes)  # 64 MiB at a time
        for start in range(0, len(pool), step):
          digest.update(np.ascontiguousarray(pool[start:start + step]))
      else:
        rows = np.unique(np.linspace(0, len(pool) - 1, FINGERPRINT_ROWS
                                     ).astype(np.int64))
        add(f"{i}/{m}/rows", np.asarray(pool[rows]))
      add(f"{i}/{m}/indices", split.indices[m])
      if split.masks is not None and m in split.masks:
        add(f"{i}/{m}/mask", np.asarray(split.masks[m], bool))
  return digest.hexdigest()[:20]


def check_labels(labels, split_name):
  """Raises DataError unless `labels` are classes [N] in [0, MAX_CLASSES)
  or attributes [N, K] of 0/1, with -1 marking an unknown label."""
  labels = np.asarray(labels)
  if labels.ndim == 1 and len(labels):
    low, high = int(labels.min()), int(labels.max())
    if low < -1 or high >= MAX_CLASSES:
      raise DataError(
          f"{split_name} split: labels must be classes 0 to "
          f"{MAX_CLASSES - 1} (-1: no label), got values from {low} to "
          f"{high}; number the classes 0, 1, ...")
  elif labels.ndim == 2 and not np.isin(labels, (-1, 0, 1)).all():
    raise DataError(f"{split_name} split: attribute labels [N, K] must be "
                    "0 or 1 (-1: unknown)")
  elif labels.ndim > 2:
    raise DataError(f"{split_name} split: labels must be classes [N] or "
                    f"attributes [N, K], got shape {labels.shape}")


def validated(splits, specs):
  """The (train, test) splits after `Split.validate` of each."""
  for split, name in zip(splits, ("train", "test")):
    split.validate(specs, name)
  return tuple(splits)


def draw_presence(present, p, rng):
  """bool [N, M]: each True entry of `present` stays with probability
  1 - p; an example whose draw leaves nothing draws again (so it keeps at
  least one of its present modalities)."""
  keep = present & (rng.random(present.shape) >= p)
  empty = ~keep.any(axis=1)
  while empty.any():
    keep[empty] = present[empty] & (
        rng.random((int(empty.sum()), present.shape[1])) >= p)
    empty = ~keep.any(axis=1)
  return keep


def is_tokens(spec, pool):
  """True where `pool` holds a categorical modality [L, C] as integer tokens
  [N, L] (values in [0, C)); the input pipeline one-hot encodes them."""
  return (likelihoods.of(spec).one_hot and pool.ndim == 2
          and tuple(pool.shape[1:]) == spec.shape[:1]
          and np.asarray(pool[:0]).dtype.kind in "iu")


def drop_probability(rate, num_modalities):
  """The per-entry drop probability p whose draws, repeated for examples
  that would lose all M modalities, leave a fraction `rate` of the entries
  absent: rate = (p - p^M) / (1 - p^M), solved by bisection."""
  if not 0.0 <= rate < (num_modalities - 1) / num_modalities:
    raise DataError(f"missing rate {rate} is not in [0, (M - 1) / M) for "
                    f"M = {num_modalities} modalities")
  low, high = 0.0, 1.0
  for _ in range(60):
    p = (low + high) / 2
    if (p - p**num_modalities) / (1.0 - p**num_modalities) < rate:
      low = p
    else:
      high = p
  return (low + high) / 2


def _bad_rows(pool, row_test, scale, chunk_elements=1 << 24):
  """bool [len(pool)]: row_test(rows * scale as float32 [k, ...]) -> bool [k]
  is False, evaluated in chunks so a large (or memory-mapped) pool needs
  little extra memory."""
  per_row = max(1, int(np.prod(pool.shape[1:])))
  step = max(1, chunk_elements // per_row)
  out = np.zeros(len(pool), bool)
  for start in range(0, len(pool), step):
    rows = np.asarray(pool[start:start + step], np.float32) * scale
    out[start:start + step] = ~row_test(rows)
  return out


def _all_but_first(x):
  return tuple(range(1, x.ndim))


def _in_unit_interval(x):
  return ((x >= 0) & (x <= 1)).all(_all_but_first(x))


def check_values(spec, pool, indices, present, split_name):
  """Raises DataError where a present example of modality `spec` is not
  numeric, has NaN or infinite values, or lies outside the support of the
  likelihood: one-hot rows (or integer tokens in [0, C)) for "categorical";
  [0, 1] for "bernoulli" and for a Laplace or normal modality whose mean
  goes through a sigmoid. uint8 pools are read as value / 255, as the input
  pipeline does (so 0/255 binary images suit "bernoulli").

  Args:
    pool: [N_pool, *shape] examples; indices: int [N] rows of the examples;
    present: bool [N] (None: all present); absent examples are not checked
      (their inputs are replaced by zeros).
  """
  where = f"modality {spec.name!r}, {split_name} split"
  dtype = np.asarray(pool[:0]).dtype
  if dtype.kind not in "biuf":
    raise DataError(f"{where}: the values have dtype {dtype}, not numbers; "
                    "store bool, integer or float arrays")
  scale = 1.0 / 255.0 if dtype == np.uint8 else 1.0
  checks = []
  if dtype.kind == "f":
    checks.append((lambda x: np.isfinite(x).all(_all_but_first(x)),
                   "have NaN or infinite values (mark absent entries with a "
                   "mask instead)"))
  if is_tokens(spec, pool):
    scale, classes = 1.0, spec.shape[-1]
    checks.append((lambda x: ((x >= 0) & (x < classes)).all(1),
                   f"hold tokens outside [0, {classes}) (integer tokens "
                   f"index the {classes} classes of each position)"))
  elif likelihoods.of(spec).one_hot:
    hint = ("; uint8 arrays are read as value / 255, so store one-hot data "
            "as bool or float32, or integer tokens [N, L]"
            if dtype == np.uint8 else "")
    checks.append((lambda x: (((x == 0) | (x == 1)).all(_all_but_first(x))
                              & (x.sum(-1) == 1).all(_all_but_first(x)[:-1])),
                   "are not one-hot (each position needs exactly one 1 "
                   f"among {spec.shape[-1]} zeros and ones){hint}"))
  elif likelihoods.of(spec).unit_interval:
    checks.append((_in_unit_interval,
                   "lie outside [0, 1], the support of the bernoulli "
                   "likelihood"))
  elif spec.output_activation == "sigmoid" and dtype != np.uint8:
    checks.append((_in_unit_interval,
                   "lie outside [0, 1], the range of the sigmoid mean of "
                   "this modality's likelihood"))
  for test, problem in checks:
    bad = _bad_rows(pool, test, scale)[indices]
    if present is not None:
      bad &= present
    if bad.any():
      count = int(bad.sum())
      raise DataError(
          f"{where}: {count} example{'s' if count > 1 else ''} "
          f"{problem}; the first is example {int(np.argmax(bad))}")
