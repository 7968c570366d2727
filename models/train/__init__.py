"""Training: data, recipes, the accelerate-based trainer, EMA and checkpoints (docs/training.md)."""
