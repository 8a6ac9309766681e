"""Datasets with known PID, and loaders for real data."""

from pidengine.datasets.canonical import CANONICAL, CanonicalJoint

__all__ = ["CANONICAL", "CanonicalJoint"]
