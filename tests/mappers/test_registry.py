"""The mapper registry and the config's check of `mapper` names."""

from __future__ import annotations

import pytest

from pipeline.config.errors import ConfigError
from pipeline.config.run_config import SOURCE_MAPPER_NAMES, config_from_dict
from pipeline.mappers.registry import MAPPERS


@pytest.mark.parametrize("name", SOURCE_MAPPER_NAMES)
def test_every_configurable_name_resolves_to_a_callable_mapper(name):
    assert callable(MAPPERS[name])


def test_the_registry_has_no_name_the_config_refuses():
    assert tuple(MAPPERS) == SOURCE_MAPPER_NAMES


def source(**extra) -> dict:
    return {"name": "sqa", "license": "cc-by-nc-sa-4.0", "local": {"path": "sqa.jsonl"}, **extra}


def test_a_known_mapper_is_accepted(tmp_path):
    config = config_from_dict({"name": "t", "sources": [source(mapper="scienceqa")]}, tmp_path)
    assert config.sources[0].mapper == "scienceqa"


def test_an_unknown_mapper_is_refused_in_one_line_naming_it(tmp_path):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"name": "t", "sources": [source(mapper="scienceqaa")]}, tmp_path)
    assert len(info.value.lines) == 1
    (line,) = info.value.lines
    assert "\n" not in line
    assert "unknown mapper 'scienceqaa'" in line
    assert line.startswith("sources.0.mapper:")


def test_an_unknown_mapper_on_a_local_copy_is_refused_in_one_line_naming_it(tmp_path):
    local = {"path": "sqa.jsonl", "mapper": "reclour"}
    with pytest.raises(ConfigError) as info:
        config_from_dict({"name": "t", "sources": [source(mapper="reclor", local=local)]}, tmp_path)
    assert len(info.value.lines) == 1
    assert "unknown mapper 'reclour'" in info.value.lines[0]
