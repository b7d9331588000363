"""The named row mappers a source can declare (`mapper = "reclor"`), one module per source family.

The config validates names against `SOURCE_MAPPER_NAMES` (it sits below this layer); the check
at the end of this module keeps the two lists the same.
"""

from __future__ import annotations

from pipeline.config.run_config import SOURCE_MAPPER_NAMES
from pipeline.mappers.base import RowMapper
from pipeline.mappers.chat import map_airoboros, map_guanaco
from pipeline.mappers.code import map_leetcode_testgen, map_tigerbot_leetcode
from pipeline.mappers.math_problems import map_math, map_math_llmfoundry, map_prm800k
from pipeline.mappers.multiple_choice import (
    map_arb,
    map_openbookqa,
    map_openbookqa_main_tsv,
    map_reclor,
    map_scienceqa,
)
from pipeline.mappers.science_problems import map_scibench, map_theoremqa, map_theoremqa_json

MAPPERS: dict[str, RowMapper] = {
    "airoboros": map_airoboros,
    "arb": map_arb,
    "guanaco": map_guanaco,
    "leetcode_testgen": map_leetcode_testgen,
    "math": map_math,
    "math_llmfoundry": map_math_llmfoundry,
    "openbookqa": map_openbookqa,
    "openbookqa_main_tsv": map_openbookqa_main_tsv,
    "prm800k": map_prm800k,
    "reclor": map_reclor,
    "scibench": map_scibench,
    "scienceqa": map_scienceqa,
    "theoremqa": map_theoremqa,
    "theoremqa_json": map_theoremqa_json,
    "tigerbot_leetcode": map_tigerbot_leetcode,
}

if tuple(MAPPERS) != SOURCE_MAPPER_NAMES:
    raise RuntimeError("pipeline.config.run_config.SOURCE_MAPPER_NAMES must list MAPPERS' names, in order")
