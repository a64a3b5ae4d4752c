"""EvaluationResult: results.json's layout, its round trip, and what its
readers get."""

import json

import pytest

from tf_mmjsd.evaluation.results import RESULTS_SCHEMA, EvaluationResult

PARTS = dict(
    model_dir="runs/x", checkpoint="runs/x/checkpoints/ckpt-31", step=31,
    dataset="synthetic_mst", synthetic=True, method="mmjsd",
    test_examples=500,
    classifiers={"test_accuracy": {"a": 0.9, "b": 0.8}, "dir": "c"},
    latent_probe={"train_examples": 10, "test_examples": 5,
                  "metric": "accuracy", "poe": {"a": 0.5, "a+b": 0.75},
                  "mixture": {"a": 0.5, "a+b": 0.625}},
    coherence={"examples": 5, "fusion": "mixture", "metric": "accuracy",
               "random": 0.25,
               "conditional": {"mixture": {"b": {"a": 0.5}},
                               "poe": {"a": {"b": 0.75}}}},
    likelihood={"samples": 12, "examples": 5, "poe": {"a": -10.0},
                "mixture": {"a": -11.0}},
    sample_quality={"features": "classifier", "examples": 5,
                    "prd": "20 clusters", "fusion": "mixture",
                    "modalities": {"a": {"b": {"precision": 0.5,
                                               "recall": 0.25,
                                               "fid": 3.0}}}},
    seconds={"latent_probe": 1.0})
METRIC_NAMES = ("latent_probe", "coherence", "likelihood", "sample_quality")


def _result(**parts):
  """The EvaluationResult of PARTS (updated by `parts`), metric parts flat
  as in results.json."""
  return EvaluationResult.from_dict(
      dict(PARTS, schema=RESULTS_SCHEMA, **parts))


def test_round_trip_keeps_the_file_layout():
  result = _result()
  values = json.loads(result.to_json())
  assert list(values)[:4] == ["schema", "model_dir", "checkpoint", "step"]
  assert values["schema"] == RESULTS_SCHEMA and values["figures"] == []
  for name in METRIC_NAMES:  # each metric's part at the top level
    assert values[name] == PARTS[name]
  assert "parts" not in values
  assert EvaluationResult.from_dict(values) == result


def test_readers_get_each_metric():
  result = _result()
  assert result.part("coherence") == PARTS["coherence"]
  assert result.table("Latent probe, mixture posterior") == {
      "a": 0.5, "a+b": 0.625}
  assert result.table("Coherence, mixture posterior") == {"a→b": 0.5}
  assert result.table("Coherence, PoE posterior") == {"b→a": 0.75}
  assert result.table("Random coherence") == {"random": 0.25}
  assert result.default_fusion == "mixture"
  assert result.table("Test log-likelihood, PoE proposal") == {"a": -10.0}
  assert result.table("Sample quality: FID") == {"a from b": 3.0}
  with pytest.raises(KeyError, match="no metric has a table titled"):
    result.table("Coherence, any posterior")
  scalars = result.scalars()
  assert scalars["eval/probe_poe/a+b"] == 0.75
  assert scalars["eval/coherence_poe/a_from_b"] == 0.75
  assert scalars["eval/fid/a_from_b"] == 3.0


def test_an_older_file_reads_as_an_older_schema():
  values = json.loads(_result().to_json())
  del values["schema"]
  values["a_key_of_a_later_version"] = 1
  result = EvaluationResult.from_dict(values)
  assert result.schema is None and result.step == 31
  assert "a_key_of_a_later_version" not in result.to_dict()


def test_a_file_written_before_a_metric_existed_lacks_only_its_part():
  result = _result()  # PARTS has no clustering part
  assert result.missing() == ["clustering"]
  assert result.part("clustering") == {}
  assert result.table("Latent clustering NMI, PoE posterior") == {}
  assert "## Latent clustering" not in result.markdown(["a", "b"])
  assert "## Coherence of generated samples" in result.markdown(["a", "b"])


@pytest.mark.parametrize("skipped", ["coherence", "sample_quality"])
def test_skipped_parts_read_as_empty(skipped):
  result = _result(**{skipped: {"skipped": "no labels"}})
  assert result.table("Coherence, PoE posterior" if skipped == "coherence"
                      else "Sample quality: FID") == {}
