"""Evaluation of trained models (docs/reference_settings.md, Evaluation).

  suite.py        Evaluator: the suite on a test split
  latents.py, probe.py              latent linear probes
  coherence.py, classifiers.py      coherence, judged by classifiers
  likelihood.py                     importance-weighted log p(X)
  quality.py, features.py           PRD and FID of generated images
  figures.py      sample grids, and writing them (also training's)
  results.py      EvaluationResult: results.json's layout and readers
  report.py       results.md and TensorBoard scalars
  evaluate.py     run(config): restore, evaluate, write (bin/evaluate)
  periodic.py     PeriodicEvaluation, the training callback
  plots.py        bin/compare's plots
"""
