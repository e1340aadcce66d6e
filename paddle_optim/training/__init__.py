"""Training: the loop, evaluation, checkpoints, AMP, distributed helpers and logging."""
