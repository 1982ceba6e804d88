"""The JSON Schema of each kind of configuration file, drawn from its model, so that an editor
checks a file as it is typed (``# yaml-language-server: $schema=<path>`` on its first line).

Draft 7, the one YAML editors know best: ``definitions`` rather than ``$defs``.

    from lakehouse.config.json_schema import CONFIG_FILES, write

    write(Path("docs/schema"), CONFIG_FILES)   # bronze.json, silver.json, ...
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from lakehouse.config.expectations import Suite
from lakehouse.config.harmonisation import HarmonisationSpec
from lakehouse.config.settings import LakehouseSpec
from lakehouse.config.shopper_behaviour import Behaviour
from lakehouse.config.simulation import Defects, PresetsFile
from lakehouse.config.tables import BronzeSpec, GoldSpec, SilverSpec

CONFIG_FILES: dict[str, type[BaseModel]] = {
    "lakehouse": LakehouseSpec,
    "bronze": BronzeSpec,
    "silver": SilverSpec,
    "gold": GoldSpec,
    "expectations": Suite,
    "harmonisation": HarmonisationSpec,
    "simulator_presets": PresetsFile,
    "simulator_defects": Defects,
    "simulator_behaviour": Behaviour,
}


class _Draft7(GenerateJsonSchema):
    def field_title_should_be_set(self, schema) -> bool:
        return False  # "Sequence By" says less than the key itself; descriptions say more


def document(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(ref_template="#/definitions/{model}", schema_generator=_Draft7)
    definitions = schema.pop("$defs", None)
    head = {"$schema": "http://json-schema.org/draft-07/schema#"}
    return {**head, **schema, **({"definitions": definitions} if definitions else {})}


def text(model: type[BaseModel]) -> str:
    return json.dumps(document(model), indent=2, ensure_ascii=False) + "\n"


def stale(folder: Path, files: dict[str, type[BaseModel]]) -> list[Path]:
    """The schema files in ``folder`` that are missing or differ from their model's."""
    paths = {name: folder / f"{name}.json" for name in files}
    return [
        path
        for name, path in paths.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text(files[name])
    ]


def write(folder: Path, files: dict[str, type[BaseModel]]) -> list[Path]:
    """Write the schema files that changed; return them."""
    changed = stale(folder, files)
    folder.mkdir(parents=True, exist_ok=True)
    for path in changed:
        path.write_text(text(files[path.stem]), encoding="utf-8")
    return changed
