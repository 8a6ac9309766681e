"""Featurisation: encoders (raw inputs to embeddings) and discretisers (embeddings to codes)."""
