"""files.py: local and `scheme://` paths (TensorFlow's ram:// file system),
and a lint that keeps every file access of the package going through it."""

import os
import re

import numpy as np
import pytest

from tf_mmjsd import files

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "tf_mmjsd")
# Calls that only understand local paths. A line that must use one (a path
# that is always local: /proc, a temporary file of this host) says why with
# a "# local" comment.
LOCAL_ONLY = re.compile(
    r"(?<![\w.])(open|os\.path\.(exists|isfile|isdir|getmtime|getsize)|"
    r"os\.(makedirs|mkdir|listdir|remove|unlink|replace|rename|scandir|"
    r"stat|statvfs|access)|glob\.glob|shutil\.(rmtree|copy\w*|move)|"
    r"tempfile\.mk\w+|np\.(load|save\w*)|Image\.open)\(")


def test_no_local_only_file_call_outside_files_py():
  found = []
  for folder, _, names in os.walk(PACKAGE):
    for name in names:
      path = os.path.join(folder, name)
      if not name.endswith(".py") or path.endswith(os.sep + "files.py"):
        continue
      with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
          code = line.split("#", 1)[0]
          if LOCAL_ONLY.search(code) and "# local" not in line:
            found.append(f"{os.path.relpath(path, PACKAGE)}:{number}: "
                         f"{line.strip()}")
  assert not found, "use tf_mmjsd.files:\n" + "\n".join(found)


def test_files_on_tensorflows_in_memory_file_system():
  root = "ram://test_files/basic"
  files.makedirs(root + "/a/b")
  assert files.isdir(root + "/a") and not files.isfile(root + "/a")
  files.write_atomic(root + "/a/x.json", '{"k": 1}')
  files.write_atomic(root + "/a/b/y.bin", b"\x00\x01")
  assert files.read_text(root + "/a/x.json") == '{"k": 1}'
  assert files.read_bytes(root + "/a/b/y.bin") == b"\x00\x01"
  assert files.isfile(root + "/a/x.json") and files.exists(root + "/a/x.json")
  assert sorted(files.listdir(root + "/a")) == ["b", "x.json"]
  assert files.glob(root + "/a/*.json") == [root + "/a/x.json"]
  assert sorted(files.walk_files(root)) == ["a/b/y.bin", "a/x.json"]
  assert not [n for n in files.listdir(root + "/a") if ".tmp" in n]
  files.copy(root + "/a/x.json", root + "/c.json")
  files.rename(root + "/c.json", root + "/d.json")
  with pytest.raises(FileExistsError):
    files.rename(root + "/a/x.json", root + "/d.json")
  assert files.read_text(root + "/d.json") == '{"k": 1}'
  assert files.getmtime(root + "/d.json") >= 0  # ram:// keeps no times
  files.create_exclusive(root + "/lock", "me")
  with pytest.raises(FileExistsError):
    files.create_exclusive(root + "/lock", "you")
  with pytest.raises(FileNotFoundError):
    files.read_text(root + "/missing")
  with pytest.raises(FileNotFoundError):
    files.remove(root + "/missing")
  with pytest.raises(RuntimeError), files.atomic_writer(root + "/d.json",
                                                        "w") as f:
    f.write("half")
    raise RuntimeError("a failure while writing")
  assert files.read_text(root + "/d.json") == '{"k": 1}'  # kept, no part
  assert not [n for n in files.listdir(root) if ".tmp" in n]
  temp = files.make_temp_dir(root, ".tmp-x-")
  assert files.isdir(temp) and temp.startswith(root + "/.tmp-x-")
  files.rmtree(root)
  assert not files.exists(root)


@pytest.mark.slow
def test_train_resume_evaluate_and_export_on_ram(tmp_path, monkeypatch):
  """Run directory, data and exports all on ram://, the code path of a
  remote store: nothing is written to the local disk but TensorFlow's and
  Keras's own temporary files."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import export, training  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.config import ExperimentConfig  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.data.specs import parse_modality  # pylint: disable=g-import-not-at-top
  from tf_mmjsd.evaluation import evaluate  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", 256), ("test", 64)):
    arrays[f"{split}_a"] = rng.random((n, 6)).astype(np.float32)
    arrays[f"{split}_b"] = rng.random((n, 8, 8, 1)).astype(np.float32)
    arrays[f"{split}_labels"] = rng.integers(0, 3, n)
  local = tmp_path / "d.npz"
  np.savez(local, **arrays)
  data = "ram://test_files/data/d.npz"
  files.makedirs("ram://test_files/data")
  files.write_atomic(data, local.read_bytes())
  local.unlink()
  monkeypatch.chdir(tmp_path)  # the local disk that must stay empty
  run = "ram://test_files/runs/r"
  config = ExperimentConfig.of(
      modalities=(parse_modality("a:6:laplace:mlp"),
                  parse_modality("b:8x8x1:laplace:conv")),
      dataset="npz", data_path=data, model_dir=run, batch_size=32, epochs=1,
      probe_train_examples=100, checkpoint_every_steps=4, num_sample_columns=4,
      classifier_epochs=1, likelihood_samples=2, figure_rows=1,
      quality_examples=64, prd_clusters=4, prd_runs=1, prd_angles=11)
  log = []
  first = training.run(config, log=log.append, flags_text="--epochs=1\n")
  assert first["steps"] == 8
  resumed = training.run(dataclasses.replace(config, epochs=2),
                         log=log.append)
  assert resumed["steps"] == 16
  assert any("Resuming from" in line and "ckpt-8" in line for line in log)
  names = set(files.listdir(run))
  assert {"config.json", "flags.txt", "data.json", "summary.json",
          "checkpoints", "tensorboard", "samples"} <= names
  assert ".lock" not in names
  result = evaluate.run(dataclasses.replace(config, epochs=2),
                        log=log.append)
  assert result.step == 16 and result.part("coherence")["examples"] == 64
  assert {"results.json", "results.md", "figures", "classifiers"} <= set(
      files.listdir(run))
  version = export.export_run(run, "ram://test_files/exports", log=log.append)
  assert version == "ram://test_files/exports/1"
  exported = set(files.walk_files(version))
  assert {"saved_model.pb", export.METADATA, "keras/encoder_a.keras"} <= (
      exported)
  assert not [n for n in files.listdir("ram://test_files/exports")
              if n != "1"]  # no temporary folder left
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  served = tf.saved_model.load(version).signatures["serving_default"]
  out = served(a=tf.constant(arrays["test_a"][:2]),
               a_present=tf.constant([True, False]),
               b=tf.constant(arrays["test_b"][:2]),
               b_present=tf.constant([True, True]))
  assert out["loc"].shape == (2, config.latent_dim)
  assert list(tmp_path.iterdir()) == []  # nothing on the local disk
  files.rmtree("ram://test_files")
