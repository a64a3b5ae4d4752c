"""Bad inputs, third table: the classes of hostile or careless input that
every program answers the same way, one `error:` line, exit code 2 and
nothing written, because one mechanism closes each class:

  paths on a store that fails   preflight.check_flags -> files.check_remote
  (gs:// unreachable, unknown   (every program x every path flag below)
  scheme)
  control characters, names     preflight.check_flags
  out-of-range program numbers  absl bounds of the programs' flags
  streamed records              records.check_stored / check_streamed in
                                the pre-flight (launcher and every worker)
  data read as something else   specs.whole_numbers, npz._check_labels
"""

import hashlib
import json
import os
import re
import shutil
import time

import numpy as np
import pytest

from tests.harness import (check_bad_input,
                           check_usage_errors_before_tensorflow, error_line,
                           run_bin, save_npz)
from tf_mmjsd import cli, files, preflight
from tf_mmjsd.data import records
from tf_mmjsd.data.specs import parse_modality
from tf_mmjsd.data.split import Split

PROGRAMS = ("train", "evaluate", "export", "compare", "benchmark",
            "make_records", "make_example_data", "train_classifiers",
            "train_local_cluster")
# A bucket nobody should own; on a machine without the internet (the test
# machines) the store cannot be reached, elsewhere there is no such bucket
# or no credentials: every answer is a usage error.
GS = "gs://tf-mmjsd-no-such-bucket-5e0c1a/x"
GS_ANSWERS = (r"(the store cannot be reached|no credentials|no answer from "
              r"the store|there is no bucket)")
STORES = (("unreachable gs", GS, GS_ANSWERS),
          ("unknown scheme", "foo://x/y",
           r"foo:// is not a file system TensorFlow knows"))
# Seconds a store may take to answer in these tests.
TIMEOUT = 5


def _path_flags(program):
  own = "train" if program == "train_local_cluster" else program
  fv = cli.flag_values(cli.program_module(own))
  return [f for f in preflight.path_flags() if f in fv] + ["flagfile"]


def _store_case(program, flag, store):
  name, value, answer = store
  arg = f"--{flag}={value}"
  args = ["--", arg] if program == "train_local_cluster" else [arg]
  return (f"{program} --{flag} {name}", program, args, None, 2,
          f"--{flag}={re.escape(value)}: {answer}")


STORE_CASES = [_store_case(p, f, s) for p in PROGRAMS
               for f in _path_flags(p) for s in STORES]


def test_every_program_and_path_flag_is_in_the_store_table():
  assert {c[1] for c in STORE_CASES} == set(PROGRAMS)
  assert len(STORE_CASES) >= 2 * 9 * 2
  for flag in ("model_dir", "data_path", "out", "export_dir", "flagfile",
               "compare_dir", "checkpoint"):
    assert any(f" --{flag} " in c[0] for c in STORE_CASES), flag


@pytest.mark.parametrize("case", STORE_CASES, ids=[c[0] for c in STORE_CASES])
def test_a_path_on_a_store_that_fails_is_one_line_in_bounded_time(
    case, tmp_path, cache_dir):
  start = time.monotonic()
  check_bad_input(case, tmp_path, cache_dir,
                  extra_env={"TF_MMJSD_REMOTE_TIMEOUT": str(TIMEOUT)})
  # The bound is the store's time limit (plus start-up), not a speed goal.
  assert time.monotonic() - start < TIMEOUT + 20


def _fake_store(monkeypatch, answer):
  """files.exists of gs:// paths replaced by `answer(path)`."""
  monkeypatch.setattr(files, "exists", answer)


def test_check_remote_names_each_cause(monkeypatch):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def fails(error):
    def answer(path):
      raise error
    return answer

  causes = [
      (tf.errors.FailedPreconditionError(None, None, (
          "Error executing an HTTP request: libcurl code 6 meaning 'Could not "
          "resolve hostname'")), r"^the store cannot be reached from this "
       r"machine \(Error executing"),
      (tf.errors.PermissionDeniedError(None, None, "HTTP 401: Anonymous "
                                       "caller does not have access"),
       r"^no credentials, or they are refused .*gcloud auth "
       r"application-default login"),
      (tf.errors.UnimplementedError(None, None, "File system scheme 'gs' "
                                    "not implemented"),
       r"^this TensorFlow has no file system for that scheme$")]
  for error, pattern in causes:
    _fake_store(monkeypatch, fails(error))
    with pytest.raises(files.UnusablePathError, match=pattern):
      files.check_remote("gs://b/x", timeout=5)
  _fake_store(monkeypatch, lambda path: path != "gs://b")
  with pytest.raises(files.UnusablePathError,
                     match=r"there is no bucket gs://b \(or these"):
    files.check_remote("gs://b/x", timeout=5)
  _fake_store(monkeypatch, lambda path: path == "gs://b")
  assert files.check_remote("gs://b/x", timeout=5) is False
  monkeypatch.setattr(files.importlib.util, "find_spec", lambda name: None)
  with pytest.raises(files.UnusablePathError,
                     match=r"s3:// needs the tensorflow-io package, which is "
                     r"not installed \(pip install tensorflow-io\)"):
    files.check_remote("s3://b/x")


def test_a_store_that_never_answers_is_given_up_after_its_time_limit(
    monkeypatch, cache_dir):
  _fake_store(monkeypatch, lambda path: time.sleep(30))
  start = time.monotonic()
  out = run_bin("train", ["--model_dir=gs://b/run"], cache_dir,
                extra_env={"TF_MMJSD_REMOTE_TIMEOUT": "0.5"})
  assert out.returncode == 2
  assert re.search(r"error: --model_dir=gs://b/run: no answer from the store "
                   r"within 0.5 s \(TF_MMJSD_REMOTE_TIMEOUT\)",
                   error_line(out.stderr))
  assert time.monotonic() - start < 10  # not the 30 s the store takes


# ------------------------------------------------------- streamed records

SPEC = parse_modality("vec:4:normal:mlp")
RECORDS_RUN = ["--dataset=records", "--batch_size=32", "--latent_dim=4",
               "--model_dir={tmp}/run"]


def _write_records(folder, seed, train_shards=4):
  rng = np.random.default_rng(seed)
  splits = [Split(pools={"vec": rng.normal(size=(n, 4)).astype(np.float32)},
                  indices={"vec": np.arange(n)}, labels=np.arange(n) % 5)
            for n in (400, 40)]
  records.write(splits, (SPEC,), str(folder), (train_shards, 1),
                log=lambda *_: None)
  return str(folder)


@pytest.fixture(name="two_records", scope="module")
def _two_records(tmp_path_factory):
  """Two records folders of the same modality and sizes, different data."""
  root = tmp_path_factory.mktemp("records")
  return _write_records(root / "ours", 0), _write_records(root / "theirs", 1)


def _records(two_records, edit):
  """A setup: a copy of our records in tmp/r, changed by edit(folder)."""
  def setup(tmp):
    folder = str(tmp / "r")
    shutil.copytree(two_records[0], folder)
    edit(folder)
    return [f"--data_path={folder}"]
  return setup


def _shard(folder, index):
  return os.path.join(folder, records.shard_name("train", index, 4))


def _foreign(two_records, index):
  def edit(folder):
    shutil.copyfile(_shard(two_records[1], index), _shard(folder, index))
  return edit


def _flipped(index):
  """One byte of a record's data changed: same size, same records."""
  def edit(folder):
    data = bytearray(open(_shard(folder, index), "rb").read())
    data[40] ^= 0xFF  # inside the first record's features
    open(_shard(folder, index), "wb").write(bytes(data))
  return edit


def _miscounted(folder):
  """The manifest moves one example from shard 0's count to shard 1's."""
  path = os.path.join(folder, records.MANIFEST)
  values = json.load(open(path))
  shards = values["splits"]["train"]["shards"]
  shards[0]["examples"] -= 1
  shards[1]["examples"] += 1
  json.dump(values, open(path, "w"))


def _records_cases(two_records):
  launcher = ["--num_workers=2", "--"] + RECORDS_RUN
  foreign = r"train-00001-of-00004.tfrecord (has \d+ bytes; .* says|is not " \
            r"the shard)"
  return [
      ("launcher: a foreign train shard", "train_local_cluster", launcher,
       _records(two_records, _foreign(two_records, 1)), 2, foreign),
      ("launcher: a shard changed in place", "train_local_cluster", launcher,
       _records(two_records, _flipped(2)), 2,
       r"train-00002-of-00004.tfrecord is not the shard .*SHA-256 differs"),
      ("launcher: a manifest whose counts disagree", "train_local_cluster",
       launcher, _records(two_records, _miscounted), 2,
       r"train-0000[01]-of-00004.tfrecord holds \d+ examples; .*says \d+: "
       r"the records and their manifest disagree"),
      ("launcher: 4 shards cannot feed 5 workers", "train_local_cluster",
       ["--num_workers=5", "--"] + RECORDS_RUN,
       _records(two_records, lambda folder: None), 2,
       r"4 train shard\(s\) in .* cannot feed 5 workers; write at least 5"),
      ("one process streaming a foreign shard", "train",
       RECORDS_RUN + ["--stream_records"],
       _records(two_records, _foreign(two_records, 3)), 2,
       r"train-00003-of-00004.tfrecord (has \d+ bytes|is not the shard)"),
  ]


def _tf_config(workers, index):
  return json.dumps({"cluster": {"worker": [f"127.0.0.1:{20000 + i}"
                                            for i in range(workers)]},
                     "task": {"type": "worker", "index": index}})


def _worker_cases(two_records):
  """Workers started by a cluster manager (TF_CONFIG set): each checks what
  it reads; the chief refuses before it writes."""
  manifest = records.read_manifest(two_records[0])
  read_by_1 = records.Stream(manifest).shards_of(0, 1, 2)
  index = int(os.path.basename(read_by_1[0]).split("-")[1])
  worker = RECORDS_RUN + ["--distribution=multi_worker"]
  return [
      ("worker 1 of 2 reading a foreign shard", "train", worker,
       _records(two_records, _foreign(two_records, index)), 2,
       rf"train-0000{index}-of-00004.tfrecord (has \d+ bytes|is not the "
       "shard)", _tf_config(2, 1)),
      ("the chief of 2 with a manifest whose counts disagree", "train",
       worker, _records(two_records, _miscounted), 2,
       r"holds \d+ examples; .*says \d+", _tf_config(2, 0)),
      ("the chief of 5 workers on 4 shards", "train", worker,
       _records(two_records, lambda folder: None), 2,
       r"4 train shard\(s\) in .* cannot feed 5 workers", _tf_config(5, 0)),
  ]


def test_streamed_records_are_checked_before_anything_is_written(
    two_records, tmp_path, cache_dir):
  for number, case in enumerate(_records_cases(two_records)):
    folder = tmp_path / f"case{number}"
    folder.mkdir()
    check_bad_input(case, folder, cache_dir)
    assert not os.path.exists(folder / "run"), case[0]


def test_an_interrupted_make_records_leaves_no_shard(tmp_path, monkeypatch):
  """A signal while the test split is written: the train split's finished
  shards go too (nothing without a manifest is left)."""
  from tf_mmjsd import errors  # pylint: disable=g-import-not-at-top
  written = []
  real = records._write_shards  # pylint: disable=protected-access

  def interrupted_on_test(split, name, *args):
    if name == "test":
      written.extend(os.listdir(tmp_path / "r"))
      raise errors.Interrupted("stopped by SIGTERM", 15)
    return real(split, name, *args)

  monkeypatch.setattr(records, "_write_shards", interrupted_on_test)
  with pytest.raises(errors.Interrupted):
    _write_records(tmp_path / "r", 0)
  assert sorted(written) == [records.shard_name("train", i, 4) + ".partial"
                             for i in range(4)]
  assert os.listdir(tmp_path / "r") == []


def test_the_manifest_records_each_shards_size_and_checksum(two_records):
  manifest = records.read_manifest(two_records[0])
  for path, _ in manifest.shards("train") + manifest.shards("test"):
    entry = next(e for s in manifest.values["splits"].values()
                 for e in s["shards"] if e["file"] == os.path.basename(path))
    scanned = records.scan_shard(path)
    assert entry["bytes"] == scanned["bytes"] == os.path.getsize(path)
    assert entry["sha256"] == scanned["sha256"] == hashlib.sha256(
        open(path, "rb").read()).hexdigest()
    assert records.count_records(path) == scanned["records"] == entry[
        "examples"]


# ------------------------------------------------- the other classes


def _modalities_file(entries):
  def setup(tmp):
    (tmp / "m.json").write_text(json.dumps(entries))
    return [f"--modalities_file={tmp}/m.json"]
  return setup


def _plus_minus_one_labels(tmp):
  rng = np.random.default_rng(0)
  arrays = {}
  for split in ("train", "test"):
    arrays[f"{split}_a"] = rng.random((20, 6)).astype(np.float32)
    arrays[f"{split}_labels"] = np.where(rng.random(20) < 0.5, -1, 1)
  save_npz(tmp / "pm.npz", arrays)
  return [f"--data_path={tmp}/pm.npz"]


NPZ = ["--dataset=npz", "--model_dir={tmp}/run"]
CASES = [
    ("make_example_data seed below 0", "make_example_data",
     ["--seed=-1", "--out={tmp}/d.npz"], None, 2,
     r"flag --seed=-1: -1 is not an integer in the range \[0, 2147483647\]"),
    ("benchmark of no steps", "benchmark", ["--steps=0"], None, 2,
     r"flag --steps=0: 0 is not a positive integer"),
    ("compare report inside folders", "compare",
     ["--compare_dir={tmp}/c", "--report=no/such/r"], None, 2,
     r"--report='no/such/r' must be a file name \(no folders\)"),
    ("a newline in model_dir", "train",
     ["--flagfile=configs/quickstart.flags", "--model_dir={tmp}/a\nb"],
     None, 2, r"--model_dir='.*/a\\nb' holds the control character '\\n'"),
    ("a tab in a modality", "train",
     NPZ + ["--modality=a\t:6:normal:mlp"], None, 2,
     r"--modality='a\\t:6:normal:mlp' holds the control character '\\t'"),
    ("an escape in make_records --out", "make_records",
     ["--out={tmp}/r\x1b[2J"], None, 2,
     r"--out='.*/r\\x1b\[2J' holds the control character '\\x1b'"),
    ("a shape of 4.5 in a modalities file", "train", NPZ,
     _modalities_file([{"name": "a", "shape": [4.5], "likelihood": "normal",
                        "network": "mlp"}]), 2,
     r"m.json, modality 'a': field 'shape' takes whole numbers, got \[4.5\]"),
    ("a hidden size of true in a modalities file", "train", NPZ,
     _modalities_file([{"name": "a", "shape": [4], "likelihood": "normal",
                        "network": "mlp", "hidden": [True]}]), 2,
     r"field 'hidden' must be a positive integer, got True"),
    ("labels in -1 and +1", "train",
     NPZ + ["--modality=a:6:normal:mlp"], _plus_minus_one_labels, 2,
     r"pm.npz: train_labels hold only -1 and 1\. Here labels are the classes "
     r"0, 1, \.\.\., and -1 marks an example without a label.*write them as "
     r"0 and 1"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_careless_input_gets_one_error_line_and_changes_nothing(
    case, tmp_path, cache_dir):
  check_bad_input(case, tmp_path, cache_dir)


def test_a_file_named_like_a_version_takes_its_number(tmp_path):
  from tf_mmjsd import export  # pylint: disable=g-import-not-at-top
  (tmp_path / "1").write_text("not a version")
  (tmp_path / "notes").mkdir()
  assert export.next_version(str(tmp_path)) == 2


@pytest.mark.slow
def test_a_refused_evaluation_writes_no_events_file(tiny_run, tmp_path,
                                                   cache_dir):
  """Classifiers of other data are found after the model is restored:
  the run folder is left as it was (no empty TensorBoard events file)."""
  from tests.harness import tree  # pylint: disable=g-import-not-at-top
  run = tmp_path / "run"
  shutil.copytree(tiny_run, run)
  (tmp_path / "classifiers").mkdir()
  (tmp_path / "classifiers" / "classifiers.json").write_text(
      json.dumps({"data": {"dataset": "other"}}))
  before = tree(tmp_path)
  out = run_bin("evaluate", [f"--model_dir={run}",
                             f"--classifier_dir={tmp_path}/classifiers"],
                cache_dir)
  assert out.returncode == 2, out.stderr[-2000:]
  assert re.search(r"the classifiers in .*classifiers were trained on other "
                   r"data", error_line(out.stderr))
  assert tree(tmp_path) == before


def test_programs_that_do_not_train_leave_tf_config_alone(two_records,
                                                          monkeypatch):
  """bin/evaluate of a run trained on workers has no TF_CONFIG: only
  training reads it."""
  from tf_mmjsd.config import ExperimentConfig  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.tf_config import DistributionError  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv("TF_CONFIG", raising=False)
  config = ExperimentConfig(dataset="records", data_path=two_records[0],
                            modalities=(SPEC,), model_dir="unused",
                            distribution="multi_worker")
  preflight.data(config)
  with pytest.raises(DistributionError, match="needs the TF_CONFIG"):
    preflight.training(config)


@pytest.mark.parametrize("value", ["runs/a\u2028b", "runs/a\x85b",
                                   "runs/a\rb", "runs/a\x7fb"])
def test_every_line_break_is_a_control_character(value):
  from tf_mmjsd import errors  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.UsageError, match="holds the control character"):
    preflight.check_value("model_dir", value)
  preflight.check_value("model_dir", "runs/été 2026")  # not these


def test_sizes_are_decimal_digits_only():
  from tf_mmjsd.data import specs  # pylint: disable=g-import-not-at-top
  with pytest.raises(specs.SpecError, match="must look like 64x64x1"):
    specs.parse_modality("x:2x\u00b2:normal:mlp")
  assert specs.parse_modality("x:2x3:normal:mlp").shape == (2, 3)
  assert specs.ModalitySpec("x", np.array([2, 3]), "normal",
                            "mlp").shape == (2, 3)


def test_a_bad_store_time_limit_is_a_usage_error(cache_dir):
  out = run_bin("train", ["--model_dir=gs://b/run"], cache_dir,
                extra_env={"TF_MMJSD_REMOTE_TIMEOUT": "soon"})
  assert out.returncode == 2
  assert re.search(r"TF_MMJSD_REMOTE_TIMEOUT='soon' must be a positive "
                   r"number of seconds", error_line(out.stderr))


def test_a_clean_up_under_deferred_is_not_cut_by_a_signal():
  import signal  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import errors, interrupts  # pylint: disable=g-import-not-at-top
  steps = []
  with pytest.raises(errors.Interrupted, match="stopped by SIGTERM"):
    with interrupts.handled():
      with interrupts.deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # a handler that raised would cut this
        steps.append("cleaned up")
      time.sleep(5)  # the held signal is sent again and raises here
  assert steps == ["cleaned up"]


@pytest.mark.process
def test_every_usage_error_here_comes_before_tensorflow_loads(
    two_records, tmp_path, cache_dir):
  """One fresh process runs the unknown schemes, the careless inputs and
  the records cases, the workers' among them with their TF_CONFIG (each
  checks the shards it reads): each gives its line, changes nothing and
  never imports TensorFlow."""
  workers = _worker_cases(two_records)
  tf_configs = {c[0]: c[6] for c in workers}
  cases = ([c for c in STORE_CASES if "unknown scheme" in c[0]] + CASES
           + _records_cases(two_records) + [c[:6] for c in workers])
  check_usage_errors_before_tensorflow(
      cases, tmp_path, cache_dir,
      env_of=lambda case: ({"TF_CONFIG": tf_configs[case[0]]}
                           if case[0] in tf_configs else {}))
