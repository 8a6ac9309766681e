"""Datasets with known PID, and loaders for real data."""

from pidengine.datasets.canonical import CANONICAL, CanonicalJoint
from pidengine.datasets.gaussian import gaussian_mixture
from pidengine.datasets.synthetic import SyntheticDataset, gate_samples, latent_concept

__all__ = ["CANONICAL", "CanonicalJoint", "SyntheticDataset", "gate_samples", "gaussian_mixture", "latent_concept"]
