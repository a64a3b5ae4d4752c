"""Test log-likelihood: the importance-weighted estimate of log p(X) with
K samples of each subset's content posterior as proposal (styles from
their own posteriors; evaluation/likelihood.py).

Part: {"samples", "examples", <fusion>: {subset: mean log p(X)}}.
"""

from tf_mmjsd import metrics, subsets


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
    order=40)
