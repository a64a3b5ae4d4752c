"""Evaluation of trained models: latent probes and sample figures."""
