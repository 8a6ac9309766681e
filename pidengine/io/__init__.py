"""Storage of datasets and results."""
