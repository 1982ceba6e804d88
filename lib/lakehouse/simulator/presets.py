"""Simulator settings: a preset from conf/simulator/presets.yaml, defect rates, the world
(the files' models are ``lakehouse.config.simulation``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakehouse.config.reading import ConfigError, load, parse, read_yaml
from lakehouse.config.shopper_behaviour import load_behaviour
from lakehouse.config.simulation import DEFECT_KINDS, Defects, PresetsFile, Settings

__all__ = ["CONF_DIR", "DEFECT_KINDS", "Settings", "load_preset"]

# The project folder when running from a checkout; the working folder when the library is
# shipped as a zip (spark-submit --py-files) and the job runs from the project folder.
CONF_DIR = next(
    (
        p / "conf" / "simulator"
        for p in (Path(__file__).resolve().parents[3], Path.cwd())
        if (p / "conf" / "simulator").is_dir()
    ),
    Path.cwd() / "conf" / "simulator",
)


def load_preset(
    name: str = "demo", conf_dir: str | Path | None = None, **overrides: Any
) -> Settings:
    """Read a preset (tiny, demo, large) with the defect rates, the world it draws from and
    how its shoppers behave."""

    folder = Path(conf_dir) if conf_dir else CONF_DIR
    presets_file = folder / "presets.yaml"
    presets = load(PresetsFile, presets_file)
    if name not in presets.presets:
        known = sorted(presets.presets)
        raise ConfigError(presets_file, "presets", f"no preset {name!r} (known: {known})")
    merged = {
        **presets.defaults.model_dump(exclude_unset=True),
        **presets.presets[name].model_dump(exclude_unset=True),
        "preset": name,
    }
    settings = parse(Settings, merged, presets_file, f"presets.{name}")
    defects = load(Defects, folder / "defects.yaml")
    world = read_yaml(folder / "world.yaml")
    behaviour = load_behaviour(folder / "behaviour.yaml", world["catalogue"])
    return settings.with_overrides(defects=defects, world=world, behaviour=behaviour, **overrides)
