"""Training: data, stages, the accelerate-based trainer, EMA and checkpoints (docs/training.md)."""
