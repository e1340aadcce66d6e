"""PLACEHOLDER (owned by the trainer work): schemas of Global, Data, Model, Loss, AMP, EMA, Checkpoint."""


def _passthrough(raw, path):
    return dict(raw or {}), []


validate_global = validate_data = validate_model = validate_loss = _passthrough
validate_amp = validate_ema = validate_checkpoint = _passthrough
