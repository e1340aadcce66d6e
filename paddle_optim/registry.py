"""PLACEHOLDER (owned by the trainer work): optimizer names -> frozen specs, build_optimizer."""


def validate_optimizer_section(raw, path):
    return dict(raw or {}), []
