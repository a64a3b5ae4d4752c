"""Sharded TFRecord data: a folder of `tf.train.Example` shards and a JSON
manifest, written by `bin/make_records` from any data set tf_mmjsd reads,
and read back by `--dataset=records --data_path=FOLDER` (local or gs://).

Layout of FOLDER:

  manifest.json                  what the shards hold (below)
  train-00000-of-00008.tfrecord  shards of a split: its examples dealt in
  ...                            turn (example i in shard i mod S), so each
                                 shard mixes the whole split (data sorted
                                 by class stay mixed when read per worker)
  test-00000-of-00002.tfrecord

One record per example, with the features
  "x/<m>"     bytes: modality m's example, its raw bytes in the stored
              dtype and shape of the manifest (uint8 images stay uint8,
              integer tokens stay integers, other values float32)
  "mask/<m>"  int64 1/0: m is present (only for modalities with masks)
  "labels"    int64 [K]: the class ([1]) or the K attributes (-1: unknown)
  "index"     int64: the example's row in its split

manifest.json: {"format", "version", "modalities": [ModalitySpec dicts],
"stored": {m: {"dtype", "shape"}}, "masks": [m, ...], "label_kind",
"label_shape", "label_dtype", "attribute_names", "synthetic", "source", "fingerprint"
(data.fingerprint of the splits the shards hold), "splits": {split:
{"examples": N, "shards": [{"file", "examples"}, ...]}}}.

Two ways to read them:
  in memory   (`load`): every shard of both splits into a `Split`, checked
              like any other data set and against the manifest (counts,
              order, fingerprint); batches are then exactly those of the
              same arrays given as .npz.
  streaming   (`Stream`, under --distribution=multi_worker): each worker
              reads only its own training shards (see `Stream`); the test
              split and the first training shard are read in memory for
              evaluation.
"""

import dataclasses
import json
import os

import numpy as np

from tf_mmjsd import files
from tf_mmjsd.data import registry, specs as specs_lib
from tf_mmjsd.data.split import DataError, DataUnavailableError, Split

FORMAT = "tf_mmjsd.records"
VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "test")
# Examples materialised and written at a time by `write`.
_CHUNK = 4096


def shard_name(split, index, count):
  return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


# ---------------------------------------------------------------- writing


def _stored_rows(split, spec, rows, params):
  """The stored examples `rows` of modality `spec`: [len(rows), *shape] in
  the stored dtype (a derived modality is materialised: integer tokens for
  a one-hot one, float32 otherwise)."""
  derived = (split.derived or {}).get(spec.name)
  if derived is None:
    return np.asarray(split.pools[spec.name][split.indices[spec.name][rows]])
  x = np.asarray(derived.make(np.asarray(split.labels)[rows].astype(np.int32),
                              params[rows].astype(np.int32)))
  from tf_mmjsd import likelihoods  # pylint: disable=g-import-not-at-top
  if likelihoods.of(spec).one_hot:
    dtype = np.uint8 if spec.shape[-1] <= 256 else np.int32
    return np.argmax(x, axis=-1).astype(dtype)
  return x.astype(np.float32)


def _derived_params(split, seed):
  """{m: int [N]}: the fixed parameters of each derived modality, or one
  draw of them from `seed`."""
  rng = np.random.default_rng([seed, 31])
  return {m: (d.fixed if d.fixed is not None else d.draw(split.labels, rng))
          for m, d in (split.derived or {}).items()}


def _example(arrays, masks, label, index):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  feature = {"labels": tf.train.Feature(int64_list=tf.train.Int64List(
      value=np.ravel(label).tolist())),
             "index": tf.train.Feature(int64_list=tf.train.Int64List(
                 value=[int(index)]))}
  for m, x in arrays.items():
    feature[f"x/{m}"] = tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[np.ascontiguousarray(x).tobytes()]))
  for m, present in masks.items():
    feature[f"mask/{m}"] = tf.train.Feature(int64_list=tf.train.Int64List(
        value=[int(present)]))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def write(splits, specs, out_dir, num_shards, dataset=None, seed=0,
          source="", log=print):
  """Writes the (train, test) `Split`s as shards of `out_dir`; returns the
  manifest.

  Args:
    splits: (train, test) validated Splits of the modalities `specs`.
    num_shards: (train shards, test shards); a split with fewer examples
      gets one shard per example.
    dataset: the registry.Dataset they came from (label kind, attribute
      names, synthetic), or None (class labels, not synthetic).
    seed: the seed of a derived modality's one draw (MNIST-SVHN-Text's
      words of the training split).
    source: one line saying where the data came from.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.split import fingerprint  # pylint: disable=g-import-not-at-top
  specs = tuple(specs)
  if files.exists(files.join(out_dir, MANIFEST)):
    raise DataError(f"{out_dir} already holds records ({MANIFEST}); choose "
                    "another folder or delete it")
  files.makedirs(out_dir)
  names = [s.name for s in specs]
  masked = sorted({m for sp in splits for m in (sp.masks or {})})
  stored, held, manifest_splits = {}, [], {}
  for split, split_name, shards in zip(splits, SPLITS, num_shards):
    n = len(split)
    params = _derived_params(split, seed)
    shards = max(1, min(int(shards), n))
    entries, arrays_of_split = [], {m: [] for m in names}
    for i in range(shards):
      name = shard_name(split_name, i, shards)
      mine = np.arange(i, n, shards)
      with tf.io.TFRecordWriter(files.join(out_dir, name)) as writer:
        for start in range(0, len(mine), _CHUNK):
          rows = mine[start:start + _CHUNK]
          arrays = {s.name: _stored_rows(split, s, rows, params.get(s.name))
                    for s in specs}
          for m, x in arrays.items():
            stored.setdefault(m, {"dtype": x.dtype.name,
                                  "shape": list(x.shape[1:])})
            arrays_of_split[m].append(x)
          for j, row in enumerate(rows):
            masks = {m: bool(np.asarray(split.masks[m])[row])
                     for m in masked if split.masks and m in split.masks}
            masks.update({m: True for m in masked if m not in masks})
            writer.write(_example({m: x[j] for m, x in arrays.items()},
                                  masks, np.asarray(split.labels)[row],
                                  row).SerializeToString())
      entries.append({"file": name, "examples": len(mine)})
    manifest_splits[split_name] = {"examples": n, "shards": entries}
    order = np.argsort(np.concatenate(
        [np.arange(i, n, shards) for i in range(shards)]), kind="stable")
    held.append(_split_of(
        {m: np.concatenate(v)[order] for m, v in arrays_of_split.items()},
        np.asarray(split.labels), _full_masks(split, masked)))
    log(f"wrote {shards} {split_name} shard(s) of {n} examples")
  label_shape = list(np.shape(splits[0].labels)[1:])
  manifest = {
      "format": FORMAT, "version": VERSION,
      "modalities": [s.to_dict() for s in specs],
      "stored": stored, "masks": masked,
      "label_kind": dataset.label_kind if dataset else "class",
      "label_shape": label_shape,
      "label_dtype": np.asarray(splits[0].labels).dtype.name,
      "attribute_names": list(dataset.attribute_names) if dataset else [],
      "synthetic": bool(dataset.synthetic) if dataset else False,
      "source": source, "fingerprint": fingerprint(held),
      "splits": manifest_splits}
  # The manifest comes last: a folder without one is not (yet) records.
  files.write_atomic(files.join(out_dir, MANIFEST),
                     json.dumps(manifest, indent=1).encode())
  return manifest


def _full_masks(split, masked):
  if not masked:
    return None
  n = len(split)
  return {m: (np.asarray(split.masks[m], bool) if split.masks and
              m in split.masks else np.ones(n, bool)) for m in masked}


def _split_of(arrays, labels, masks):
  n = len(labels)
  return Split(pools=arrays, indices={m: np.arange(n) for m in arrays},
               labels=labels, masks=masks)


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
    if values.get("format") != FORMAT:
      raise ValueError(f"format is {values.get('format')!r}, not {FORMAT!r}")
    if values.get("version") != VERSION:
      raise ValueError(f"version {values.get('version')!r}; this tf_mmjsd "
                       f"reads version {VERSION}")
    specs = tuple(specs_lib.ModalitySpec.from_dict(dict(m))
                  for m in values["modalities"])
    for spec in specs:
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
  """fn(serialized string [B]) -> (arrays {m: [B, *stored shape]},
  masks {m: bool [B]}, labels int32 [B] or [B, K], index int64 [B])."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  values = manifest.values
  label_shape = [int(d) for d in values["label_shape"]] or [1]
  features = {"labels": tf.io.FixedLenFeature(label_shape, tf.int64),
              "index": tf.io.FixedLenFeature([], tf.int64)}
  for spec in manifest.specs:
    features[f"x/{spec.name}"] = tf.io.FixedLenFeature([], tf.string)
  for m in values["masks"]:
    features[f"mask/{m}"] = tf.io.FixedLenFeature([], tf.int64)

  def parse(serialized):
    parsed = tf.io.parse_example(serialized, features)
    arrays = {}
    for spec in manifest.specs:
      stored = values["stored"][spec.name]
      x = tf.io.decode_raw(parsed[f"x/{spec.name}"],
                           tf.as_dtype(stored["dtype"]),
                           fixed_length=int(np.prod(stored["shape"]))
                           * np.dtype(stored["dtype"]).itemsize)
      arrays[spec.name] = tf.reshape(x, [-1] + list(stored["shape"]))
    masks = {m: parsed[f"mask/{m}"] > 0 for m in values["masks"]}
    labels = tf.cast(parsed["labels"], tf.int32)
    if not values["label_shape"]:
      labels = labels[:, 0]
    return arrays, masks, labels, parsed["index"]

  return parse


def _damaged(path, error):
  return DataError(f"{path} is damaged or not a shard of these records "
                   f"({type(error).__name__}: "
                   f"{str(getattr(error, 'message', error)).splitlines()[0]})"
                   "; write the records again with bin/make_records")


def read_split(manifest, split, shards=None):
  """The `split` ("train"/"test") of the records as a Split in memory;
  `shards` (default: all) are indices into its shard list. DataError names
  a damaged shard, or one whose count or order disagrees with the
  manifest."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  parse = _parser(manifest)
  entries = manifest.shards(split)
  chosen = range(len(entries)) if shards is None else shards
  parts = []
  for i in chosen:
    path, count = entries[i]
    if not files.isfile(path):
      raise DataUnavailableError(f"{path} is missing; {manifest.path} lists "
                                 "it")
    ds = tf.data.TFRecordDataset(path).batch(4096).map(parse)
    got = []
    try:
      for batch in ds:
        got.append(tf.nest.map_structure(lambda t: t.numpy(), batch))
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
      raise _damaged(path, e) from None
    rows = sum(len(g[3]) for g in got)
    if rows != count:
      raise DataError(f"{path} holds {rows} examples; {manifest.path} says "
                      f"{count}: the records and their manifest disagree")
    parts.extend(got)
  index = np.concatenate([p[3] for p in parts])
  order = np.argsort(index, kind="stable")  # the split's order
  if shards is None and not np.array_equal(index[order],
                                           np.arange(len(index))):
    raise DataError(f"the {split} shards of {manifest.folder} do not hold "
                    f"examples 0 to {len(index) - 1} once each; "
                    f"{manifest.path} does not describe them")
  arrays = {s.name: np.concatenate([p[0][s.name] for p in parts])[order]
            for s in manifest.specs}
  masks = ({m: np.concatenate([p[1][m] for p in parts])[order]
            for m in manifest.values["masks"]} or None)
  labels = np.concatenate([p[2] for p in parts])[order].astype(
      manifest.values["label_dtype"])
  return _split_of(arrays, labels, masks)


def _check_specs(manifest, specs):
  have = [(s.name, s.shape) for s in manifest.specs]
  want = [(s.name, s.shape) for s in specs]
  if have != want:
    raise DataError(f"{manifest.path} holds modalities {have}; the run "
                    f"expects {want}")


def load(config, log=print):
  """(train, test) Splits of `config.data_path`'s records; under
  --distribution=multi_worker the train split streams (`Stream`)."""
  from tf_mmjsd.data.split import fingerprint  # pylint: disable=g-import-not-at-top
  manifest = read_manifest(config.data_path)
  _check_specs(manifest, config.modalities)
  test = read_split(manifest, "test")
  test.validate(config.modalities, "test")
  if config.distribution == "multi_worker":
    sample = read_split(manifest, "train", shards=[0])
    sample.validate(config.modalities, "train")
    sample.stream = Stream(manifest)
    log(f"records {manifest.folder}: {manifest.examples('train')} train "
        f"examples in {len(manifest.shards('train'))} shards, read per "
        "worker")
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


class Stream:
  """Training batches read per worker from the train shards.

  Semantics (documented in the README): the S train shards are dealt to
  the W input pipelines (one per worker) in a fixed order drawn from the
  run's seed: pipeline p reads shards order[p], order[p + W], ... (W must
  not exceed S; where W does not divide S, some workers hold one shard
  more, and every worker still gives the same number of batches per step
  by repeating its shards). Each epoch, a pipeline interleaves its shards
  in an order drawn from (seed, epoch, p) and shuffles examples in a
  buffer seeded the same way; the global batch of a step is the W workers'
  parts side by side, `steps` of them per epoch. So a run is reproducible
  for a given seed and worker count, and a resumed run (which skips the
  batches already trained on) continues exactly; it is not the example
  order of one process reading everything in memory.
  """

  SHUFFLE_BUFFER = 10_000

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
    ds = tf.data.Dataset.from_tensor_slices(mine).repeat()
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(mine)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.shuffle(self.SHUFFLE_BUFFER, seed=shuffle_seed)
    ds = ds.batch(replica_batch, drop_remainder=True)
    ds = ds.skip(skip_steps * per_step).take((steps - skip_steps) * per_step)
    parse = _parser(self.manifest)
    spec_list = tuple(specs)
    tokens = {s.name for s in spec_list
              if self.manifest.values["stored"][s.name]["dtype"][0] in "iu"
              and list(self.manifest.values["stored"][s.name]["shape"])
              == list(s.shape[:1])}
    rate, names = self.missing_rate, self.names

    def to_batch(serialized):
      arrays, masks, labels, index = parse(serialized)
      masks = {s.name: masks.get(s.name, tf.ones_like(index, tf.bool))
               for s in spec_list}
      if rate:
        masks = _drop(masks, index, names, rate, seed)
      inputs = {s.name: pipeline_lib.model_input(
          s, arrays[s.name], masks[s.name], s.name in tokens)
                for s in spec_list}
      return {"inputs": inputs, "masks": masks, "labels": labels}

    ds = ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


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
    "records", load, None, resolve=_resolve,
    description="sharded TFRecords written by bin/make_records: "
                "--data_path=FOLDER (local or gs://)"))
