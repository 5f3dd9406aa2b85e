"""Files: atomic writes, the model format and fit checkpoints."""
