"""The benchmark runs both modes and reports consistent numbers."""

import pytest

from tf_mmjsd import benchmark


@pytest.mark.parametrize("mode", benchmark.MODES)
def test_measure_reports_rates(mode, tiny_config):
  cfg = tiny_config()
  result = benchmark.measure(cfg, mode, steps=3, repeats=2, warmup=1,
                             log=lambda *_: None)
  rate = result["examples_per_second"]
  assert 0 < rate["min"] <= rate["median"] <= rate["max"]
  assert result["batch_size"] == 32 and result["replicas"] == 1


def test_unknown_mode_is_refused(tiny_config):
  with pytest.raises(ValueError, match="mode must be one of"):
    benchmark.measure(tiny_config(), "fast")
