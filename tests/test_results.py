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
    sample_quality={"modalities": {"a": {"b": {"precision": 0.5,
                                               "recall": 0.25,
                                               "fid": 3.0}}}},
    seconds={"latent probe": 1.0})


def test_round_trip_keeps_the_file_layout():
  result = EvaluationResult(**PARTS)
  values = json.loads(result.to_json())
  assert list(values)[:4] == ["schema", "model_dir", "checkpoint", "step"]
  assert values["schema"] == RESULTS_SCHEMA and values["figures"] == []
  assert EvaluationResult.from_dict(values) == result


def test_readers_get_each_metric():
  result = EvaluationResult(**PARTS)
  assert result.probe("mixture") == {"a": 0.5, "a+b": 0.625}
  assert result.conditional_coherence("mixture") == {"a→b": 0.5}
  assert result.conditional_coherence("poe") == {"b→a": 0.75}
  assert result.random_coherence() == {"random": 0.25}
  assert result.default_fusion == "mixture"
  assert result.log_likelihoods("poe") == {"a": -10.0}
  assert result.quality("fid") == {"a from b": 3.0}
  scalars = result.scalars()
  assert scalars["eval/probe_poe/a+b"] == 0.75
  assert scalars["eval/coherence_poe/a_from_b"] == 0.75
  assert scalars["eval/fid/a_from_b"] == 3.0


def test_an_older_file_reads_as_an_older_schema():
  values = json.loads(EvaluationResult(**PARTS).to_json())
  del values["schema"]
  values["a_key_of_a_later_version"] = 1
  result = EvaluationResult.from_dict(values)
  assert result.schema is None and result.step == 31


@pytest.mark.parametrize("skipped", ["coherence", "sample_quality"])
def test_skipped_parts_read_as_empty(skipped):
  parts = dict(PARTS, **{skipped: {"skipped": "no labels"}})
  result = EvaluationResult(**parts)
  assert (result.conditional_coherence("poe") if skipped == "coherence"
          else result.quality("fid")) == {}
