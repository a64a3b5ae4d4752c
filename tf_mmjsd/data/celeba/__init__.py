"""CelebA image + attribute text (docs/reference_settings.md), from TFDS, from the
standard CelebA files, or from the synthetic stand-in (synthetic_faces.py).

Modalities:
  image  [64, 64, 3] in [0, 1]: the 148x148 centre crop (rows 35-182,
         columns 15-162) of the 218x178 aligned face, resized to 64x64
  text   [256, 71] one-hot, stored as integer tokens [N, 256]: the names of
         the attributes that are 1, in column order, "_" -> " ", lower case,
         joined by ", " (attributes dropped from the end until it fits 256
         characters), padded on both sides with "*" from a start drawn once
         per example from the seed in [0, 254 - length]
Labels: the 40 binary attributes [N, 40] (label kind "attributes").
Splits: train = partition 0, test = partition 1 (the validation split).

Images are decoded, cropped and resized in a parallel tf.data pass once and
cached as uint8 .npy files (64x64x3: 2.5 GB for all of CelebA) that
training memory-maps; 200k decoded 218x178 float32 images would not fit.
"""

import hashlib
import os

import numpy as np

from tf_mmjsd import data as data_lib, files
from tf_mmjsd.data import registry, text as text_lib
from tf_mmjsd.data.celeba.attributes import ATTRIBUTES
from tf_mmjsd.data.split import (DataError, DataUnavailableError, Split,
                                 validated)
from tf_mmjsd.options import Option

IMAGE = "image"
TEXT = "text"
IMAGE_SIZE = 64
SOURCE_SHAPE = (218, 178)
CROP_TOP, CROP_LEFT, CROP_SIZE = 35, 15, 148
TEXT_LENGTH = 256
PAD = "*"  # alphabet index 55
SPLITS = {"train": 0, "test": 1}  # partition of each split
FILES = ("img_align_celeba/", "list_attr_celeba.txt",
         "list_eval_partition.txt")
HOW_TO_GET = (
    "Either run once with internet access (TFDS downloads and caches "
    "'celeb_a' under --data_dir; about 1.4 GB), or download CelebA's "
    "'Align&Cropped Images' and pass --celeba_dir=DIR holding "
    + ", ".join(FILES) + ". Offline, --dataset=synthetic_celeba runs the "
    "same pipeline on generated stand-in faces.")


def specs():
  """The two modalities with the paper's settings
  (docs/reference_settings.md): reconstruction weights 1 and 16 (= 64 * 64 / 256), style
  weights 1 and 5, the residual networks of width 128."""
  from tf_mmjsd.data.specs import ModalitySpec  # pylint: disable=g-import-not-at-top
  return (
      ModalitySpec(IMAGE, (IMAGE_SIZE, IMAGE_SIZE, 3), "laplace",
                   "residual_conv", weight=1.0, likelihood_scale=0.75),
      ModalitySpec(TEXT, (TEXT_LENGTH, text_lib.ALPHABET_SIZE),
                   "categorical", "residual_sequence", weight=16.0,
                   style_weight=5.0),
  )


# --- attribute text -------------------------------------------------------


def attribute_text(row, names=ATTRIBUTES, length=TEXT_LENGTH):
  """The text of one example's attributes (row: [K] of 0/1), without the
  padding: names of the 1s in column order, "_" -> " ", lower case, joined
  by ", ", attributes dropped from the end until it fits `length`."""
  words = [n.replace("_", " ").lower() for n, v in zip(names, row) if v > 0]
  while words and len(", ".join(words)) > length:
    words.pop()
  return ", ".join(words)


def padded_text(words, start, length=TEXT_LENGTH):
  """`words` at `start` in a string of `length` "*"."""
  return (PAD * start + words).ljust(length, PAD)[:length]


def draw_start(text_length, rng, length=TEXT_LENGTH):
  """A start position uniform in [0, length - 2 - text_length] (0 where
  the text leaves no room), as the original's preprocessing drew it."""
  room = length - 2 - text_length
  return int(rng.integers(0, room + 1)) if room > 0 else 0


def text_tokens(attributes, seed, split_id):
  """int8 [N, 256] alphabet indices of every example's padded text; the
  starts are drawn once per example from (seed, split_id)."""
  rng = np.random.default_rng([seed, split_id, 13])
  cache, out = {}, np.empty((len(attributes), TEXT_LENGTH), np.int8)
  for i, row in enumerate(np.asarray(attributes)):
    key = row.tobytes()
    if key not in cache:
      cache[key] = attribute_text(row)
    words = cache[key]
    line = padded_text(words, draw_start(len(words), rng))
    out[i] = text_lib.symbol_ids(line)
  return out


# --- images ---------------------------------------------------------------


def crop_and_resize(images):
  """float32 [B, 64, 64, C] in [0, 1] from uint8 [B, 218, 178, C] faces:
  the 148x148 crop from row 35, column 15, bicubic resize (clipped)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  x = tf.image.convert_image_dtype(images, tf.float32)
  x = x[:, CROP_TOP:CROP_TOP + CROP_SIZE, CROP_LEFT:CROP_LEFT + CROP_SIZE]
  x = tf.image.resize(x, (IMAGE_SIZE, IMAGE_SIZE), method="bicubic",
                      antialias=True)
  return tf.clip_by_value(x, 0.0, 1.0)


def _write_cache(dataset, capacity, path, log, what):
  """Writes the uint8 64x64 crops of `dataset` (batches of decoded faces)
  to `path` (.npy); returns the number of examples written."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tmp = path + ".tmp.npy"
  out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                  shape=(capacity, IMAGE_SIZE, IMAGE_SIZE, 3))
  n, report = 0, max(1, capacity // 10)
  ds = dataset.map(lambda x: tf.cast(tf.round(crop_and_resize(x) * 255.0),
                                     tf.uint8),
                   num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
  for batch in ds.as_numpy_iterator():
    if n + len(batch) > capacity:
      raise DataError(f"{what}: more images than the {capacity} listed")
    out[n:n + len(batch)] = batch
    if (n + len(batch)) // report > n // report:
      log(f"  {what}: {n + len(batch)}/{capacity} images cropped")
    n += len(batch)
  out.flush()
  del out
  if n < capacity:  # fewer than listed (mock data): keep the written rows
    np.save(path + ".short.npy",  # local: the cache
            np.load(tmp, mmap_mode="r")[:n])  # local
    os.replace(path + ".short.npy", tmp)  # local
  os.replace(tmp, path)  # local
  return n


def _cached(cache_dir, build, log):
  """{split: (uint8 images [N, 64, 64, 3] memory-mapped, attributes int8
  [N, 40])} from cache_dir, calling build(cache_dir) first if absent."""
  done = os.path.join(cache_dir, "done")
  if not os.path.exists(done):  # local: the cache is memory-mapped
    os.makedirs(cache_dir, exist_ok=True)  # local
    log(f"Cropping CelebA images into {cache_dir} (once) ...")
    build(cache_dir)
    files.write_atomic(done, "ok\n")
  return {split: (np.load(os.path.join(  # local
      cache_dir, f"{split}_image.npy"), mmap_mode="r"),
                  np.load(os.path.join(  # local
                      cache_dir, f"{split}_attributes.npy")))
          for split in SPLITS}


# --- sources --------------------------------------------------------------


def check_lists(celeba_dir):
  """DataUnavailableError unless celeba_dir is a folder with the list
  files."""
  if not files.isdir(celeba_dir):
    raise DataUnavailableError(f"--celeba_dir={celeba_dir}: no such "
                               f"folder. {HOW_TO_GET}")
  for name in FILES:
    if not files.exists(os.path.join(celeba_dir, name)):
      raise DataUnavailableError(
          f"--celeba_dir={celeba_dir} lacks {name}. {HOW_TO_GET}")


def read_lists(celeba_dir):
  """(file names [N], attributes int8 [N, 40] of 0/1, partitions int [N])
  from the standard list files, in the attribute file's order."""
  check_lists(celeba_dir)
  lines = files.read_text(os.path.join(celeba_dir,
                                       "list_attr_celeba.txt")).split("\n")
  header = lines[1].split()
  if tuple(header) != ATTRIBUTES:
    raise DataError(f"{celeba_dir}/list_attr_celeba.txt: the header is not "
                    "CelebA's 40 attributes in their standard order")
  names, rows = [], []
  for number, line in enumerate(lines[2:], 3):
    parts = line.split()
    if not parts:
      continue
    if len(parts) != 41:
      raise DataError(f"{celeba_dir}/list_attr_celeba.txt, line {number}: "
                      f"expected a file name and 40 values, got {len(parts)} "
                      "fields")
    names.append(parts[0])
    rows.append([p == "1" for p in parts[1:]])
  partition = {}
  for line in files.read_text(os.path.join(
      celeba_dir, "list_eval_partition.txt")).splitlines():
    parts = line.split()
    if len(parts) == 2:
      partition[parts[0]] = int(parts[1])
  missing = [n for n in names if n not in partition]
  if missing:
    raise DataError(f"{celeba_dir}/list_eval_partition.txt lacks "
                    f"{len(missing)} images, e.g. {missing[0]}")
  return (np.array(names), np.array(rows, np.int8),
          np.array([partition[n] for n in names]))


def load_local(celeba_dir, cache_dir, log=print):
  """Pools (see `_cached`) from a folder of the standard CelebA files."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  names, attributes, partition = read_lists(celeba_dir)

  def build(out_dir):
    for split, part in SPLITS.items():
      rows = np.flatnonzero(partition == part)
      paths = [os.path.join(celeba_dir, "img_align_celeba", n)
               for n in names[rows]]
      missing = [p for p in paths[:1] + paths[-1:] if not files.isfile(p)]
      if missing:
        raise DataUnavailableError(f"image {missing[0]} is missing. "
                                   f"{HOW_TO_GET}")
      ds = tf.data.Dataset.from_tensor_slices(paths).map(
          lambda p: tf.ensure_shape(
              tf.io.decode_jpeg(tf.io.read_file(p), channels=3),
              SOURCE_SHAPE + (3,)),
          num_parallel_calls=tf.data.AUTOTUNE).batch(256)
      _write_cache(ds, len(rows), os.path.join(out_dir, f"{split}_image.npy"),
                   log, f"{split} split")
      np.save(os.path.join(out_dir, f"{split}_attributes.npy"),  # local
              attributes[rows])

  where = celeba_dir if files.is_remote(celeba_dir) else os.path.abspath(
      celeba_dir)
  key = hashlib.sha1(where.encode()).hexdigest()[:10]
  return _cached(os.path.join(cache_dir, f"celeba64_local_{key}"), build, log)


def load_tfds(data_dir, cache_dir, log=print):
  """Pools (see `_cached`) from TFDS `celeb_a`; fails within seconds with
  instructions when it is not prepared and the internet is out of reach."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder = tfds.builder("celeb_a", data_dir=data_dir or None)
  if not builder.is_prepared() and not data_lib.internet_reachable():
    raise DataUnavailableError(
        f"TFDS data set 'celeb_a' is not prepared under "
        f"{data_dir or '~/tensorflow_datasets'} and the internet cannot be "
        f"reached. {HOW_TO_GET}")

  def build(out_dir):
    if not builder.is_prepared():
      log("Downloading and preparing TFDS celeb_a ...")
      builder.download_and_prepare()
    for split, tfds_split in (("train", "train"), ("test", "validation")):
      ds = builder.as_dataset(split=tfds_split, shuffle_files=False)
      rows = [np.stack([np.asarray(a[n]) for n in ATTRIBUTES], -1)
              for a in tfds.as_numpy(ds.map(lambda e: e["attributes"])
                                     .batch(4096))]
      attributes = np.concatenate(rows).astype(np.int8)
      images = ds.map(lambda e: tf.ensure_shape(e["image"],
                                                SOURCE_SHAPE + (3,))
                      ).batch(256)
      n = _write_cache(images, len(attributes),
                       os.path.join(out_dir, f"{split}_image.npy"), log,
                       f"{split} split")
      np.save(os.path.join(out_dir, f"{split}_attributes.npy"),  # local
              attributes[:n])

  return _cached(os.path.join(cache_dir, "celeba64_tfds"), build, log)


def splits_from_pools(pools, seed):
  """(train, test) `Split`s: image pool, text tokens, attribute labels."""
  out = []
  for split_id, split in enumerate(SPLITS):
    images, attributes = pools[split]
    n = len(attributes)
    tokens = text_tokens(attributes, seed, split_id)
    out.append(Split(pools={IMAGE: images, TEXT: tokens},
                     indices={IMAGE: np.arange(n), TEXT: np.arange(n)},
                     labels=np.asarray(attributes, np.int8)))
  return tuple(out)


def _cache_dir(config):
  """Where the cropped images are cached: --data_dir, or the default cache
  where that is empty or remote (the cache is memory-mapped: local)."""
  if config.data_dir and not files.is_remote(config.data_dir):
    return config.data_dir
  return data_lib.default_cache_dir()


def _load(config, log=print):
  cache = _cache_dir(config)
  if config.celeba_dir:
    check_lists(config.celeba_dir)
    pools = load_local(config.celeba_dir, cache, log=log)
  else:
    pools = load_tfds(config.data_dir, cache, log=log)
  return validated(splits_from_pools(pools, config.seed), config.modalities)


def _load_synthetic(config, log=print):
  from tf_mmjsd.data.celeba import synthetic_faces  # pylint: disable=g-import-not-at-top
  folder = os.path.join(
      _cache_dir(config), f"synthetic_celeba_s{config.seed}_{config.synthetic_train_size}_"
      f"{config.synthetic_test_size}")
  if not os.path.exists(os.path.join(folder, "done")):  # local: the cache
    log(f"Generating synthetic_celeba (stand-in faces, not CelebA) into "
        f"{folder} ...")
    synthetic_faces.write_folder(folder, config.synthetic_train_size,
                                 config.synthetic_test_size, config.seed)
  pools = load_local(folder, folder, log=log)
  return validated(splits_from_pools(pools, config.seed), config.modalities)


CELEBA_DIR = Option(
    "celeba_dir", "", "Directory with CelebA's img_align_celeba/, "
    "list_attr_celeba.txt and list_eval_partition.txt (--dataset=celeba "
    "without TFDS).", resumable=True, path=True)

registry.register(registry.Dataset(
    "celeba", _load, specs, label_kind="attributes",
    attribute_names=ATTRIBUTES,
    preflight=lambda c, _: check_lists(c.celeba_dir) if c.celeba_dir else None,
    description="CelebA faces + attribute text (TFDS, or --celeba_dir)",
    options=(CELEBA_DIR,)))
registry.register(registry.Dataset(
    "synthetic_celeba", _load_synthetic, specs, label_kind="attributes",
    synthetic=True, attribute_names=ATTRIBUTES, seed_changes_data=True,
    description="offline synthetic stand-in faces with CelebA's attributes "
                "(not CelebA)",
    options=(registry.SYNTHETIC_TRAIN_SIZE, registry.SYNTHETIC_TEST_SIZE)))
