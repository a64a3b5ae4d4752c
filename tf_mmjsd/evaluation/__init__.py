"""Evaluation of trained models: probes, coherence, likelihoods, sample
quality, figures and their report."""

# The layout of results.json (read by bin/compare to decide whether a row
# is finished); 2: coherence keyed by fusion,
# coherence.conditional.<fusion>.<target>.<subset>.
RESULTS_SCHEMA = 2
