"""PLACEHOLDER (owned by the schedules work)."""


def validate_lr_scheduler_section(raw, path):
    return (dict(raw) if raw else None), []


def validate_momentum_section(raw, path):
    return (dict(raw) if raw else None), []
