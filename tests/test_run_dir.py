"""run_dir: resuming a run directory written by an older version."""

import json
import shutil

import numpy as np
import pytest

from tests.harness import error_line, run_bin, tree
from tf_mmjsd import run_dir
from tf_mmjsd.data.npz import load_npz
from tf_mmjsd.data.specs import parse_modality
from tf_mmjsd.data.split import fingerprint


def test_a_run_from_before_a_new_setting_resumes_with_its_default(
    tmp_path, tiny_config):
  config = tiny_config(model_dir=str(tmp_path))
  stored = config.to_dict()
  for newer in ("mixed_precision", "jit_compile", "steps_per_execution",
                "collective_timeout"):
    del stored[newer]  # config.json of tf_mmjsd 0.1
  (tmp_path / "config.json").write_text(json.dumps(stored))
  (tmp_path / "checkpoints").mkdir()
  run_dir.prepare_model_dir(config)  # the defaults: accepted
  assert json.loads((tmp_path / "config.json").read_text()) == (
      config.to_dict())
  (tmp_path / "config.json").write_text(json.dumps(stored))
  with pytest.raises(run_dir.RunDirError, match="mixed_precision"):
    run_dir.prepare_model_dir(tiny_config(model_dir=str(tmp_path),
                                          mixed_precision="mixed_bfloat16"))


def _two_modality_data(path, seed=0, labels=True):
  """An .npz of modalities a (6 values) and b (8x8x1 images)."""
  rng = np.random.default_rng(seed)
  arrays = {}
  for split, n in (("train", 256), ("test", 64)):
    arrays[f"{split}_a"] = rng.random((n, 6)).astype(np.float32)
    arrays[f"{split}_b"] = rng.random((n, 8, 8, 1)).astype(np.float32)
    if labels:
      arrays[f"{split}_labels"] = rng.integers(0, 3, n)
  np.savez(path, **arrays)
  return str(path)


SPECS = (parse_modality("a:6:laplace:mlp"),
         parse_modality("b:8x8x1:laplace:conv"))


def test_the_fingerprint_names_the_data_not_their_place(tmp_path):
  path = _two_modality_data(tmp_path / "d.npz")
  digest = fingerprint(load_npz(path, SPECS))
  moved = tmp_path / "elsewhere"
  moved.mkdir()
  shutil.copy(path, moved / "d.npz")
  assert fingerprint(load_npz(str(moved / "d.npz"), SPECS)) == digest
  with np.load(path) as data:
    arrays = dict(data)
  for key, change in (("train_a", lambda x: x.__setitem__((17, 3), 0.5)),
                      ("test_labels", lambda x: x.__setitem__(5, (x[5] + 1) % 3)),
                      ("train_mask_b", None)):
    edited = {k: v.copy() for k, v in arrays.items()}
    if change is None:
      edited[key] = np.arange(256) % 2 == 0
    else:
      change(edited[key])
    np.savez(tmp_path / "e.npz", **edited)
    assert fingerprint(load_npz(str(tmp_path / "e.npz"), SPECS)) != digest, key
  # A folder of .npy files holding the same arrays is the same data.
  folder = tmp_path / "npy"
  folder.mkdir()
  for k, v in arrays.items():
    np.save(folder / f"{k}.npy", v)
  assert fingerprint(load_npz(str(folder), SPECS)) == digest


@pytest.mark.slow
def test_moved_data_resume_and_evaluate_other_data_are_refused(tmp_path,
                                                               cache_dir):
  data = _two_modality_data(tmp_path / "d.npz")
  run = tmp_path / "run"
  args = ["--dataset=npz", "--modality=a:6:laplace:mlp",
          "--modality=b:8x8x1:laplace:conv", f"--model_dir={run}",
          "--batch_size=32", "--classifier_epochs=1",
          "--probe_train_examples=100"]
  out = run_bin("train", args + [f"--data_path={data}", "--epochs=1"],
                cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  record = json.loads((run / "data.json").read_text())
  assert record["data_path"] == data and len(record["fingerprint"]) == 20

  moved = tmp_path / "moved"
  moved.mkdir()
  shutil.move(data, moved / "d.npz")
  out = run_bin("train", args + [f"--data_path={moved}/d.npz",
                                 "--epochs=2"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  assert f"The data moved: {data} -> {moved}/d.npz holds the same" in out.stdout
  assert "Resum" in out.stdout + out.stderr
  assert json.loads((run / "summary.json").read_text())["steps"] == 16
  assert json.loads((run / "config.json").read_text())["data_path"] == (
      f"{moved}/d.npz")
  assert f"--data_path={moved}/d.npz" in (run / "flags.txt").read_text()

  other = _two_modality_data(tmp_path / "other.npz", seed=1)
  before = tree(tmp_path)
  for program, extra in (("train", args + ["--epochs=3"]),
                         ("evaluate", [f"--model_dir={run}"])):
    out = run_bin(program, extra + [f"--data_path={other}"], cache_dir)
    assert out.returncode == 2, out.stderr[-3000:]
    line = error_line(out.stderr)
    assert f"--data_path={other} holds other data than the run" in line, line
    assert f"from {moved}/d.npz). Point --data_path at" in line, line
    assert tree(tmp_path) == before

  # Classifiers trained where the data were still follow them when moved.
  out = run_bin("evaluate", [f"--model_dir={run}", "--likelihood_samples=2",
                             "--figure_rows=1"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  shutil.move(moved / "d.npz", tmp_path / "d2.npz")
  out = run_bin("evaluate", [f"--model_dir={run}", "--likelihood_samples=2",
                             "--figure_rows=1",
                             f"--data_path={tmp_path}/d2.npz"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "No classifiers" not in out.stdout
  assert json.loads((run / "results.json").read_text())["coherence"][
      "examples"] == 64
