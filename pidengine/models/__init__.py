"""Multimodal model families, their training loop, and the PID of their predictions."""
