"""Sharded TFRecord data: a folder of `tf.train.Example` shards and a JSON
manifest, written by `bin/make_records` from any data set tf_mmjsd reads,
and read back by `--dataset=records --data_path=FOLDER` (local or gs://).

Layout of FOLDER:

  manifest.json                  what the shards hold (below)
  train-00000-of-00008.tfrecord  shards of a split: the split's rows in a
  ...                            permutation drawn from the writer's seed,
                                 dealt in turn (position k of the
                                 permutation to shard k mod S)
  test-00000-of-00002.tfrecord

So every shard is a uniformly random subset of its split in a uniformly
random order, whatever order the source had (data sorted by class, by
subject or by time included): any run of consecutive records of a shard,
or of several shards read in turn, is a simple random sample of the
split. That is what makes per-worker streaming give batches with the class
mix of a global shuffle (`Stream`), and the first records of every shard a
fair evaluation sample (`read_sample`).

One record per example, with the features
  "x/<m>"      bytes: stored modality m's example, its raw bytes in the
               stored dtype and shape of the manifest (uint8 images stay
               uint8, integer tokens stay integers, other values float32)
  "param/<m>"  int64: the parameter of derived modality m (made from the
               label in the input pipeline, as MNIST-SVHN-Text's words):
               used where the split's parameters are fixed (a test split),
               redrawn every epoch otherwise
  "mask/<m>"   int64 1/0: m is present (only for modalities with masks)
  "labels"     int64 [K]: the class ([1]) or the K attributes (-1: unknown)
  "index"      int64: the example's row in its split

manifest.json: {"format", "version", "order" ("permuted": version 2;
"split": version 1, the split's own order), "seed", "modalities":
[ModalitySpec dicts], "stored": {m: {"dtype", "shape"}}, "derived": {m:
{"kind", "fixed": {split: bool}}}, "masks": [m, ...], "label_kind",
"label_shape", "label_dtype", "attribute_names", "synthetic", "source",
"fingerprint" (data.fingerprint of the splits the shards hold), "splits":
{split: {"examples": N, "shards": [{"file", "examples", "bytes",
"sha256"}, ...]}}} ("bytes" and "sha256" are checked by `preflight`
before training; manifests of earlier releases lack them).

Two ways to read them:
  in memory   (`load`, the default in one process): every shard of both
              splits into a `Split` in the split's own order, checked like
              any other data set and against the manifest (counts, order,
              fingerprint); batches are then exactly those of the same
              arrays given as .npz.
  streaming   (`load` with --stream_records, or under
              --distribution=multi_worker): the training batches are read
              from the train shards as training goes (`Stream`), with
              memory that does not grow with the number of examples; the
              test split and an evaluation sample of the training split
              (`read_sample`) are held in memory.
A test split of more than `IN_MEMORY_BYTES` of shards (MNIST-SVHN-Text's
200,000 triples are about 0.8 GB) is read into memory-mapped files in the
system's temporary folder ($TMPDIR) instead (`read_split`'s `spill`), which the
evaluation reads batch by batch: its memory does not grow with the split.
"""

import dataclasses
import hashlib
import json
import math
import os

import numpy as np

from tf_mmjsd import files
from tf_mmjsd.data import registry, specs as specs_lib
from tf_mmjsd.data.split import DataError, DataUnavailableError, Split

FORMAT = "tf_mmjsd.records"
VERSION = 2
# Version 1 (tf_mmjsd 0.3.1) dealt a split's rows to the shards in the
# split's own order; it is read in memory, never streamed.
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
SPLITS = ("train", "test")
# Examples materialised and written at a time by `write`.
_CHUNK = 4096
# Training examples held in memory when the training split streams: the
# latent probe's and the coherence classifiers' training data.
EVAL_SAMPLE = 50_000
# Test shards larger than this, in all, are read to memory-mapped files.
IN_MEMORY_BYTES = 256 << 20
# Examples each input pipeline of a `Stream` shuffles at a time.
SHUFFLE_BUFFER = 10_000


def shard_count(examples, shards):
  """The shards `write` makes of a split: as asked, at most one per
  example."""
  return max(1, min(int(shards), examples))


def shard_name(split, index, count):
  return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def streams(config):
  """True where `config` reads records as a stream (--stream_records, or
  every worker of --distribution=multi_worker)."""
  return bool(config.stream_records) or config.distribution == "multi_worker"


# ---------------------------------------------------------------- writing


def write_order(num_examples, seed, split):
  """int [N]: the order in which `write` deals the rows of `split`
  ("train"/"test") to its shards, a permutation drawn from `seed`."""
  rng = np.random.default_rng([seed, 53, SPLITS.index(split)])
  return rng.permutation(num_examples)


def _gather(pool, rows):
  """pool[rows] read in ascending row order (a memory-mapped pool is then
  read forwards), returned in the order of `rows`."""
  rows = np.asarray(rows)
  if len(rows) < 2 or (np.diff(rows) > 0).all():
    return np.asarray(pool[rows])
  ascending = np.argsort(rows, kind="stable")
  out = np.asarray(pool[rows[ascending]])
  result = np.empty_like(out)
  result[ascending] = out
  return result


def _stored_rows(split, spec, rows, params):
  """The stored examples `rows` of modality `spec`: [len(rows), *shape] in
  the stored dtype (a derived modality without a registered kind is
  materialised from `params`: integer tokens for a one-hot one, float32
  otherwise)."""
  derived = (split.derived or {}).get(spec.name)
  if derived is None:
    return _gather(split.pools[spec.name], split.indices[spec.name][rows])
  x = np.asarray(derived.make(np.asarray(split.labels)[rows].astype(np.int32),
                              params[rows].astype(np.int32)))
  from tf_mmjsd import likelihoods  # pylint: disable=g-import-not-at-top
  if likelihoods.of(spec).one_hot:
    dtype = np.uint8 if spec.shape[-1] <= 256 else np.int32
    return np.argmax(x, axis=-1).astype(dtype)
  return x.astype(np.float32)


class _StoredPool:
  """Modality `spec` of a split as the shards store it, made row by row
  on demand: what `data.fingerprint` reads, without holding the split.
  Supports len, .shape, .dtype and indexing by a slice or rows."""

  def __init__(self, split, spec, params):
    self._split, self._spec, self._params = split, spec, params
    first = _stored_rows(split, spec, np.arange(min(1, len(split))), params)
    self.dtype = first.dtype
    self.shape = (len(split),) + first.shape[1:]

  def __len__(self):
    return self.shape[0]

  def __getitem__(self, key):
    if isinstance(key, slice):
      rows = np.arange(*key.indices(len(self)))
    else:
      rows = np.asarray(key)
    if self._params is None or len(rows) <= _CHUNK:
      return _stored_rows(self._split, self._spec, rows, self._params)
    # A materialised derived modality is made one-hot first: _CHUNK rows
    # at a time.
    return np.concatenate([
        _stored_rows(self._split, self._spec, rows[i:i + _CHUNK],
                     self._params) for i in range(0, len(rows), _CHUNK)])


def _derived_params(split, seed):
  """{m: int [N]}: the fixed parameters of each derived modality, or one
  draw of them from `seed`."""
  rng = np.random.default_rng([seed, 31])
  return {m: (d.fixed if d.fixed is not None else d.draw(split.labels, rng))
          for m, d in (split.derived or {}).items()}


def _derived_kinds(splits):
  """{m: kind} of the modalities derived in every split by one registered
  kind, which the reader can remake from label and parameter; other
  derived modalities are stored materialised."""
  out = {}
  common = set.intersection(*(set(s.derived or {}) for s in splits))
  for m in sorted(common):
    kinds = {getattr(s.derived[m], "kind", None) for s in splits}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind and registry.derived_kind(kind) is not None:
      out[m] = kind
  return out


def _example(arrays, params, masks, label, index):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  feature = {"labels": tf.train.Feature(int64_list=tf.train.Int64List(
      value=np.ravel(label).tolist())),
             "index": tf.train.Feature(int64_list=tf.train.Int64List(
                 value=[int(index)]))}
  for m, x in arrays.items():
    feature[f"x/{m}"] = tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[np.ascontiguousarray(x).tobytes()]))
  for m, value in params.items():
    feature[f"param/{m}"] = tf.train.Feature(int64_list=tf.train.Int64List(
        value=[int(value)]))
  for m, present in masks.items():
    feature[f"mask/{m}"] = tf.train.Feature(int64_list=tf.train.Int64List(
        value=[int(present)]))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def _write_shards(split, split_name, pools, params, masks, order, out_dir,
                  num_shards, log):
  """Writes the rows of `split` in `order`, position k to shard k mod S,
  each shard under a temporary name (`shard_name` + ".partial": `write`
  renames them when every split is complete); returns the manifest's shard
  entries."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  n = len(split)
  names = [shard_name(split_name, i, num_shards) for i in range(num_shards)]
  partial = [files.join(out_dir, name + ".partial") for name in names]
  labels = np.asarray(split.labels)
  writers = []
  report, every = 0, max(_CHUNK, n // 10)
  try:
    writers = [tf.io.TFRecordWriter(p) for p in partial]
    for start in range(0, n, _CHUNK):
      rows = order[start:start + _CHUNK]
      arrays = {m: pool[rows] for m, pool in pools.items()}
      chunk_params = {m: p[rows] for m, p in params.items()}
      chunk_masks = {m: v[rows] for m, v in masks.items()}
      for j, row in enumerate(rows):
        writers[(start + j) % num_shards].write(_example(
            {m: x[j] for m, x in arrays.items()},
            {m: p[j] for m, p in chunk_params.items()},
            {m: v[j] for m, v in chunk_masks.items()}, labels[row],
            row).SerializeToString())
      done = min(start + _CHUNK, n)
      if done >= report + every and done < n:
        report = done
        log(f"  {split_name}: {done:,} of {n:,} examples written")
  finally:
    for writer in writers:
      writer.close()
  entries = []
  for i, (name, path) in enumerate(zip(names, partial)):
    scanned = scan_shard(path)
    entries.append({"file": name, "examples": scanned.pop("records"),
                    **scanned})
  return entries


# A TFRecord is a uint64 length, a uint32 CRC of it, the data and a uint32
# CRC of the data.
_HEADER, _FOOTER = 12, 4


def _not_whole(path):
  return DataError(f"{path} is not a whole TFRecord file (it ends inside a "
                   "record); write the records again with bin/make_records")


def scan_shard(path):
  """{"records", "bytes", "sha256"} of the shard file `path`, read once
  (without TensorFlow for a local file): what the manifest records, so a
  reader can tell its shards from other files."""
  digest, size, records = hashlib.sha256(), 0, 0
  with files.open(path, "rb") as f:
    while header := f.read(_HEADER):
      if len(header) < _HEADER:
        raise _not_whole(path)
      digest.update(header)
      left = int.from_bytes(header[:8], "little") + _FOOTER
      size += _HEADER + left
      while left:
        chunk = f.read(min(left, 1 << 22))
        if not chunk:
          raise _not_whole(path)
        digest.update(chunk)
        left -= len(chunk)
      records += 1
  return {"records": records, "bytes": size, "sha256": digest.hexdigest()}


def count_records(path):
  """The number of records in the TFRecord file `path`, from their length
  headers alone (seeks, not reads); DataError where the file ends inside a
  record."""
  count, size, at = 0, files.size(path), 0
  with files.open(path, "rb") as f:
    while at < size:
      header = f.read(_HEADER)
      if len(header) < _HEADER:
        raise _not_whole(path)
      at += _HEADER + int.from_bytes(header[:8], "little") + _FOOTER
      f.seek(at)
      count += 1
  if at != size:
    raise _not_whole(path)
  return count


def write(splits, specs, out_dir, num_shards, dataset=None, seed=0,
          source="", log=print, shuffle=True):
  """Writes the (train, test) `Split`s as shards of `out_dir`; returns the
  manifest.

  Memory: examples are made and written `_CHUNK` at a time and the
  fingerprint is computed from the stored rows as they are made again,
  so beyond the source itself (a memory-mapped one stays on disk) only a
  few integers per example are held.

  Args:
    splits: (train, test) validated Splits of the modalities `specs`.
    num_shards: (train shards, test shards); a split with fewer examples
      gets one shard per example.
    dataset: the registry.Dataset they came from (label kind, attribute
      names, synthetic), or None (class labels, not synthetic).
    seed: draws each split's `write_order` (and the one draw of a derived
      modality's parameters for the training split's records).
    source: one line saying where the data came from.
    shuffle: False writes the rows in the split's own order (version 1's
      layout, kept for tests that show why it is not the default).
  """
  specs = tuple(specs)
  if files.exists(files.join(out_dir, MANIFEST)):
    raise DataError(f"{out_dir} already holds records ({MANIFEST}); choose "
                    "another folder or delete it")
  files.makedirs(out_dir)
  try:
    manifest = _write_splits(splits, specs, out_dir, num_shards, dataset,
                             seed, source, log, shuffle)
  except BaseException:  # a failure or a signal: no shard is left behind
    if files.exists(files.join(out_dir, MANIFEST)):  # none was there before
      files.remove(files.join(out_dir, MANIFEST))
    for split, name, shards in zip(splits, SPLITS, num_shards):
      count = shard_count(len(split), shards)
      for i in range(count):
        path = files.join(out_dir, shard_name(name, i, count))
        for leftover in (path, path + ".partial"):
          if files.exists(leftover):
            files.remove(leftover)
    raise
  return manifest


def _write_splits(splits, specs, out_dir, num_shards, dataset, seed, source,
                  log, shuffle):
  """`write` without the clean-up of a failure."""
  from tf_mmjsd.data.split import fingerprint  # pylint: disable=g-import-not-at-top
  masked = sorted({m for sp in splits for m in (sp.masks or {})})
  kinds = _derived_kinds(splits)
  stored, held, manifest_splits = {}, [], {}
  fixed = {m: {} for m in kinds}
  for split, split_name, shards in zip(splits, SPLITS, num_shards):
    n = len(split)
    params = _derived_params(split, seed)
    shards = shard_count(n, shards)
    pools = {s.name: _StoredPool(split, s, params.get(s.name))
             for s in specs if s.name not in kinds}
    for m, pool in pools.items():
      entry = {"dtype": pool.dtype.name, "shape": list(pool.shape[1:])}
      if stored.setdefault(m, entry) != entry:
        raise DataError(
            f"modality {m!r} is stored as {stored[m]} in the train split "
            f"and as {entry} in the {split_name} split; give both splits "
            "the same dtype and shape")
    for m in kinds:
      fixed[m][split_name] = split.derived[m].fixed is not None
    masks = _full_masks(split, masked) or {}
    order = write_order(n, seed, split_name) if shuffle else np.arange(n)
    entries = _write_shards(split, split_name, pools,
                            {m: params[m] for m in kinds}, masks, order,
                            out_dir, shards, log)
    manifest_splits[split_name] = {"examples": n, "shards": entries}
    held.append(Split(pools=pools, indices={m: np.arange(n) for m in pools},
                      labels=np.asarray(split.labels), masks=masks or None,
                      derived={m: split.derived[m] for m in kinds} or None))
    log(f"wrote {shards} {split_name} shard(s) of {n} examples")
  label_shape = list(np.shape(splits[0].labels)[1:])
  manifest = {
      "format": FORMAT, "version": VERSION,
      "order": "permuted" if shuffle else "split", "seed": int(seed),
      "modalities": [s.to_dict() for s in specs],
      "stored": stored,
      "derived": {m: {"kind": k, "fixed": fixed[m]} for m, k in kinds.items()},
      "masks": masked,
      "label_kind": dataset.label_kind if dataset else "class",
      "label_shape": label_shape,
      "label_dtype": np.asarray(splits[0].labels).dtype.name,
      "attribute_names": list(dataset.attribute_names) if dataset else [],
      "synthetic": bool(dataset.synthetic) if dataset else False,
      "source": source, "fingerprint": fingerprint(held),
      "splits": manifest_splits}
  # Complete shards get their names, then the manifest: a folder without
  # one is not (yet) records.
  for entry in manifest_splits.values():
    for shard in entry["shards"]:
      path = files.join(out_dir, shard["file"])
      files.rename(path + ".partial", path, overwrite=True)
  files.write_atomic(files.join(out_dir, MANIFEST),
                     json.dumps(manifest, indent=1).encode())
  return manifest


def _full_masks(split, masked):
  if not masked:
    return None
  n = len(split)
  return {m: (np.asarray(split.masks[m], bool) if split.masks and
              m in split.masks else np.ones(n, bool)) for m in masked}


# ---------------------------------------------------------------- reading


@dataclasses.dataclass(frozen=True)
class Manifest:
  """A records folder's manifest.json, checked.

  Attributes:
    folder: the folder holding it and the shards.
    values: the manifest as read (layout in the module docstring).
    specs: the modalities (ModalitySpec), in order.
  """

  folder: str
  values: dict
  specs: tuple

  @property
  def path(self):
    return files.join(self.folder, MANIFEST)

  @property
  def fingerprint(self):
    return self.values["fingerprint"]

  @property
  def order(self):
    """"permuted" (each shard a random sample, version 2) or "split"."""
    return self.values.get("order", "split")

  @property
  def derived(self):
    """{m: {"kind", "fixed": {split: bool}}} of the derived modalities."""
    return self.values.get("derived", {})

  @property
  def stored_specs(self):
    return tuple(s for s in self.specs if s.name not in self.derived)

  def derived_modality(self, name, split, params=None):
    """The split.DerivedModality of derived modality `name` in `split`:
    with `params` (int [N]) where that split's parameters are fixed."""
    entry = self.derived[name]
    fixed = entry["fixed"].get(split, False)
    return registry.derived_kind(entry["kind"])(params if fixed else None)

  def examples(self, split):
    return int(self.values["splits"][split]["examples"])

  def shards(self, split):
    """[(path, examples)] of the split's shards, in order."""
    return [(files.join(self.folder, s["file"]), int(s["examples"]))
            for s in self.values["splits"][split]["shards"]]


def read_manifest(data_path):
  """The Manifest of `data_path` (a records folder or its manifest.json);
  DataError naming the file where it is missing or not a manifest."""
  if not data_path:
    raise DataUnavailableError("--dataset=records needs --data_path=FOLDER "
                               "(written by bin/make_records)")
  folder = (os.path.dirname(data_path) if data_path.endswith(MANIFEST)
            else data_path)
  path = files.join(folder, MANIFEST)
  if not files.isfile(path):
    raise DataUnavailableError(
        f"--data_path={data_path}: no {MANIFEST} there; write records with "
        "bin/make_records")
  try:
    values = json.loads(files.read_text(path))
  except (ValueError, UnicodeDecodeError) as e:
    raise DataError(f"{path} is damaged (not JSON: {e}); write the records "
                    "again with bin/make_records") from None
  try:
    if not isinstance(values, dict) or values.get("format") != FORMAT:
      found = values.get("format") if isinstance(values, dict) else None
      raise ValueError(f"format is {found!r}, not {FORMAT!r}")
    if values.get("version") not in READABLE_VERSIONS:
      raise ValueError(f"version {values.get('version')!r}; this tf_mmjsd "
                       f"reads versions {READABLE_VERSIONS}")
    specs = tuple(specs_lib.ModalitySpec.from_dict(dict(m))
                  for m in values["modalities"])
    derived = values.get("derived", {})
    for spec in specs:
      if spec.name in derived:
        kind = derived[spec.name]["kind"]
        if registry.derived_kind(kind) is None:
          raise ValueError(f"modality {spec.name!r} is derived by "
                           f"{kind!r}, which this tf_mmjsd does not know")
        dict(derived[spec.name]["fixed"])
        continue
      stored = values["stored"][spec.name]
      np.dtype(stored["dtype"])
      tuple(int(d) for d in stored["shape"])
    for split in SPLITS:
      entry = values["splits"][split]
      if sum(int(s["examples"]) for s in entry["shards"]) != int(
          entry["examples"]):
        raise ValueError(f"the {split} shards' counts do not add up to "
                         f"{entry['examples']}")
      for shard in entry["shards"]:
        if "/" in shard["file"] or "\\" in shard["file"]:
          raise ValueError(f"shard name {shard['file']!r} is not a file name")
    str(values["fingerprint"])
    if np.dtype(values["label_dtype"]).kind not in "iu":
      raise ValueError(f"label_dtype {values['label_dtype']!r} is not an "
                       "integer type")
  except (KeyError, TypeError, ValueError, AttributeError) as e:
    what = f"lacks {e}" if isinstance(e, KeyError) else str(e)
    raise DataError(f"{path} is not a tf_mmjsd records manifest ({what})"
                    ) from None
  return Manifest(folder, values, specs)


def _parser(manifest):
  """fn(serialized string [B]) -> (arrays {m: [B, *stored shape]} of the
  stored modalities, params {m: int32 [B]} of the derived ones, masks
  {m: bool [B]}, labels int32 [B] or [B, K], index int64 [B])."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  values = manifest.values
  label_shape = [int(d) for d in values["label_shape"]] or [1]
  features = {"labels": tf.io.FixedLenFeature(label_shape, tf.int64),
              "index": tf.io.FixedLenFeature([], tf.int64)}
  for spec in manifest.stored_specs:
    features[f"x/{spec.name}"] = tf.io.FixedLenFeature([], tf.string)
  for m in manifest.derived:
    features[f"param/{m}"] = tf.io.FixedLenFeature([], tf.int64)
  for m in values["masks"]:
    features[f"mask/{m}"] = tf.io.FixedLenFeature([], tf.int64)

  def parse(serialized):
    parsed = tf.io.parse_example(serialized, features)
    arrays = {}
    for spec in manifest.stored_specs:
      stored = values["stored"][spec.name]
      x = tf.io.decode_raw(parsed[f"x/{spec.name}"],
                           tf.as_dtype(stored["dtype"]),
                           fixed_length=int(np.prod(stored["shape"]))
                           * np.dtype(stored["dtype"]).itemsize)
      arrays[spec.name] = tf.reshape(x, [-1] + list(stored["shape"]))
    params = {m: tf.cast(parsed[f"param/{m}"], tf.int32)
              for m in manifest.derived}
    masks = {m: parsed[f"mask/{m}"] > 0 for m in values["masks"]}
    labels = tf.cast(parsed["labels"], tf.int32)
    if not values["label_shape"]:
      labels = labels[:, 0]
    return arrays, params, masks, labels, parsed["index"]

  return parse


def _damaged(path, error):
  return DataError(f"{path} is damaged or not a shard of these records "
                   f"({type(error).__name__}: "
                   f"{str(getattr(error, 'message', error)).splitlines()[0]})"
                   "; write the records again with bin/make_records")


def _spilled_pools(manifest, split):
  """{m: np.memmap [N, *stored shape]} of the stored modalities, in new
  files of the temporary folder ($TMPDIR: a disk, for the memory to stay
  free; a tmpfs holds them in memory) that are unlinked at once (the
  mapping keeps their space until the arrays are freed). Their space is
  reserved first, so a full disk is an OSError here, not a crash when a
  page is written."""
  import tempfile  # pylint: disable=g-import-not-at-top
  n = manifest.examples(split)
  out = {}
  for spec in manifest.stored_specs:
    stored = manifest.values["stored"][spec.name]
    handle, path = tempfile.mkstemp(  # local: $TMPDIR
        prefix=f"tf_mmjsd_{split}_{spec.name}_", suffix=".npy")
    os.close(handle)
    try:
      out[spec.name] = np.lib.format.open_memmap(
          path, mode="w+", dtype=np.dtype(stored["dtype"]),
          shape=(n, *[int(d) for d in stored["shape"]]))
      if hasattr(os, "posix_fallocate"):
        with open(path, "r+b") as f:  # local: $TMPDIR
          os.posix_fallocate(f.fileno(), 0, f.seek(0, os.SEEK_END))
    finally:
      os.remove(path)  # local: $TMPDIR
  return out


def read_split(manifest, split, shards=None, first=None, spill=False):
  """The `split` ("train"/"test") of the records as a Split in memory, in
  the split's own order (by the stored row index).

  Args:
    shards: indices into the split's shard list (default: all).
    first: read only the first `first` records of each shard (default:
      all of them).
    spill: write the stored modalities' examples to memory-mapped
      temporary files (`_spilled_pools`) as they are read, instead of
      holding them (whole splits only).

  DataError names a damaged shard, or one whose count or rows disagree
  with the manifest.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  parse = _parser(manifest)
  entries = manifest.shards(split)
  chosen = range(len(entries)) if shards is None else shards
  n = manifest.examples(split)
  spilled = None
  if spill:
    if shards is not None or first is not None:
      raise ValueError("only a whole split is read to memory-mapped files")
    spilled = _spilled_pools(manifest, split)
  parts = []
  for i in chosen:
    path, count = entries[i]
    if not files.isfile(path):
      raise DataUnavailableError(f"{path} is missing; {manifest.path} lists "
                                 "it")
    want = count if first is None else min(count, first)
    ds = tf.data.TFRecordDataset(path)
    if first is not None:
      ds = ds.take(want)
    got = []
    try:
      for batch in ds.batch(4096).map(parse):
        values = tf.nest.map_structure(lambda t: t.numpy(), batch)
        if spilled is not None:
          index = values[4]
          if len(index) and (index.min() < 0 or index.max() >= n):
            raise DataError(f"{path} holds rows outside 0 to {n - 1}; "
                            f"{manifest.path} does not describe it")
          for name, pool in spilled.items():
            pool[index] = values[0][name]
          values = ({},) + tuple(values[1:])
        got.append(values)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
      raise _damaged(path, e) from None
    rows = sum(len(g[4]) for g in got)
    if rows != want:
      raise DataError(f"{path} holds {rows} examples; {manifest.path} says "
                      f"{count}: the records and their manifest disagree")
    parts.extend(got)
  index = np.concatenate([p[4] for p in parts])
  order = np.argsort(index, kind="stable")  # the split's order
  if shards is None and first is None:
    complete = np.array_equal(index[order], np.arange(len(index)))
  else:
    complete = (len(np.unique(index)) == len(index) and
                (not len(index) or (index.min() >= 0 and index.max() < n)))
  if not complete:
    raise DataError(f"the {split} shards of {manifest.folder} do not hold "
                    f"examples 0 to {n - 1} once each; "
                    f"{manifest.path} does not describe them")
  arrays = spilled or {
      s.name: np.concatenate([p[0][s.name] for p in parts])[order]
      for s in manifest.stored_specs}
  derived = {m: manifest.derived_modality(
      m, split, np.concatenate([p[1][m] for p in parts])[order])
             for m in manifest.derived}
  masks = ({m: np.concatenate([p[2][m] for p in parts])[order]
            for m in manifest.values["masks"]} or None)
  labels = np.concatenate([p[3] for p in parts])[order].astype(
      manifest.values["label_dtype"])
  return Split(pools=arrays, indices={m: np.arange(len(labels))
                                      for m in arrays},
               labels=labels, masks=masks, derived=derived or None)


def sample_per_shard(manifest, examples=EVAL_SAMPLE):
  """Records read from the start of each train shard by `read_sample`:
  ceil(examples / S) for S shards."""
  return math.ceil(examples / max(1, len(manifest.shards("train"))))


def read_sample(manifest, examples=EVAL_SAMPLE):
  """The evaluation sample of a streamed training split: the first
  `sample_per_shard` records of every train shard (about `examples` in
  all, or the whole split if smaller), in the split's order. The writer's
  permutation makes it a uniformly random sample of the split, drawn by
  the records' seed, and the same whatever the number of workers."""
  return read_split(manifest, "train",
                    first=sample_per_shard(manifest, examples))


def check_stored(manifest):
  """Raises DataError where a shard the manifest lists is missing or has
  another size than the one it records (no shard is read)."""
  for split in SPLITS:
    for entry in manifest.values["splits"][split]["shards"]:
      path = files.join(manifest.folder, entry["file"])
      if not files.isfile(path):
        raise DataUnavailableError(f"{path} is missing; {manifest.path} "
                                   "lists it")
      if "bytes" in entry and files.size(path) != int(entry["bytes"]):
        raise DataError(
            f"{path} has {files.size(path)} bytes; {manifest.path} says "
            f"{entry['bytes']}: it is not the shard bin/make_records wrote "
            "there. Write the records again")


def check_streamed(manifest, seed, pipelines):
  """Raises DataError unless the train shards suffice for the input
  `pipelines` ([(pipeline, number of pipelines)]) and are the ones the
  manifest lists: every train shard's count of records (from their
  headers), and the SHA-256 of the shards those pipelines stream, where the
  manifest records it (each read once)."""
  entries = manifest.values["splits"]["train"]["shards"]
  stream = Stream(manifest)
  mine = {path for pipeline, count in pipelines
          for path in stream.shards_of(seed, pipeline, count)}
  for entry in entries:
    path = files.join(manifest.folder, entry["file"])
    hashed = path in mine and "sha256" in entry
    scanned = scan_shard(path) if hashed else {
        "records": count_records(path)}
    if scanned["records"] != int(entry["examples"]):
      raise DataError(
          f"{path} holds {scanned['records']} examples; {manifest.path} says "
          f"{entry['examples']}: the records and their manifest disagree. "
          "Write the records again with bin/make_records")
    if hashed and scanned["sha256"] != entry["sha256"]:
      raise DataError(
          f"{path} is not the shard {manifest.path} lists (its SHA-256 "
          "differs: another data set's shard, or changed since it was "
          "written). Write the records again with bin/make_records")


def preflight(config, pipelines):
  """The records a run reads, checked before anything is written: every
  shard is there with its recorded size, and the train shards that the
  input `pipelines` ([(pipeline, number of pipelines)] run by this process)
  stream hold what the manifest says (`check_streamed`), where the run
  streams them (`streams`)."""
  manifest = read_manifest(config.data_path)
  check_stored(manifest)
  if streams(config) and pipelines:
    check_streamed(manifest, config.seed, pipelines)


def _check_specs(manifest, specs):
  have = [(s.name, s.shape) for s in manifest.specs]
  want = [(s.name, s.shape) for s in specs]
  if have != want:
    raise DataError(f"{manifest.path} holds modalities {have}; the run "
                    f"expects {want}")


def load(config, log=print):
  """(train, test) Splits of `config.data_path`'s records. Where the
  training split streams (`streams`), the train Split is the evaluation
  sample (`read_sample`) with `stream` set to the `Stream` of every
  training batch."""
  from tf_mmjsd.data.split import fingerprint  # pylint: disable=g-import-not-at-top
  manifest = read_manifest(config.data_path)
  _check_specs(manifest, config.modalities)
  test_bytes = sum(int(entry.get("bytes", 0)) for entry in
                   manifest.values["splits"]["test"]["shards"])
  test = read_split(manifest, "test", spill=test_bytes > IN_MEMORY_BYTES)
  test.validate(config.modalities, "test")
  if streams(config):
    if manifest.order != "permuted":
      raise DataError(
          f"{manifest.path} is version {manifest.values['version']}: its "
          "shards keep the split's own order, so reading them as a stream "
          "would train on batches of that order (one class at a time for "
          "data sorted by class). Write them again with bin/make_records, "
          "which deals a seeded permutation, or train without "
          "--stream_records in one process")
    sample = read_sample(manifest)
    sample.validate(config.modalities, "train")
    sample.stream = Stream(manifest)
    log(f"records {manifest.folder}: {manifest.examples('train')} train "
        f"examples in {len(manifest.shards('train'))} shards, streamed; "
        f"{len(sample)} of them held for evaluation")
    return sample, test
  train = read_split(manifest, "train")
  train.validate(config.modalities, "train")
  digest = fingerprint((train, test))
  if digest != manifest.fingerprint:
    raise DataError(f"the records in {manifest.folder} are not the data "
                    f"{manifest.path} describes (fingerprint {digest}, the "
                    f"manifest says {manifest.fingerprint}); write them "
                    "again with bin/make_records")
  return train, test


def row_uniform(index, *key):
  """float64 [N] in [0, 1): a counter-based draw for each row of `index`
  (int [N]) under the integers `key` (SplitMix64's mixing): the same row
  and key give the same value in any batch, in any order."""

  def mix(z):
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))

  with np.errstate(over="ignore"):
    z = mix(np.asarray(index).astype(np.uint64))
    for k in key:
      z = mix(z ^ mix(np.full(1, k, np.uint64)))
  return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


class Stream:
  """Training batches read from the train shards as training goes.

  The S train shards are dealt to the W input pipelines (one per worker;
  W = 1 in one process) in a fixed order drawn from the run's seed:
  pipeline p reads shards order[p], order[p + W], ... (W must not exceed
  S; where W does not divide S, some pipelines hold one shard more, and
  every pipeline still gives the same number of batches per step by
  repeating its shards). Each epoch, a pipeline takes its shards in an
  order drawn from (seed, epoch, p), reads all of them in turn, one record
  from each (interleave with cycle_length = its shard count), shuffles in
  a `SHUFFLE_BUFFER` seeded the same way, and batches; the global batch of
  a step is the W pipelines' parts side by side, `steps` of them per
  epoch. Epoch e starts each shard where epoch e - 1 left it (cyclically),
  so epochs shorter than a pass go on through the data.

  The shuffle guarantee: the writer dealt a uniform permutation of the
  split (`write_order`), so the records a pipeline reads in turn are a
  simple random sample of the split, in any window: a batch has the class
  mix of a batch of a global shuffle, whatever the order of the source
  (tested on class-sorted data). The shard order and the buffer change
  the order from epoch to epoch; records never meet a record of a far
  part of their shard within one batch, which a global reshuffle would
  allow.

  Reproducible: a run is the same for a seed and a worker count, and a
  resumed run (which skips the batches already trained on) continues
  exactly. It is not the example order of one process holding the split
  in memory. --missing_rate is drawn per example from (seed, its row), the
  same in every epoch; derived modalities (MNIST-SVHN-Text's words) draw
  their parameter from (seed, epoch, row), anew each epoch.
  """

  def __init__(self, manifest, missing_rate=0.0, names=()):
    self.manifest = manifest
    self.missing_rate = missing_rate
    self.names = tuple(names)

  @property
  def fingerprint(self):
    return self.manifest.fingerprint

  @property
  def num_examples(self):
    return self.manifest.examples("train")

  def with_missing(self, rate, names):
    return Stream(self.manifest, rate, names)

  def shards_of(self, seed, pipeline, num_pipelines):
    """The paths of the train shards input pipeline `pipeline` reads."""
    shards = [p for p, _ in self.manifest.shards("train")]
    if num_pipelines > len(shards):
      raise DataError(
          f"{len(shards)} train shard(s) in {self.manifest.folder} cannot "
          f"feed {num_pipelines} workers; write at least {num_pipelines} "
          "with bin/make_records --train_shards")
    order = np.random.default_rng([seed, 41]).permutation(len(shards))
    return [shards[i] for i in order[pipeline::num_pipelines]]

  def train_dataset(self, specs, batch_size, steps, seed, epoch,
                    skip_steps=0, pipeline=0, num_pipelines=1,
                    replica_batch=None):
    """Pipeline.train_dataset's batches, read from this pipeline's shards."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from tf_mmjsd.data import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
    part = batch_size // num_pipelines
    replica_batch = replica_batch or part
    per_step = part // replica_batch
    mine = self.shards_of(seed, pipeline, num_pipelines)
    rng = np.random.default_rng([seed, epoch, pipeline, 43])
    mine = [mine[i] for i in rng.permutation(len(mine))]
    shuffle_seed = int(rng.integers(2**31 - 1))
    counts = dict(self.manifest.shards("train"))
    # Epoch e starts each shard where epoch e - 1 left it (cyclically), so
    # epochs shorter than a pass (--steps_per_epoch) go on through the data
    # instead of reading the start of every shard again.
    taken = max(1, steps * part // len(mine))
    starts = [(epoch * taken) % counts[path] for path in mine]

    def rotated(path, start):
      return tf.data.TFRecordDataset(path).skip(start).concatenate(
          tf.data.TFRecordDataset(path).take(start))

    ds = tf.data.Dataset.from_tensor_slices(
        (mine, np.asarray(starts, np.int64)))
    ds = ds.interleave(rotated, cycle_length=len(mine), block_length=1,
                       num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)
    # Shuffled before repeated: every pass over the shards ends before
    # the next begins, so an epoch of at most a pass holds each example
    # at most once.
    ds = ds.shuffle(SHUFFLE_BUFFER, seed=shuffle_seed).repeat()
    ds = ds.batch(replica_batch, drop_remainder=True)
    ds = ds.skip(skip_steps * per_step).take((steps - skip_steps) * per_step)
    parse = _parser(self.manifest)
    spec_list = tuple(specs)
    stored = self.manifest.values["stored"]
    tokens = {s.name for s in self.manifest.stored_specs
              if stored[s.name]["dtype"][0] in "iu"
              and list(stored[s.name]["shape"]) == list(s.shape[:1])}
    derived = {m: self.manifest.derived_modality(m, "train")
               for m in self.manifest.derived}
    # A training split whose parameters are fixed keeps the stored ones.
    fixed = {m for m, entry in self.manifest.derived.items()
             if entry["fixed"].get("train", False)}
    rate, names = self.missing_rate, self.names

    def to_batch(serialized):
      arrays, stored_params, masks, labels, index = parse(serialized)
      masks = {s.name: masks.get(s.name, tf.ones_like(index, tf.bool))
               for s in spec_list}
      if rate:
        masks = _drop(masks, index, names, rate, seed)
      for m, d in derived.items():
        params = (stored_params[m] if m in fixed else
                  _epoch_params(d, labels, index, seed, epoch))
        arrays[m] = d.make(labels, params)
      inputs = {s.name: pipeline_lib.model_input(
          s, arrays[s.name], masks[s.name], s.name in tokens)
                for s in spec_list}
      return {"inputs": inputs, "masks": masks, "labels": labels}

    ds = ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _epoch_params(derived, labels, index, seed, epoch):
  """int32 [B]: the derived modality's parameters of the rows `index` in
  `epoch`, drawn from (seed, epoch, row)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def draw(lab, idx):
    return derived.from_uniform(lab, row_uniform(idx, seed, epoch, 47)
                                ).astype(np.int32)

  params = tf.numpy_function(draw, [labels, index], tf.int32, stateful=False)
  params.set_shape(index.shape)
  return params


def _drop(masks, index, names, rate, seed):
  """Masks with each present entry also absent with the probability that
  makes a fraction `rate` absent (split.drop_probability), drawn per example
  from (seed, its index), so the same in every epoch and after resumption;
  an example keeps at least one of its present modalities."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.split import draw_presence, drop_probability  # pylint: disable=g-import-not-at-top
  p = drop_probability(rate, len(names))

  def draw(idx, present):
    keep = np.empty_like(present)
    for row, i in enumerate(idx):
      keep[row] = draw_presence(present[row:row + 1], p,
                                np.random.default_rng([seed, 23, int(i)]))[0]
    return keep

  present = tf.stack([masks[m] for m in names], axis=1)
  keep = tf.numpy_function(draw, [index, present], tf.bool, stateful=False)
  keep.set_shape(present.shape)
  return {m: keep[:, i] for i, m in enumerate(names)}


def _resolve(dataset, data_path):
  """The records entry with the manifest's modalities, label kind,
  attribute names and synthetic flag."""
  manifest = read_manifest(data_path)
  return dataclasses.replace(
      dataset, specs=lambda: manifest.specs,
      label_kind=manifest.values["label_kind"],
      attribute_names=tuple(manifest.values["attribute_names"]),
      synthetic=bool(manifest.values["synthetic"]), resolve=None)


registry.register(registry.Dataset(
    "records", load, None, resolve=_resolve, preflight=preflight,
    description="sharded TFRecords written by bin/make_records: "
                "--data_path=FOLDER (local or gs://)"))
