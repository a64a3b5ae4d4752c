"""End-to-end bin/evaluate (and periodic evaluation) on a tiny model."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.harness import REPO, TINY, run_bin

EVAL = ["--classifier_epochs=2", "--likelihood_samples=3",
        "--likelihood_examples=100", "--quality_examples=200",
        "--prd_runs=2", "--prd_angles=101", "--figure_rows=2",
        "--eval_batch_size=128", "--clustering_runs=2"]
SUBSETS = ["mnist", "svhn", "text", "mnist+svhn", "mnist+text", "svhn+text",
           "mnist+svhn+text"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, cache_dir):
  """A tiny run of one epoch that evaluates itself at the epoch's end."""
  out = str(tmp_path_factory.mktemp("eval") / "run")
  done = run_bin("train", [f"--flagfile={REPO}/configs/base.flags"] + TINY +
                 EVAL + ["--epochs=1", "--eval_every_epochs=1",
                         f"--model_dir={out}"], cache_dir)
  assert done.returncode == 0, done.stderr
  assert "Full evaluation at step 31" in done.stdout
  return out


def _results(directory):
  with open(os.path.join(directory, "results.json")) as f:
    return json.load(f)


def _check_results(res, test_examples):
  assert res["synthetic"] is True and res["step"] == 31
  assert res["test_examples"] == test_examples
  probe = res["latent_probe"]
  assert probe["train_examples"] == 500
  for kind in ("poe", "mixture"):
    assert sorted(probe[kind]) == sorted(SUBSETS)
    assert all(0.0 <= v <= 1.0 for v in probe[kind].values())
  clusters = res["clustering"]
  assert (clusters["clusters"], clusters["runs"]) == (10, 2)
  assert clusters["train_examples"] == 500
  for score, low in (("nmi", 0.0), ("ari", -1.0), ("accuracy", 0.0)):
    for kind in ("poe", "mixture"):
      assert sorted(clusters[score][kind]) == sorted(SUBSETS)
      assert all(low <= v <= 1.0 for v in clusters[score][kind].values())
  coh = res["coherence"]
  assert coh["fusion"] == "mixture" and 0.0 <= coh["random"] <= 1.0
  # Random coherence also with c from the fitted mixture (10 components).
  assert 0.0 <= coh["random_gmm"] <= 1.0 and coh["mixture_components"] == 10
  # Both posteriors, keyed by fusion: the mixture (mmJSD's own) for every
  # proper subset, the PoE for the pairs.
  assert {m: sorted(v) for m, v in coh["conditional"]["mixture"].items()} == {
      "mnist": ["svhn", "svhn+text", "text"],
      "svhn": ["mnist", "mnist+text", "text"],
      "text": ["mnist", "mnist+svhn", "svhn"]}
  # "poe": the reference's product of the pair's posteriors without the
  # prior; "poe_weighted": mmJSD's pi-weighted product with N(0, I).
  for kind in ("poe", "poe_weighted"):
    assert {m: sorted(v) for m, v in coh["conditional"][kind].items()} == {
        "mnist": ["svhn+text"], "svhn": ["mnist+text"],
        "text": ["mnist+svhn"]}
  for kind in ("mixture", "poe", "poe_weighted"):
    for per in coh["conditional"][kind].values():
      assert all(0.0 <= v <= 1.0 for v in per.values())
  assert set(res["classifiers"]["test_accuracy"]) == {"mnist", "svhn", "text"}
  lik = res["likelihood"]
  for kind in ("poe", "mixture"):
    assert sorted(lik[kind]) == sorted(SUBSETS)
    assert all(np.isfinite(v) and v < 0 for v in lik[kind].values())
  quality = res["sample_quality"]
  assert quality["features"] == "classifier" and quality["examples"] == 200
  assert quality["clipped_to"] == {"mnist": [0.0, 1.0], "svhn": [0.0, 1.0]}
  assert sorted(quality["modalities"]) == ["mnist", "svhn"]  # images only
  for per in quality["modalities"].values():
    # 3 conditioning subsets, N(0, I) and the fitted mixture
    assert {"random", "random_gmm"} <= set(per) and len(per) == 5
    for v in per.values():
      assert 0.0 <= v["precision"] <= 1.0 and 0.0 <= v["recall"] <= 1.0
      assert v["fid"] >= 0.0


def _check_figures(directory, res):
  names = sorted(os.path.basename(p) for p in res["figures"])
  assert names == sorted([f"from_{s}.png" for s in SUBSETS] + ["random.png"])
  # from_svhn: 1 input row + 2 rows for each of 3 modalities, 4 columns.
  grid = Image.open(os.path.join(directory, "figures", "from_svhn.png"))
  assert grid.size == (4 * 66 + 2, 7 * 66 + 2)
  # the two generated text rows of one subset share their noise per row
  # but differ between rows: the images are not all alike.
  assert np.asarray(grid).std() > 10


@pytest.mark.slow
def test_periodic_evaluation_during_training(model_dir):
  directory = os.path.join(model_dir, "evaluations", "step_31")
  res = _results(directory)
  _check_results(res, 500)
  _check_figures(directory, res)
  with open(os.path.join(model_dir, "classifiers", "classifiers.json")) as f:
    assert json.load(f)["epochs"] == 2


@pytest.mark.slow
def test_bin_evaluate_writes_every_table_figure_and_summary(model_dir,
                                                            cache_dir,
                                                            tmp_path):
  out = run_bin("evaluate", [f"--model_dir={model_dir}",
                             "--likelihood_samples=2", "--eval_examples=300"],
                cache_dir)
  assert out.returncode == 0, out.stderr
  assert "Training the" not in out.stdout  # the classifiers are reused
  assert "Classifier test accuracy" in out.stdout
  res = _results(model_dir)
  _check_results(res, 300)
  assert res["likelihood"]["samples"] == 2
  assert res["checkpoint"].endswith("ckpt-31")
  _check_figures(model_dir, res)
  with open(os.path.join(model_dir, "results.md")) as f:
    md = f.read()
  for heading in ("Latent representation: linear probe", "Latent clustering",
                  "Coherence", "log-likelihood", "Sample quality"):
    assert heading in md
  assert "synthetic stand-in" in md and "| PoE | " in md
  assert "mnist ← svhn,text" in md and "| mixture | " in md
  assert "clipped to the data's range" in md
  tags = set()
  for path in glob.glob(os.path.join(model_dir, "tensorboard", "events.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      tags.update(v.tag for v in event.summary.value)
  assert {"eval/coherence/random", "eval/probe_poe/mnist+svhn+text",
          "eval/coherence_poe/text_from_mnist+svhn",
          "eval/coherence_mixture/text_from_mnist",
          "eval/log_likelihood_mixture/svhn", "eval/fid/svhn_from_random",
          "eval/fid/svhn_from_random_gmm", "eval/coherence/random_gmm",
          "eval/clustering_nmi_poe/mnist", "eval/from_text"} <= tags
  # The fitted mixture, over the 20-dimensional content code, and the
  # export that serves it: one fixed sample per seed.
  from tf_mmjsd.model.latent_mixture import LatentMixture  # pylint: disable=g-import-not-at-top
  mixture = LatentMixture.load(os.path.join(model_dir, "latent_mixture.npz"))
  assert (mixture.components, mixture.dim) == (10, 20)
  out = run_bin("export", [f"--model_dir={model_dir}",
                           f"--export_dir={tmp_path}/export"], cache_dir)
  assert out.returncode == 0, out.stderr[-3000:]
  assert "Serving sample_mixture" in out.stdout
  served = tf.saved_model.load(str(tmp_path / "export" / "1"))
  seeds = tf.constant([1, 2, 1], tf.int64)
  drawn = served.signatures["sample_mixture"](seed=seeds)["mnist"].numpy()
  plain = served.signatures["sample"](seed=seeds)["mnist"].numpy()
  assert drawn.shape == (3, 28, 28, 1)
  np.testing.assert_array_equal(drawn[0], drawn[2])  # same seed, same sample
  assert np.abs(drawn[0] - drawn[1]).max() > 1e-3
  assert np.abs(drawn - plain).max() > 1e-3  # not N(0, I)'s


@pytest.mark.slow
def test_evaluate_errors_exit_2_and_change_nothing(model_dir, cache_dir,
                                                   tmp_path):
  before = open(os.path.join(model_dir, "results.json")).read() if (
      os.path.exists(os.path.join(model_dir, "results.json"))) else None
  cases = [
      ([f"--model_dir={tmp_path}/none"], "config.json missing"),
      ([f"--model_dir={model_dir}", "--latent_dim=7"],
       "cannot change after training"),
      ([f"--model_dir={model_dir}", f"--checkpoint={tmp_path}/ckpt-5"],
       "does not exist"),
      ([f"--model_dir={model_dir}", "--inception_weights=/no/file.h5"],
       "no such file"),
  ]
  for args, message in cases:
    out = run_bin("evaluate", args, cache_dir)
    assert out.returncode == 2, (args, out.stderr)
    assert message in out.stderr, (args, out.stderr)
  after = open(os.path.join(model_dir, "results.json")).read() if (
      os.path.exists(os.path.join(model_dir, "results.json"))) else None
  assert after == before


@pytest.mark.slow
def test_data_without_labels_get_every_metric_that_needs_none(tmp_path,
                                                              cache_dir):
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (("train", 300), ("test", 100)):
    arrays[f"{split}_a"] = rng.random((n, 6)).astype(np.float32)
    arrays[f"{split}_b"] = rng.random((n, 8, 8, 1)).astype(np.float32)
  np.savez(tmp_path / "data.npz", **arrays)
  run = str(tmp_path / "run")
  args = ["--dataset=npz", f"--data_path={tmp_path}/data.npz",
          "--modality=a:6:laplace:mlp", "--modality=b:8x8x1:laplace:conv",
          f"--model_dir={run}"]
  done = run_bin("train", args + ["--epochs=1", "--batch_size=32"],
                 cache_dir)
  assert done.returncode == 0, done.stderr[-3000:]
  done = run_bin("evaluate", [f"--model_dir={run}", "--likelihood_samples=3",
                              "--figure_rows=2"], cache_dir)
  assert done.returncode == 0, done.stderr[-3000:]
  res = _results(run)
  assert res["classifiers"] == {"skipped": "the training split has no labels"}
  assert "has a label" in res["latent_probe"]["skipped"]
  assert res["clustering"] == {"skipped": "no test example has a label"}
  assert res["coherence"]["skipped"].startswith("no classifiers (the "
                                                "training split has no")
  assert "--inception_weights" in res["sample_quality"]["skipped"]
  for kind in ("poe", "mixture"):
    values = [res["likelihood"][kind][s] for s in ("a", "b", "a+b")]
    assert np.all(np.isfinite(values)) and max(values) < 0
  assert res["likelihood"]["examples"] == 100
  assert len(res["figures"]) == 4
  assert not os.path.exists(os.path.join(run, "classifiers"))
  text = open(os.path.join(run, "results.md")).read()
  assert text.count("Skipped:") == 4 and "| PoE |" in text
