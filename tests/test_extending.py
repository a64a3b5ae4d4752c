"""The seams: a method, a data set and a metric defined only here (a toy
objective, toy data and a toy score, each with an option of its own) are
registered, then train, evaluate and export through the programs, with no
file of tf_mmjsd changed (docs/extending.md)."""

import json
import os
import re

import numpy as np
import pytest

from tests.harness import TINY, error_line, run_bin
from tf_mmjsd import cli, flags, methods, metrics
from tf_mmjsd.config import ConfigError, ExperimentConfig
from tf_mmjsd.data import registry
from tf_mmjsd.data.mst import specs as mst_specs
from tf_mmjsd.data.specs import ModalitySpec
from tf_mmjsd.options import Option, at_least


def toy_objective(posteriors, present, log_likelihood, settings, noise):
  """The mixture reconstruction + toy_weight * sum over present m of
  |mu_m|^2: {"loss", "rec_<m>", "l2": [B]}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import objectives  # pylint: disable=g-import-not-at-top
  terms = {}
  rec = objectives.unimodal_reconstruction(posteriors, present,
                                           log_likelihood, settings, noise,
                                           terms)
  locs, _ = objectives.stack_content(posteriors, settings.names)
  mask = objectives.presence(present, settings.names)
  terms["l2"] = tf.reduce_sum(tf.reduce_sum(locs ** 2, -1) * mask, 0)
  terms["loss"] = rec + settings.options["toy_weight"] * terms["l2"]
  return terms


TOY = methods.Method(
    name="toy", summary="a test's method", objective=toy_objective,
    terms=("l2",), product="weighted", decoding="mixture",
    options=(methods.Option(
        "toy_weight", 0.5, "Weight of the toy's l2 term.",
        check=lambda v: "must be >= 0" if v < 0 else None,
        invalid=(-1.0,)),))


@pytest.fixture(name="toy")
def _toy():
  methods.register(TOY)
  yield TOY
  methods.unregister(TOY.name)


def test_the_toy_objective_by_hand(toy):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf_mmjsd import noise, objectives  # pylint: disable=g-import-not-at-top
  settings = objectives.ObjectiveSettings(
      names=("a", "b"), rec_weights={"a": 1.0, "b": 2.0},
      style_weights={"a": 1.0, "b": 1.0}, beta=1.0, beta_style=1.0,
      prior_weight=1 / 3, options={"toy_weight": 0.25})
  posteriors = {"content": {"a": (tf.constant([[1.0, 2.0]] * 2),
                                  tf.ones([2, 2])),
                            "b": (tf.constant([[3.0, 0.0]] * 2),
                                  tf.ones([2, 2]))}}
  present = {"a": tf.constant([1.0, 1.0]), "b": tf.constant([1.0, 0.0])}
  terms = toy.objective(
      posteriors, present,
      lambda c, s, names: {m: -tf.ones([tf.shape(c)[0]]) for m in names},
      settings, noise.Noise(key=[0, 0]))
  # |mu_a|^2 = 5, |mu_b|^2 = 9 (absent in example 1); rec: 1 + 2 * 1.
  np.testing.assert_allclose(terms["l2"].numpy(), [14.0, 5.0])
  np.testing.assert_allclose(terms["loss"].numpy(),
                             [3.0 + 0.25 * 14.0, 1.0 + 0.25 * 5.0])
  assert sorted(terms) == sorted(methods.term_names("toy", ("a", "b"), 0))


def test_its_option_is_a_setting_of_its_own(toy):
  config = ExperimentConfig(modalities=mst_specs(), method="toy")
  assert config.method_options == {"toy_weight": 0.5}
  assert config.to_dict()["toy_weight"] == 0.5
  again = ExperimentConfig.from_dict(dict(config.to_dict(), toy_weight=2.0))
  assert again.method_options == {"toy_weight": 2.0}
  with pytest.raises(ConfigError, match="toy_weight must be >= 0"):
    ExperimentConfig(modalities=mst_specs(), method="toy",
                     method_options={"toy_weight": -1.0})
  with pytest.raises(ConfigError, match="toy_weight is an option of method "
                     "toy; method mmjsd has none"):
    ExperimentConfig(modalities=mst_specs(),
                     method_options={"toy_weight": 1.0})
  with pytest.raises(ValueError, match="option 'toy_weight' is an option "
                     "of method toy"):
    methods.register(methods.Method(
        name="toy2", summary="", objective=toy_objective, terms=(),
        product="plain", decoding="poe", options=toy.options))


def test_the_programs_refuse_its_option_where_it_does_not_belong(
    toy, tmp_path, cache_dir):
  del toy
  for args, pattern in (
      (["--toy_weight=1"], r"--toy_weight is an option of --method=toy; "
                           r"--method=mmjsd has none"),
      (["--method=toy", "--toy_weight=-1"], r"toy_weight must be >= 0")):
    got = run_bin("train", [f"--model_dir={tmp_path}/run"] + args, cache_dir)
    assert got.returncode == 2, got.stderr[-2000:]
    assert re.search(pattern, error_line(got.stderr)), got.stderr
    assert not os.path.exists(tmp_path / "run")


EVAL = ["--eval_examples=100", "--likelihood_examples=50",
        "--likelihood_samples=2", "--quality_examples=50", "--prd_runs=1",
        "--prd_clusters=5", "--figure_rows=1", "--classifier_epochs=1"]


@pytest.mark.slow
def test_a_method_of_a_test_module_trains_evaluates_and_exports(
    toy, tmp_path, cache_dir):
  del toy
  run = f"--model_dir={tmp_path}/run"
  got = run_bin("train", TINY + [run, "--method=toy", "--toy_weight=0.25",
                                 "--epochs=1", "--steps_per_epoch=3"],
                cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  assert "l2: " in got.stdout  # its term is logged
  stored = json.load(open(tmp_path / "run" / "config.json"))
  assert (stored["method"], stored["toy_weight"]) == ("toy", 0.25)
  assert "dynamic_prior" not in stored
  got = run_bin("evaluate", [run] + EVAL, cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["method"] == "toy"
  probe = results["latent_probe"]["poe"]
  assert all(0.0 <= v <= 1.0 for v in probe.values()), probe
  got = run_bin("export", [run, f"--export_dir={tmp_path}/export"],
                cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  served = tf.saved_model.load(str(tmp_path / "export" / "1"))
  inputs = {}  # text only: the images absent
  for spec in mst_specs():
    inputs[spec.name] = tf.zeros((2,) + spec.shape)
    inputs[f"{spec.name}_present"] = tf.fill([2], spec.name == "text")
  out = served.signatures["encode"](**inputs)
  assert out["poe_loc"].shape == (2, 20)
  assert all(np.isfinite(v.numpy()).all() for v in out.values())


# A toy data set: two modalities that both show the class, `toy_size`
# training examples (its option), 200 test examples.
TOY_SPECS = (ModalitySpec("left", (6,), "normal", "mlp", hidden=(16,)),
             ModalitySpec("right", (4,), "normal", "mlp", hidden=(16,)))


def _toy_split(size, seed):
  from tf_mmjsd.data.split import Split  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 3, size)
  pools = {s.name: (np.eye(3)[labels] @ rng.normal(size=(3, s.shape[0]))
                    + 0.1 * rng.normal(size=(size,) + s.shape)
                    ).astype(np.float32) for s in TOY_SPECS}
  return Split(pools, {s.name: np.arange(size) for s in TOY_SPECS}, labels)


def _toy_load(config, log=print):
  del log
  from tf_mmjsd.data.split import validated  # pylint: disable=g-import-not-at-top
  return validated((_toy_split(config.toy_size, 0), _toy_split(200, 1)),
                   config.modalities)


TOY_DATA = registry.Dataset(
    "toy", _toy_load, lambda: TOY_SPECS, description="a test's data",
    options=(Option("toy_size", 500, "Training examples of the toy data.",
                    check=at_least(100), invalid=(10,)),))


@pytest.fixture(name="toy_data")
def _toy_data():
  registry.register(TOY_DATA)
  yield TOY_DATA
  registry.unregister(TOY_DATA.name)


def _toy_score(evaluation):
  """toy_scale x the mean squared norm of the joint PoE means of the
  labelled test examples, and their number."""
  encoded = evaluation.encodings()
  means, labels = evaluation.subset_means(encoded["test"],
                                          evaluation.names, "poe")
  return {"examples": int(len(labels)),
          "value": evaluation.config.toy_scale * float(
              np.mean(np.sum(means ** 2, -1)))}


TOY_METRIC = metrics.Metric(
    name="toy_score", title="A toy score", compute=_toy_score,
    markdown=lambda part, results: [f"Toy value {part['value']:.4f}.", ""],
    scalars=lambda part: {"eval/toy_score": part["value"]},
    tables=(metrics.Table("Toy score", lambda part: {
        "joint": part["value"]}),),
    needs=("labels",),
    options=(Option("toy_scale", 1.0, "Scale of the toy score.",
                    check=lambda v: None if v > 0 else "must be > 0",
                    invalid=(0.0,), resumable=True),))


@pytest.fixture(name="toy_metric")
def _toy_metric():
  metrics.register(TOY_METRIC)
  yield TOY_METRIC
  metrics.unregister(TOY_METRIC.name)


@pytest.mark.slow
def test_a_data_set_and_a_metric_of_a_test_module_run_through_the_programs(
    toy_data, toy_metric, tmp_path, cache_dir):
  del toy_data, toy_metric
  run = f"--model_dir={tmp_path}/run"
  got = run_bin("train", [run, "--dataset=toy", "--toy_size=300",
                          "--batch_size=50", "--epochs=1",
                          "--probe_train_examples=300"], cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  stored = json.load(open(tmp_path / "run" / "config.json"))
  assert (stored["dataset"], stored["toy_size"]) == ("toy", 300)
  assert "synthetic_train_size" not in stored
  assert "step 6/6" in got.stdout  # 300 examples in batches of 50
  assert json.load(open(tmp_path / "run" / "config.json"))[
      "toy_scale"] == 1.0  # the metric's option, at its default
  # Its option changes after training, like every evaluation setting.
  got = run_bin("evaluate", [run, "--toy_scale=2"] + EVAL, cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  results = json.load(open(tmp_path / "run" / "results.json"))
  assert results["dataset"] == "toy" and results["test_examples"] == 100
  assert set(results["latent_probe"]["poe"]) == {"left", "right",
                                                 "left+right"}
  # The toy metric: its part, computed from the run's own encodings (the
  # labelled test examples among the 100 evaluated), its section of
  # results.md, its scalar and its compare table.
  toy = results["toy_score"]
  assert toy["examples"] == 100 and toy["value"] > 0
  from tf_mmjsd.evaluation.results import EvaluationResult  # pylint: disable=g-import-not-at-top
  result = EvaluationResult.load(tmp_path / "run" / "results.json")
  assert result.scalars()["eval/toy_score"] == toy["value"]
  assert result.table("Toy score") == {"joint": toy["value"]}
  text = open(tmp_path / "run" / "results.md").read()
  assert f"## A toy score\n\nToy value {toy['value']:.4f}." in text
  # The data set's three classes give the clustering metric 3 clusters.
  assert results["clustering"]["clusters"] == 3
  got = run_bin("export", [run, f"--export_dir={tmp_path}/export"],
                cache_dir)
  assert got.returncode == 0, got.stderr[-3000:]
  # Out of its range it is refused; another data set leaves it out (a
  # shared flagfile may hold it).
  got = run_bin("train", [f"--model_dir={tmp_path}/other", "--dataset=toy",
                          "--toy_size=10"], cache_dir)
  assert got.returncode == 2
  assert re.search(r"toy_size must be >= 100", error_line(got.stderr))
  fv, _ = cli.parse("train", ["train", f"--model_dir={tmp_path}/x",
                              "--toy_size=300"])
  config = flags.config_from_flags(fv)
  assert config.dataset == "synthetic_mst" and "toy_size" not in (
      config.to_dict())
