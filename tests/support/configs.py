"""The one way tests derive a config from a base: :func:`merge_config`, and :func:`write_config`."""
import copy

import yaml


def merge_config(base, changes=None):
    """``base`` with ``changes`` (section -> mapping): a section's keys are merged into the base's, except
    that a section naming a different ``name`` (another optimizer, model, schedule) replaces it, and so
    does a section that is not a mapping (``Metric``: a list)."""
    config = copy.deepcopy(base)
    for section, values in (changes or {}).items():
        if not isinstance(values, dict):
            config[section] = copy.deepcopy(values)
            continue
        old = config.get(section) or {}
        renamed = "name" in values and values["name"] != old.get("name")
        config[section] = copy.deepcopy(values) if renamed else dict(old, **copy.deepcopy(values))
    return config


def write_config(tmp_path, name, base, changes=None):
    """``(path of tmp_path/<name>.yaml, its Global.output_dir tmp_path/<name>)`` of ``base`` + ``changes``."""
    config = merge_config(base, changes)
    out = tmp_path / name
    config["Global"]["output_dir"] = str(out)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path), out
