"""Per-modality classifiers that judge generated samples (coherence, FID).

They are trained on the real training split of the experiment's data set,
one per modality, and saved as `<dir>/<modality>.keras` beside
`<dir>/classifiers.json`, which records the data they were trained on and
each one's test accuracy. Models of several methods trained on the same
data should share one classifier directory so their coherences compare.
"""

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tf_mmjsd import files, interrupts, networks, run_dir
from tf_mmjsd.errors import UsageError
from tf_mmjsd.evaluation import average_precision
from tf_mmjsd.data import registry
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.data.split import fingerprint

METADATA = run_dir.CLASSIFIERS
# Cap on training examples per stored modality (a derived one, made from
# the labels, says what it needs: split.DerivedModality).
MAX_TRAIN = 100_000
# Training rows held out to stop each classifier's training early: this
# fraction of them, at most VALIDATION_MAX.
VALIDATION_FRACTION = 0.1
VALIDATION_MAX = 5000
DATA_KEYS = ("dataset", "data_path", "synthetic_train_size",
             "synthetic_test_size", "seed")


class ClassifierError(UsageError, RuntimeError):
  """Classifiers are missing, broken or belong to other data."""


class NoLabelsError(ClassifierError):
  """The data lack the labels a classifier needs (evaluation then gives the
  metrics that need none)."""


def data_signature(config):
  """What the classifiers depend on: the data set and the modality specs."""
  out = {k: getattr(config, k) for k in DATA_KEYS}
  if not registry.get(config.dataset).seed_changes_data:
    out.pop("seed")  # the images do not depend on the pairing seed
  out["modalities"] = [
      {"name": s.name, "shape": list(s.shape), "likelihood": s.likelihood}
      for s in config.modalities]
  return out


def _rows(split, name, cap, rng):
  """Labelled rows where `name` is present, one per distinct example."""
  keep = split.labelled()
  if split.masks is not None and name in split.masks:
    keep &= np.asarray(split.masks[name], bool)
  rows = np.flatnonzero(keep)
  if name not in (split.derived or {}):  # a derived one has no pool
    _, first = np.unique(split.indices[name][rows], return_index=True)
    rows = rows[np.sort(first)]
  if len(rows) > cap:
    rows = np.sort(rng.choice(rows, cap, replace=False))
  return rows


def _dataset(pipe, name, rows, batch_size):
  attributes = np.ndim(pipe.split.labels) == 2
  return pipe.eval_dataset(batch_size, rows).map(
      lambda b: (b["inputs"][name], tf.cast(b["labels"], tf.float32)
                 if attributes else b["labels"]))


def num_classes_of(train_split):
  """Classes of the labels [N], or the K attributes of labels [N, K]."""
  labels = train_split.labels[train_split.labelled()]
  if not len(labels):
    raise NoLabelsError("the training split has no labels")
  if labels.ndim == 2:
    return max(labels.shape[1], 2)
  return max(int(labels.max()) + 1, 2)


def _test_scores(model, dataset, attributes):
  """{"test_accuracy": ...} and, for attributes, "test_mean_ap" too."""
  if not attributes:
    return {"test_accuracy": float(model.evaluate(
        dataset, verbose=0, return_dict=True)["accuracy"])}
  labels, scores = [], []
  for x, y in dataset:
    labels.append(y.numpy())
    scores.append(model(x, training=False).numpy())
  labels, scores = np.concatenate(labels), np.concatenate(scores)
  return {"test_accuracy": float(np.mean((scores > 0) == (labels > 0.5))),
          "test_mean_ap": average_precision.mean_average_precision(
              labels, scores)}


def train(config, train_split, test_split, out_dir, epochs, log=print,
          batch_size=128):
  """Trains one classifier per modality and saves them to out_dir.

  Each trains for at most `epochs` epochs, stopping early once its loss on
  held-out training rows (`VALIDATION_FRACTION`) has not fallen for an
  epoch, with the weights of its best epoch.

  Returns:
    the metadata written to classifiers.json.
  """
  num_classes = num_classes_of(train_split)
  attributes = np.ndim(train_split.labels) == 2
  files.makedirs(out_dir)
  rng = np.random.default_rng([config.seed, 11])
  meta = {"data": data_signature(config),
          "fingerprint": fingerprint((train_split, test_split)),
          "num_classes": num_classes,
          "epochs": epochs, "modalities": {}}
  for spec in config.modalities:
    derived = (train_split.derived or {}).get(spec.name)
    cap = derived.classifier_examples if derived else MAX_TRAIN
    train_rows = _rows(train_split, spec.name, cap, rng)
    test_rows = _rows(test_split, spec.name, len(test_split), rng)
    if not len(train_rows) or not len(test_rows):
      raise NoLabelsError(f"modality {spec.name!r} has no labelled "
                          "examples to train or test a classifier on")
    held = min(VALIDATION_MAX, int(len(train_rows) * VALIDATION_FRACTION))
    if held:
      permuted = rng.permutation(train_rows)
      val_rows, train_rows = np.sort(permuted[:held]), np.sort(permuted[held:])
    pipe = Pipeline(train_split, [spec])
    order = np.concatenate([rng.permutation(train_rows) for _ in
                            range(epochs)])
    model = networks.build_classifier(spec, num_classes)
    if attributes:  # one sigmoid per attribute
      loss = keras.losses.BinaryCrossentropy(from_logits=True)
      metric = keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")
    else:
      loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
      metric = "accuracy"
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss,
                  metrics=[metric])
    log(f"Training the {spec.name} classifier ({type(model).__name__}) on "
        f"{len(train_rows)} examples for at most {epochs} epoch(s)"
        + (f", stopping early on {held} held-out ones" if held else "")
        + " ...")
    start = time.time()
    callbacks = [keras.callbacks.LambdaCallback(
        # A signal stops training at a step boundary (between_steps).
        on_train_batch_end=lambda *_, **__: interrupts.check(),
        on_test_batch_end=lambda *_, **__: interrupts.check(),
        on_epoch_end=lambda e, logs: log(
            f"  epoch {e + 1}: train accuracy {logs['accuracy']:.4f}"
            + (f", held-out loss {logs['val_loss']:.4f}" if held else "")))]
    if held:
      callbacks.append(keras.callbacks.EarlyStopping(
          monitor="val_loss", patience=1, restore_best_weights=True))
    with interrupts.between_steps():
      history = model.fit(
          _dataset(pipe, spec.name, order, batch_size), epochs=epochs,
          steps_per_epoch=len(train_rows) // batch_size or 1, verbose=0,
          shuffle=False, callbacks=callbacks,
          validation_data=(_dataset(pipe, spec.name, val_rows, 1000) if held
                           else None))
    trained = len(history.history["loss"])
    best = (int(np.argmin(history.history["val_loss"])) + 1 if held
            else trained)
    seconds = time.time() - start
    log(f"  {trained} epoch(s) in {seconds:.0f} s; kept epoch {best}")
    test = _dataset(Pipeline(test_split, [spec]), spec.name, test_rows, 1000)
    scores = _test_scores(model, test, attributes)
    log(f"  {spec.name} classifier test " + ", ".join(
        f"{k[5:]} {v:.4f}" for k, v in scores.items())
        + f" ({len(test_rows)} test examples)")
    tmp = os.path.join(out_dir, f"{spec.name}.tmp.keras")
    try:
      model.save(tmp)
      files.rename(tmp, os.path.join(out_dir, f"{spec.name}.keras"),
                   overwrite=True)
    except BaseException:  # a full disk or a signal: leave no part behind
      if files.exists(tmp):
        files.remove(tmp)
      raise
    meta["modalities"][spec.name] = {
        "class": type(model).__name__, **scores,
        "train_examples": int(len(train_rows)),
        "validation_examples": int(held), "epochs_trained": trained,
        "best_epoch": best, "seconds": round(seconds, 1),
        "held_out_losses": [float(v) for v in
                            history.history.get("val_loss", [])],
        "test_examples": int(len(test_rows))}
  files.write_atomic(os.path.join(out_dir, METADATA),
                     json.dumps(meta, indent=2))
  return meta


def _same_data(meta, config, digest):
  """True where classifiers.json's data are this experiment's: the same
  data signature, or one that differs only in data_path (the data moved)
  or in whether it records the seed (written before the data set was
  known to depend on it) while the fingerprints (data.fingerprint)
  agree."""
  signature = data_signature(config)
  if meta.get("data") == signature:
    return True
  if digest is None or meta.get("fingerprint") != digest:
    return False
  strip = lambda d: {k: v for k, v in (d or {}).items()
                     if k not in ("data_path", "seed")}
  return strip(meta.get("data")) == strip(signature)


def load(config, out_dir, digest=None):
  """({modality: classifier}, metadata) saved by `train` for this data
  (`digest`: their data.fingerprint, where known).

  Raises:
    ClassifierError: nothing saved there, or saved for other data.
  """
  path = os.path.join(out_dir, METADATA)
  if not files.isfile(path):
    raise ClassifierError(f"no classifiers in {out_dir} ({METADATA} missing)")
  meta = run_dir.read_classifiers(out_dir)
  if not _same_data(meta, config, digest):
    raise ClassifierError(
        f"the classifiers in {out_dir} were trained on other data "
        f"({meta.get('data')}); this experiment has "
        f"{data_signature(config)}. Use another --classifier_dir.")
  models = {}
  for spec in config.modalities:
    file = os.path.join(out_dir, f"{spec.name}.keras")
    if not files.isfile(file):
      raise ClassifierError(f"classifier file {file} is missing")
    models[spec.name] = keras.models.load_model(file)
  return models, meta


def ensure_trained(config, train_split, test_split, out_dir, epochs,
                   log=print):
  """Trains the classifiers into out_dir unless it holds some."""
  if not files.isfile(os.path.join(out_dir, METADATA)):
    log(f"No classifiers in {out_dir}; training them "
        "(bin/train_classifiers does this ahead of time).")
    train(config, train_split, test_split, out_dir, epochs, log=log)


def load_or_train(config, train_split, test_split, out_dir, epochs,
                  log=print):
  """Loads the classifiers in out_dir, training them first if absent."""
  ensure_trained(config, train_split, test_split, out_dir, epochs, log)
  return load(config, out_dir,
              fingerprint((train_split, test_split)))


def run(config, log=print):
  """Trains the classifiers of config's data set into its classifier dir
  (config.classifier_dir, else <model_dir>/classifiers); returns metadata."""
  from tf_mmjsd import data as data_lib  # pylint: disable=g-import-not-at-top
  out_dir = config.classifier_dir or (
      config.model_dir and os.path.join(config.model_dir, "classifiers"))
  if not out_dir:
    raise ClassifierError("give --classifier_dir (or --model_dir)")
  run_dir.check_creatable(out_dir, "classifier_dir")
  keras.utils.set_random_seed(config.seed)
  train_split, test_split = data_lib.load_splits(config, log=log)
  meta = train(config, train_split, test_split, out_dir,
               config.classifier_epochs, log=log)
  log(f"Wrote {len(meta['modalities'])} classifiers and {METADATA} to "
      f"{out_dir}")
  return meta
