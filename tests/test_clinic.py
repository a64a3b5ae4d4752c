"""Bring-your-own data end to end: the synthetic_clinic worked example of
docs/data.md (image + text + tabular, ~40% missing per modality) and a trio
of large shapes (64x64x3 image, length-200 sequence, 30-d normal vector)."""

import json
import math
import os

import numpy as np
import pytest

from tf_mmjsd.data import clinic, npz
from tf_mmjsd.data.specs import parse_modality
from tests.harness import REPO, commands, program_of, run_bin

FLAGFILE = os.path.join(REPO, "configs", "clinic.flags")


def _flagfile_modalities():
  with open(FLAGFILE) as f:
    return [ln.strip()[len("--modality="):] for ln in f
            if ln.startswith("--modality=")]


def test_clinic_data_shapes_missing_rate_and_determinism(tmp_path):
  arrays = clinic.make(train_size=3000, test_size=500, seed=4)
  assert arrays["train_scan"].shape == (3000, 36, 36, 1)
  assert arrays["train_scan"].dtype == np.uint8
  assert arrays["train_report"].shape == (3000, 24)  # integer tokens
  assert arrays["train_labs"].shape == (3000, 16)
  present = np.stack([arrays[f"train_mask_{m}"] for m in clinic.NAMES], 1)
  assert present.any(axis=1).all()  # no patient lacks every modality
  assert np.allclose(1 - present.mean(axis=0), 0.4, atol=0.03)
  assert set(np.unique(arrays["test_labels"])) == {0, 1, 2, 3}
  again = clinic.make(train_size=3000, test_size=500, seed=4)
  assert all(np.array_equal(arrays[k], again[k]) for k in arrays)
  # The class is in every modality: the report spells its finding, labs
  # dimension k is raised for class k.
  labels = arrays["train_labels"]
  assert (arrays["train_labs"][:, :4].argmax(1) == labels).mean() > 0.9
  # The example's flagfile describes these arrays.
  assert _flagfile_modalities() == list(clinic.MODALITY_FLAGS)
  specs = tuple(parse_modality(t) for t in clinic.MODALITY_FLAGS)
  path = tmp_path / "c.npz"
  np.savez(path, **arrays)
  train, test = npz.load_npz(str(path), specs)
  assert len(train) == 3000 and len(test) == 500


def _worked_example():
  """The commands of docs/data.md's worked example, in its order."""
  with open(os.path.join(REPO, "docs", "data.md"), encoding="utf-8") as f:
    text = f.read()
  section = text.split("### Worked example", 1)[1].split("\n## ", 1)[0]
  return [argv for _, argv in commands(section, spans=False)]


@pytest.mark.slow
def test_worked_example_trains_and_evaluates(tmp_path, cache_dir):
  """docs/data.md's three commands as printed, each with settings appended
  (later flags win) for a smaller data set and fewer epochs."""
  data = str(tmp_path / "clinic.npz")
  model_dir = str(tmp_path / "run")
  smaller = {
      "make_example_data": [f"--out={data}", "--train_size=800",
                            "--test_size=200"],
      "train": [f"--data_path={data}", f"--model_dir={model_dir}",
                "--batch_size=32", "--epochs=3", "--style_warmup_epochs=1",
                "--probe_train_examples=400"],
      "evaluate": [f"--model_dir={model_dir}", "--likelihood_examples=40",
                   "--likelihood_samples=4", "--quality_examples=100"]}
  steps = _worked_example()
  assert [program_of(argv[0]) for argv in steps] == list(smaller)
  assert "--flagfile=configs/clinic.flags" in steps[1]
  outputs = {}
  for argv in steps:
    name = program_of(argv[0])
    outputs[name] = run_bin(name, argv[1:] + smaller[name], cache_dir)
    assert outputs[name].returncode == 0, (argv, outputs[name].stderr)
  assert "synthetic patients" in outputs["make_example_data"].stdout
  summary = json.load(open(os.path.join(model_dir, "summary.json")))
  assert summary["steps"] == 3 * (800 // 32)
  assert all(math.isfinite(v) for v in summary["test_terms"].values())
  results = json.load(open(os.path.join(model_dir, "results.json")))
  subsets = {"scan", "report", "labs", "scan+report", "scan+labs",
             "report+labs", "scan+report+labs"}
  probe = results["latent_probe"]["poe"]
  assert set(probe) == subsets
  assert probe["labs"] > 0.6  # labs dimension k codes class k
  coherence = results["coherence"]
  assert set(coherence["conditional"]["poe"]["labs"]) == {"scan+report"}
  coherence = dict(coherence,
                   conditional=coherence["conditional"][coherence["fusion"]])
  assert coherence["conditional"]["labs"].keys() == {"scan", "report",
                                                     "scan+report"}
  assert set(coherence["conditional"]) == {"scan", "report", "labs"}
  assert all(0 <= v <= 1 for target in coherence["conditional"].values()
             for v in target.values())
  assert 0 <= coherence["random"] <= 1
  for kind in ("poe", "mixture"):
    assert set(results["likelihood"][kind]) == subsets
    assert all(math.isfinite(v) and v < 0
               for v in results["likelihood"][kind].values())
  assert "scan" in results["sample_quality"]["modalities"]
  for name in ("results.md", "figures/from_report+labs.png",
               "figures/random.png"):
    assert os.path.exists(os.path.join(model_dir, name)), name


@pytest.mark.slow
def test_large_shapes_train_together_without_code_changes(tmp_path,
                                                          cache_dir):
  """A 64x64x3 image, a length-200 sequence of integer tokens and a 30-d
  normal vector with a learned scale, through --dataset=npz."""
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", 64), ("test", 32)):
    arrays[f"{split}_photo"] = rng.integers(0, 256, (n, 64, 64, 3), np.uint8)
    arrays[f"{split}_notes"] = rng.integers(0, 40, (n, 200)).astype(np.int32)
    arrays[f"{split}_vitals"] = rng.normal(size=(n, 30)).astype(np.float32)
    arrays[f"{split}_labels"] = rng.integers(0, 3, n)
    arrays[f"{split}_mask_notes"] = np.arange(n) % 3 != 0
  np.savez(tmp_path / "d.npz", **arrays)
  (tmp_path / "m.json").write_text(json.dumps([
      {"name": "photo", "shape": [64, 64, 3], "likelihood": "laplace",
       "network": "conv", "activation": "sigmoid"},
      {"name": "notes", "shape": [200, 40], "likelihood": "categorical",
       "network": "sequence", "weight": 61.44},
      {"name": "vitals", "shape": [30], "likelihood": "normal",
       "network": "mlp", "scale": "learned", "hidden": [64]}]))
  model_dir = tmp_path / "run"
  out = run_bin("train", [
      "--dataset=npz", f"--data_path={tmp_path}/d.npz",
      f"--modalities_file={tmp_path}/m.json", "--batch_size=16",
      "--epochs=1", "--latent_dim=8", "--probe_train_examples=64",
      "--num_sample_columns=2", f"--model_dir={model_dir}"], cache_dir)
  assert out.returncode == 0, out.stderr
  summary = json.loads((model_dir / "summary.json").read_text())
  assert summary["steps"] == 4
  assert {"rec_photo", "rec_notes", "rec_vitals"} <= set(summary["test_terms"])
  assert all(math.isfinite(v) for v in summary["test_terms"].values())
  stored = json.loads((model_dir / "config.json").read_text())["modalities"]
  assert [m["network"] for m in stored] == ["conv", "sequence", "mlp"]
  assert stored[2]["learned_scale"] is True
  assert "--modalities_file=" in (model_dir / "flags.txt").read_text()
