"""Sharded TFRecord data: the round trip from .npz, the manifest's checks,
per-worker reading, and the programs."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.harness import REPO, TINY, error_line, run_bin, save_npz, summary
from tf_mmjsd.config import ExperimentConfig
from tf_mmjsd.data import npz, records, registry
from tf_mmjsd.data.pipeline import Pipeline
from tf_mmjsd.data.specs import parse_modality
from tf_mmjsd.data.split import DataError, DataUnavailableError, fingerprint

MODALITY_FLAGS = ["--modality=img:6x5x3:laplace:mlp:2.0:sigmoid",
                  "--modality=tags:7x11:categorical:text",
                  "--modality=vec:4:normal:mlp"]
SPECS = tuple(parse_modality(m.split("=", 1)[1]) for m in MODALITY_FLAGS)


def write_npz(path, n_train=203, n_test=41):
  """uint8 images, integer tokens, float vectors, masks and labels."""
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", n_train), ("test", n_test)):
    arrays[f"{split}_labels"] = rng.integers(0, 5, n)
    arrays[f"{split}_img"] = rng.integers(0, 256, (n, 6, 5, 3), np.uint8)
    arrays[f"{split}_tags"] = rng.integers(0, 11, (n, 7)).astype(np.int16)
    arrays[f"{split}_vec"] = rng.normal(size=(n, 4)).astype(np.float32)
    present = rng.random(n) < 0.7
    arrays[f"{split}_mask_vec"] = present
    arrays[f"{split}_mask_img"] = ~present | (rng.random(n) < 0.5)
  return save_npz(path, arrays)


def _config(data_path, **kw):
  kw.setdefault("model_dir", "unused")
  return ExperimentConfig(dataset="records", data_path=str(data_path),
                          modalities=SPECS, **kw)


@pytest.fixture(name="converted", scope="module")
def _converted(tmp_path_factory):
  folder = tmp_path_factory.mktemp("records")
  source = write_npz(folder / "d.npz")
  splits = npz.load_npz(source, SPECS)
  out = str(folder / "shards")
  manifest = records.write(splits, SPECS, out, (4, 3), log=lambda *_: None)
  return splits, out, manifest


def _batches(dataset):
  return [{k: {m: t.numpy() for m, t in v.items()} if isinstance(v, dict)
           else v.numpy() for k, v in b.items()} for b in dataset]


def _same(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x["labels"].tolist() == y["labels"].tolist()
    for part in ("inputs", "masks"):
      for m in x[part]:
        np.testing.assert_array_equal(x[part][m], y[part][m])


def test_records_round_trip_gives_the_npz_batches(converted):
  (train, test), out, manifest = converted
  assert manifest["splits"]["train"]["examples"] == 203
  assert [s["examples"] for s in manifest["splits"]["train"]["shards"]] == [
      51, 51, 51, 50]
  assert manifest["stored"]["tags"] == {"dtype": "int16", "shape": [7]}
  assert manifest["stored"]["img"]["dtype"] == "uint8"
  assert manifest["fingerprint"] == fingerprint((train, test))
  config = _config(out, missing_rate=0.2, seed=3)
  r_train, r_test = records.load(config)
  assert r_train.stream is None  # one process: in memory
  for name, a, b in (("train", train, r_train), ("test", test, r_test)):
    for m in ("img", "tags", "vec"):
      np.testing.assert_array_equal(b.pools[m], np.asarray(a.pools[m]),
                                    err_msg=f"{name} {m}")
      assert b.pools[m].dtype == np.asarray(a.pools[m]).dtype
    np.testing.assert_array_equal(b.labels, a.labels)
    for m in ("img", "vec"):
      np.testing.assert_array_equal(b.masks[m], a.masks[m])
  # The same training batches under the same seed, with --missing_rate.
  names = config.modality_names
  for a, b in ((train, r_train),):
    pa = Pipeline(a.with_missing(0.2, 3, names), SPECS)
    pb = Pipeline(b.with_missing(0.2, 3, names), SPECS)
    for epoch in range(2):
      _same(_batches(pa.train_dataset(32, 6, 3, epoch)),
            _batches(pb.train_dataset(32, 6, 3, epoch)))
  _same(_batches(Pipeline(test, SPECS).eval_dataset(16)),
        _batches(Pipeline(r_test, SPECS).eval_dataset(16)))
  # The records name their own modalities and label kind.
  entry = registry.of("records", out)
  assert entry.specs() == SPECS and not entry.synthetic
  assert entry.label_kind == "class"


def test_a_large_test_split_is_read_to_memory_mapped_files(converted,
                                                           monkeypatch):
  """Above IN_MEMORY_BYTES of test shards, the stored modalities go to
  memory-mapped files as they are read (memory that does not grow with
  the split); the arrays, the checks and the evaluation batches are
  those of the in-memory read."""
  (_, test), out, _ = converted
  monkeypatch.setattr(records, "IN_MEMORY_BYTES", 0)
  r_train, r_test = records.load(_config(out))
  assert not isinstance(r_train.pools["img"], np.memmap)
  for m in ("img", "tags", "vec"):
    assert isinstance(r_test.pools[m], np.memmap), m
    np.testing.assert_array_equal(r_test.pools[m], np.asarray(test.pools[m]))
    assert r_test.pools[m].dtype == np.asarray(test.pools[m]).dtype
  np.testing.assert_array_equal(r_test.labels, test.labels)
  np.testing.assert_array_equal(r_test.masks["img"], test.masks["img"])
  assert fingerprint((r_train, r_test)) == fingerprint((r_train, test))
  _same(_batches(Pipeline(test, SPECS).eval_dataset(16)),
        _batches(Pipeline(r_test, SPECS).eval_dataset(16)))
  manifest = records.read_manifest(out)
  with pytest.raises(ValueError, match="whole split"):
    records.read_split(manifest, "test", first=3, spill=True)


def test_streaming_workers_read_disjoint_shards(converted):
  _, out, _ = converted
  train, test = records.load(_config(out, distribution="multi_worker"))
  stream = train.stream
  # Smaller than EVAL_SAMPLE: the whole split is the evaluation sample.
  assert stream.num_examples == 203 and len(train) == 203
  manifest = records.read_manifest(out)
  assert stream.fingerprint == manifest.fingerprint
  # A sample of 20: the first 5 records of each of the 4 shards, which the
  # writer's permutation (positions 0-19 of it) put there, in row order.
  sample = records.read_sample(manifest, examples=20)
  rows = np.sort(records.write_order(203, 0, "train")[:20])
  source, _ = converted[0]
  np.testing.assert_array_equal(sample.labels, source.labels[rows])
  for m in ("img", "tags", "vec"):
    np.testing.assert_array_equal(sample.pools[m], np.asarray(
        source.pools[m])[rows])
  np.testing.assert_array_equal(sample.masks["vec"], source.masks["vec"][rows])
  # bin/evaluate of a streamed run reads the same data whether the run
  # trained in one process (--stream_records) or on workers.
  one, one_test = records.load(_config(out, stream_records=True))
  for a, b in ((one, train), (one_test, test)):
    np.testing.assert_array_equal(a.labels, b.labels)
    for m in ("img", "tags", "vec"):
      np.testing.assert_array_equal(a.pools[m], b.pools[m])
  for workers in (1, 2, 3, 4):
    parts = [stream.shards_of(7, p, workers) for p in range(workers)]
    every = [s for part in parts for s in part]
    assert sorted(every) == sorted(p for p, _ in
                                   records.read_manifest(out).shards("train"))
    assert len(set(every)) == len(every)  # disjoint
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
  with pytest.raises(DataError, match="4 train shard.*cannot feed 5 workers"):
    stream.shards_of(7, 0, 5)


def test_a_stream_is_deterministic_and_resumes_where_it_stopped(converted):
  _, out, _ = converted
  train, _ = records.load(_config(out, distribution="multi_worker"))
  stream = train.stream.with_missing(0.3, [s.name for s in SPECS])

  def read(skip=0, pipeline=0):
    return _batches(stream.train_dataset(SPECS, 32, 8, seed=5, epoch=1,
                                         skip_steps=skip, pipeline=pipeline,
                                         num_pipelines=2))

  whole = read()
  assert len(whole) == 8 and all(len(b["labels"]) == 16 for b in whole)
  _same(whole, read())
  _same(whole[3:], read(skip=3))
  other = read(pipeline=1)
  assert any(a["labels"].tolist() != b["labels"].tolist()
             for a, b in zip(whole, other))
  masks = np.stack([np.concatenate([b["masks"][m] for b in whole])
                    for m in ("img", "tags", "vec")], 1)
  assert masks.any(1).all() and 0.1 < 1 - masks.mean() < 0.5
  tags = np.concatenate([b["inputs"]["tags"] for b in whole])
  present = np.concatenate([b["masks"]["tags"] for b in whole])
  assert tags.shape[1:] == (7, 11)  # tokens one-hot encoded
  np.testing.assert_array_equal(tags[present].sum(-1), 1.0)


def _with_damaged_shard(out, tmp_path, split, index, count, at=0.5):
  """(a copy of the records `out` whose shard `index` of `split` has one
  flipped byte, at the fraction `at` of its length; that shard's path)."""
  bad = str(tmp_path / "bad")
  shutil.copytree(out, bad)
  shard = os.path.join(bad, records.shard_name(split, index, count))
  data = bytearray(open(shard, "rb").read())
  data[int(len(data) * at)] ^= 0xFF
  open(shard, "wb").write(bytes(data))
  return bad, shard


def test_a_damaged_shard_or_manifest_is_one_error_naming_the_file(
    converted, tmp_path):
  _, out, _ = converted
  bad, shard = _with_damaged_shard(out, tmp_path, "test", 1, 3)
  with pytest.raises(DataError, match=f"{shard} is damaged"):
    records.load(_config(bad))
  # A manifest whose counts disagree with its shards.
  manifest_path = os.path.join(bad, records.MANIFEST)
  values = json.load(open(manifest_path))
  values["splits"]["test"]["shards"][1] = dict(
      file=records.shard_name("test", 2, 3), examples=13)
  values["splits"]["test"]["shards"][2]["examples"] = 14
  json.dump(values, open(manifest_path, "w"))
  with pytest.raises(DataError, match="holds 13 examples.*says 14"):
    records.load(_config(bad))
  open(manifest_path, "w").write("{")
  with pytest.raises(DataError, match=f"{manifest_path} is damaged"):
    records.read_manifest(bad)
  with pytest.raises(DataUnavailableError, match="no manifest.json"):
    records.read_manifest(str(tmp_path))
  other = dataclasses.replace(SPECS[2], shape=(5,))
  with pytest.raises(DataError, match="the run expects"):
    records.load(ExperimentConfig(dataset="records", data_path=out,
                                  modalities=SPECS[:2] + (other,),
                                  model_dir="unused"))


@pytest.mark.slow
def test_make_records_then_train_and_evaluate_from_them(tmp_path, cache_dir):
  out = str(tmp_path / "shards")
  made = run_bin("make_records", TINY + [f"--out={out}", "--train_shards=3"],
                 cache_dir)
  assert made.returncode == 0, made.stderr
  assert "2000 train examples in 3 shard(s)" in made.stdout
  again = run_bin("make_records", TINY + [f"--out={out}"], cache_dir)
  assert again.returncode == 2 and "already holds records" in error_line(
      again.stderr)
  manifest = json.load(open(os.path.join(out, records.MANIFEST)))
  # The words are made from the label (redrawn each epoch), not stored.
  assert manifest["synthetic"] and "text" not in manifest["stored"]
  assert manifest["derived"] == {"text": {
      "kind": "mst_digit_text", "fixed": {"train": False, "test": True}}}
  bench = run_bin("benchmark", [f"--flagfile={REPO}/configs/base.flags",
                                "--dataset=records", f"--data_path={out}",
                                "--mode=end_to_end", "--batch_size=64",
                                "--steps=2", "--repeats=1", "--warmup=1"],
                  cache_dir)
  assert bench.returncode == 0, bench.stderr[-3000:]
  table = json.loads(bench.stdout.strip().splitlines()[-1])["inputs"]
  for name in ("in memory", "records, streamed"):
    assert table[name]["input_only_examples_per_second"] > 0
    assert table[name]["examples_per_second"]["median"] > 0
    assert re.search(rf"{name} +\d+ +\d+", bench.stdout), bench.stdout
  model_dir = str(tmp_path / "run")
  args = [f"--flagfile={REPO}/configs/base.flags", "--dataset=records",
          f"--data_path={out}", "--batch_size=64", "--epochs=1",
          "--probe_train_examples=500", "--num_sample_columns=4",
          f"--model_dir={model_dir}"]
  trained = run_bin("train", args, cache_dir)
  assert trained.returncode == 0, trained.stderr[-3000:]
  result = summary(model_dir)
  assert result["steps"] == 31 and result["train_examples"] == 2000
  assert result["latent_probe"]["poe"]["text"] > 0.5
  config = json.load(open(os.path.join(model_dir, "config.json")))
  assert [m["name"] for m in config["modalities"]] == ["mnist", "svhn", "text"]
  # Moved records are accepted by their fingerprint.
  moved = str(tmp_path / "moved")
  os.rename(out, moved)
  evaluated = run_bin("evaluate", [f"--model_dir={model_dir}",
                                   f"--data_path={moved}",
                                   "--likelihood_examples=100",
                                   "--quality_examples=200",
                                   "--classifier_epochs=1"], cache_dir)
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  missing = run_bin("train", args[:-1] + [f"--model_dir={tmp_path}/new"],
                    cache_dir)
  assert missing.returncode == 2
  assert "no manifest.json there" in error_line(missing.stderr)


def test_attribute_labels_and_object_store_paths_round_trip():
  """int8 attribute labels [N, K] keep their dtype (so the fingerprint
  holds), and records live on ram:// (the code path of gs://)."""
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  splits = []
  for n in (30, 9):
    labels = rng.integers(-1, 2, (n, 5)).astype(np.int8)
    pools = {"vec": rng.normal(size=(n, 4)).astype(np.float32)}
    splits.append(Split(pools=pools, indices={"vec": np.arange(n)},
                        labels=labels))
  specs = (SPECS[2],)
  out = f"ram://records_{rng.integers(1 << 30)}"
  attributes = registry.Dataset("attrs", None, None, label_kind="attributes",
                                attribute_names=tuple("abcde"))
  manifest = records.write(splits, specs, out, (3, 2), dataset=attributes,
                           log=lambda *_: None)
  assert manifest["label_dtype"] == "int8" and manifest["label_shape"] == [5]
  config = ExperimentConfig(dataset="records", data_path=out,
                            modalities=specs, model_dir="unused")
  train, test = records.load(config)
  assert train.labels.dtype == np.int8
  np.testing.assert_array_equal(train.labels, splits[0].labels)
  np.testing.assert_array_equal(test.pools["vec"], splits[1].pools["vec"])
  entry = registry.of("records", out)
  assert entry.label_kind == "attributes" and entry.attribute_names == tuple(
      "abcde")


@pytest.mark.slow
def test_a_shard_damaged_after_the_start_stops_a_worker_naming_it(
    tmp_path, cache_dir):
  """60,000 examples in 4 shards: start-up reads the evaluation sample
  (the first 12,500 records of each shard); a byte flipped at 95% of a
  shard is met during training. With its checksum in the manifest the
  pre-flight refuses that shard before anything starts; without (a
  manifest of an earlier release) the worker stops when it meets it."""
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(2)
  splits = [Split(pools={"vec": rng.normal(size=(n, 4)).astype(np.float32)},
                  indices={"vec": np.arange(n)}, labels=np.arange(n) % 5)
            for n in (60_000, 50)]
  out = str(tmp_path / "records")
  records.write(splits, (SPECS[2],), out, (4, 1), log=lambda *_: None)
  assert records.sample_per_shard(records.read_manifest(out)) == 12_500
  bad, shard = _with_damaged_shard(out, tmp_path, "train", 2, 4, at=0.95)
  args = ["--num_workers=1", "--", "--dataset=records", f"--data_path={bad}",
          "--batch_size=256", "--epochs=1", "--latent_dim=4",
          f"--model_dir={tmp_path}/run"]
  refused = run_bin("train_local_cluster", args, cache_dir)
  assert refused.returncode == 2, refused.stderr[-2000:]
  assert re.search(f"{shard} is not the shard .* lists \\(its SHA-256 "
                   "differs", error_line(refused.stderr))
  assert not os.path.exists(tmp_path / "run")
  manifest = os.path.join(bad, records.MANIFEST)
  values = json.load(open(manifest))
  for entry in values["splits"]["train"]["shards"]:
    del entry["sha256"], entry["bytes"]
  json.dump(values, open(manifest, "w"))
  run = run_bin("train_local_cluster", args, cache_dir)
  assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
  assert re.search(r"error: a train shard of .*bad is damaged \(.*\); this "
                   r"worker reads .*train-00002-of-00004.tfrecord",
                   run.stdout + run.stderr), run.stdout[-2000:]
  assert "Traceback" not in run.stdout + run.stderr


def _class_sorted_records(folder, n, shuffle):
  """Records of n examples sorted by class (n/10 of class 0, then class
  1, ...) in 8 train shards; each example is the vector [label, row]."""
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  spec = parse_modality("v:2:normal:mlp")
  labels = np.repeat(np.arange(10), n // 10)
  train = Split(pools={"v": np.stack([labels, np.arange(n)], 1).astype(
      np.float32)}, indices={"v": np.arange(n)}, labels=labels)
  test = Split(pools={"v": np.zeros((10, 2), np.float32)},
               indices={"v": np.arange(10)}, labels=np.arange(10))
  records.write((train, test), [spec], str(folder), (8, 1),
                log=lambda *_: None, shuffle=shuffle)
  return str(folder), spec


def _global_batches(out, spec, workers=2, batch=256):
  """The labels [steps, batch] and rows of one epoch's global batches,
  each the parts of `workers` streams side by side."""
  stream = records.Stream(records.read_manifest(out))
  steps = stream.num_examples // batch
  parts = [list(stream.train_dataset([spec], batch, steps, seed=0, epoch=0,
                                     pipeline=p, num_pipelines=workers))
           for p in range(workers)]
  labels = np.stack([np.concatenate([b["labels"].numpy() for b in step])
                     for step in zip(*parts)])
  rows = np.concatenate([b["inputs"]["v"].numpy()[:, 1] for part in parts
                         for b in part])
  return labels, rows


@pytest.mark.slow
def test_class_sorted_data_stream_with_the_class_mix_of_a_global_shuffle(
    tmp_path):
  """200,000 examples sorted by class, 8 shards, 2 workers: every global
  batch of 256 holds at least 8 of the 10 classes and none above 25% (a
  global shuffle gives 10 and about 13%); in the writer's old order (the
  split's own), the 10,000-example shuffle buffer leaves batches of few
  classes."""
  n = 200_000
  out, spec = _class_sorted_records(tmp_path / "permuted", n, shuffle=True)
  labels, rows = _global_batches(out, spec)
  counts = np.stack([np.bincount(b, minlength=10) for b in labels])
  assert len(counts) == n // 256
  assert (counts > 0).sum(1).min() >= 8, (counts > 0).sum(1).min()
  assert counts.max() / 256 <= 0.25, counts.max() / 256
  assert len(np.unique(rows)) == len(rows)  # each example once an epoch
  old, _ = _class_sorted_records(tmp_path / "split_order", n, shuffle=False)
  labels, _ = _global_batches(old, spec)
  counts = np.stack([np.bincount(b, minlength=10) for b in labels])
  assert (counts > 0).sum(1).min() < 8 and counts.max() / 256 > 0.25


def _words(batch):
  from tf_mmjsd.data import text  # pylint: disable=g-import-not-at-top
  ids = np.argmax(batch["inputs"]["text"], -1)
  return ["".join(text.ALPHABET[i] for i in row) for row in ids]


def test_digit_words_are_made_from_labels_and_redrawn_every_epoch(
    tmp_path, tiny_config):
  """MNIST-SVHN-Text records store the label, not the word: in memory
  they give exactly synthetic_mst's batches (words included); streamed,
  every word is its label's and the words' positions change by epoch."""
  from tf_mmjsd import data as data_lib  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.mst import digit_text  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  train, test = data_lib.load_splits(config)
  out = str(tmp_path / "r")
  records.write((train, test), config.modalities, out, (4, 2), seed=3,
                log=lambda *_: None)
  on_records = config.with_settings(dataset="records", data_path=out)
  r_train, r_test = records.load(on_records)
  specs = config.modalities
  for epoch in range(2):
    _same(_batches(Pipeline(train, specs).train_dataset(32, 5, 3, epoch)),
          _batches(Pipeline(r_train, specs).train_dataset(32, 5, 3, epoch)))
  _same(_batches(Pipeline(test, specs).eval_dataset(50)),
        _batches(Pipeline(r_test, specs).eval_dataset(50)))
  stream = records.load(dataclasses.replace(
      on_records, stream_records=True))[0].stream
  n = stream.num_examples
  epochs = []
  for epoch in range(2):
    (batch,) = _batches(stream.train_dataset(specs, n, 1, 3, epoch))
    words = _words(batch)
    for label, word in zip(batch["labels"], words):
      assert word.strip() == digit_text.DIGIT_WORDS[label]
    epochs.append(sorted(zip(batch["labels"].tolist(), words)))
  assert [w for _, w in epochs[0]] != [w for _, w in epochs[1]]


@pytest.mark.slow
def test_one_process_streams_and_resumes_mid_epoch_to_the_same_weights(
    converted, tmp_path):
  """--stream_records in one process: an uninterrupted run and one stopped
  at step 9 of 12 (mid-epoch) and resumed end with identical weights."""
  import signal  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import errors, run_checkpoints, training  # pylint: disable=g-import-not-at-top
  _, out, _ = converted

  def trainer(name):
    config = _config(out, stream_records=True, batch_size=32, epochs=2,
                     steps_per_epoch=6, checkpoint_every_steps=3,
                     keep_checkpoints=10, latent_dim=4, missing_rate=0.2,
                     model_dir=str(tmp_path / name))
    t = training.Trainer(config, log=lambda *_: None)
    t.restore()
    return t

  def weights(t):
    return {k: v.numpy() for k, v in
            run_checkpoints.variables_by_path(t.model).items()}

  whole = trainer("whole")
  assert whole.data.train_split.stream is not None
  whole.train()
  whole.release()
  stopped = trainer("stopped")
  save = stopped.checkpoints.save

  def save_then_stop(step):
    save(step)
    if step == 9:
      stopped.stop.signum = signal.SIGTERM

  stopped.checkpoints.save = save_then_stop
  with pytest.raises(errors.Interrupted, match="at step 9 of 12"):
    stopped.train()
  stopped.release()
  resumed = trainer("stopped")
  assert resumed.step == 9
  resumed.train()
  resumed.release()
  expected, got = weights(whole), weights(resumed)
  assert expected.keys() == got.keys()
  for k in expected:
    np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


# Runs bin/train and writes its peak resident memory (VmHWM: that of the
# program alone; getrusage's ru_maxrss would include the RSS of the
# process it was forked from, here the test session) to argv[1].
_MEASURED = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
  for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
      open(out, "w").write(str(int(line.split()[1]) * 1024))
atexit.register(peak)
sys.argv = sys.argv[1:]  # bin/train and its flags
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _peak_rss(args, cache_dir, out):
  """(exit code, peak resident memory in bytes) of bin/train with args."""
  env = dict(os.environ, TF_MMJSD_CACHE=cache_dir, TF_CPP_MIN_LOG_LEVEL="2")
  done = subprocess.run([sys.executable, "-c", _MEASURED, str(out),
                         os.path.join(REPO, "bin", "train")] + args, env=env,
                        cwd=REPO, capture_output=True, text=True,
                        timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  return int(open(out).read())


@pytest.mark.process
@pytest.mark.slow
def test_one_process_streaming_memory_does_not_grow_with_the_examples(
    tmp_path, cache_dir):
  """Peak memory of bin/train --stream_records over a whole epoch of
  50,000 and of 200,000 examples of 1 KiB differ by less than 10%; held
  in memory, the larger one needs more than 10% more (so the measure can
  tell)."""
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  spec = parse_modality("v:256:normal:mlp")
  rng = np.random.default_rng(0)
  test = Split(pools={"v": rng.normal(size=(500, 256)).astype(np.float32)},
               indices={"v": np.arange(500)}, labels=np.arange(500) % 10)
  folders = {}
  for n in (50_000, 200_000):
    train = Split(pools={"v": rng.normal(size=(n, 256)).astype(np.float32)},
                  indices={"v": np.arange(n)}, labels=np.arange(n) % 10)
    folders[n] = str(tmp_path / f"r{n}")
    records.write((train, test), [spec], folders[n], (8, 1),
                  log=lambda *_: None)
    del train

  def peak(n, stream):
    return _peak_rss([
        "--dataset=records", f"--data_path={folders[n]}", "--batch_size=256",
        "--epochs=1", "--latent_dim=4", "--probe_train_examples=500",
        "--num_sample_columns=2", f"--model_dir={tmp_path}/run_{n}_{stream}"]
                     + (["--stream_records"] if stream else []), cache_dir,
                     tmp_path / f"peak_{n}_{stream}")

  small, large = peak(50_000, True), peak(200_000, True)
  assert abs(large - small) / small < 0.10, (small, large)
  assert peak(200_000, False) > 1.10 * large


@pytest.mark.process
@pytest.mark.slow
def test_make_records_converts_memory_mapped_data_larger_than_its_memory_limit(
    tmp_path):
  """A folder of .npy files (600 MB of uint8 images) converted by a
  process whose data memory (RLIMIT_DATA: heap and anonymous mappings,
  not the memory-mapped files) may grow by 256 MB only; the records read
  back equal the source."""
  folder = tmp_path / "npy"
  folder.mkdir()
  n, shape = 150_000, (50, 40, 2)  # 4,000 bytes an example
  images = np.lib.format.open_memmap(str(folder / "train_img.npy"), "w+",
                                     np.uint8, (n,) + shape)
  for start in range(0, n, 10_000):
    rows = np.arange(start, min(n, start + 10_000))
    images[rows] = ((rows[:, None] * 7 + np.arange(4000)) % 251).astype(
        np.uint8).reshape((-1,) + shape)
  images.flush()
  del images
  labels = np.repeat(np.arange(10), n // 10)  # sorted by class
  np.save(folder / "train_labels.npy", labels)
  np.save(folder / "test_img.npy", np.zeros((20,) + shape, np.uint8))
  np.save(folder / "test_labels.npy", np.arange(20) % 10)
  out = str(tmp_path / "records")
  budget = 256 << 20
  script = f"""
import resource, sys
import numpy as np
import tf_mmjsd
import tensorflow as tf
from tf_mmjsd.data import npz, records
from tf_mmjsd.data.specs import parse_modality
def data_bytes():
  for line in open("/proc/self/status"):
    if line.startswith("VmData:"):
      return int(line.split()[1]) * 1024
limit = data_bytes() + {budget}
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
specs = [parse_modality("img:50x40x2:laplace:mlp")]
splits = npz.load_npz(sys.argv[1], specs)
records.write(splits, specs, sys.argv[2], (4, 1), log=lambda *a: None)
print("written")
try:
  np.ones({budget * 2}, np.uint8)
except MemoryError:
  print("the limit holds")
"""
  done = subprocess.run([sys.executable, "-c", script, str(folder), out],
                        capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.split() == ["written", "the", "limit", "holds"]
  manifest = records.read_manifest(out)
  train = records.read_split(manifest, "train")
  source = np.load(folder / "train_img.npy", mmap_mode="r")
  for start in range(0, n, 25_000):
    np.testing.assert_array_equal(train.pools["img"][start:start + 25_000],
                                  source[start:start + 25_000])
  np.testing.assert_array_equal(train.labels, labels)


def test_epochs_shorter_than_a_pass_go_on_through_the_data(tmp_path):
  """--steps_per_epoch below a pass: epoch e starts each shard where epoch
  e - 1 left it, so ten epochs of 2,000 examples reach far more of 40,000
  than the 12,000 (10,000 in the shuffle buffer + 2,000) that restarting
  every shard each epoch would read (at most 12,000 distinct examples;
  14,715 with this seed)."""
  out, spec = _class_sorted_records(tmp_path / "r", 40_000, shuffle=True)
  stream = records.Stream(records.read_manifest(out))
  rows = set()
  for epoch in range(10):
    for batch in stream.train_dataset([spec], 100, 20, seed=0, epoch=epoch):
      rows.update(batch["inputs"]["v"].numpy()[:, 1].astype(int).tolist())
  assert len(rows) > 13_000, len(rows)
