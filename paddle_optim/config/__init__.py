"""Configuration: safe YAML loading, ``-o`` overrides and declarative section schemas."""
from .loader import apply_overrides, load_config, load_yaml_file, parse_override
from .schema import REQUIRED, Field, Range, check_range, did_you_mean, unknown_name_message, validate_section

__all__ = ["apply_overrides", "load_config", "load_yaml_file", "parse_override", "REQUIRED", "Field",
           "Range", "check_range", "did_you_mean", "unknown_name_message", "validate_section"]
