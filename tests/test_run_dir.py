"""run_dir: resuming a run directory written by an older version."""

import json

import pytest

from tf_mmjsd import run_dir


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
