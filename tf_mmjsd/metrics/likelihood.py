"""Test log-likelihood: the importance-weighted estimate of log p(X) with
K samples of each subset's content posterior as proposal (styles from
their own posteriors; evaluation/likelihood.py).

Part: {"samples", "examples", <fusion>: {subset: mean log p(X)}}.
Options: likelihood_samples (K), likelihood_examples.
"""

from tf_mmjsd import metrics, options, subsets


def compute(evaluation):
  return evaluation.likelihoods()


def markdown(part, results):
  from tf_mmjsd.metrics import formatting  # pylint: disable=g-import-not-at-top
  return [f"Importance-weighted estimate with K = {part['samples']} samples "
          "of the content posterior of each subset (styles from their own "
          f"posteriors), mean over {part['examples']} test examples; higher "
          "is better.", "",
          formatting.per_subset_table(part, results, subsets.KINDS,
                                      "proposal", digits=1), ""]


def scalars(part):
  return {f"eval/log_likelihood_{kind}/{k}": v for kind in subsets.KINDS
          for k, v in part.get(kind, {}).items()}


METRIC = metrics.Metric(
    name="likelihood",
    title="Test log-likelihood log p(X)",
    compute=compute, markdown=markdown, scalars=scalars,
    tables=(metrics.Table("Test log-likelihood, PoE proposal",
                          lambda part: dict(part.get("poe", {})), digits=1),
            metrics.Table("Test log-likelihood, mixture proposal",
                          lambda part: dict(part.get("mixture", {})),
                          digits=1)),
    options=(
        options.Option("likelihood_samples", 12, "K, importance samples "
                       "per example of log p(X).", check=options.at_least(1),
                       invalid=(0,), resumable=True),
        options.Option("likelihood_examples", 0, "Test examples of the "
                       "log-likelihood estimates (0: as many as "
                       "--eval_examples).", check=options.at_least(0),
                       invalid=(-1,), resumable=True)),
    order=40)
