"""LeetCode mappers against leetcode_format.py and tigerbot_format.py (arielnlee/Platypus, data_pipeline/)."""

from __future__ import annotations

import pytest

from pipeline.mappers.base import Mapped, MissingField
from pipeline.mappers.code import map_leetcode_testgen, map_tigerbot_leetcode

TWO_SUM = (
    "Given an array of integers `nums` and an integer `target`, return indices of the two numbers "
    "such that they add up to `target`."
)
TWO_SUM_CODE = (
    "def twoSum(nums, target):\n    seen = {}\n    for i, n in enumerate(nums):\n"
    "        if target - n in seen:\n            return [seen[target - n], i]\n        seen[n] = i\n"
)


# -- nuprl/leetcode-solutions-python-testgen-gpt4 ------------------------------------------------


def nuprl_row(**changes) -> dict:
    row = {
        "slug": "two-sum",
        "title": "Two Sum",
        "difficulty": "Easy",
        "prompt": TWO_SUM,
        "full_code": TWO_SUM_CODE,
        "test_code": "assert twoSum([2, 7, 11, 15], 9) == [0, 1]\n",
    }
    return {**row, **changes}


def test_leetcode_testgen_prompt_is_the_instruction_and_full_code_the_output():
    # leetcode_format.py: rename prompt -> instruction, full_code -> output; input = "".
    assert map_leetcode_testgen(nuprl_row()) == Mapped(TWO_SUM, "", TWO_SUM_CODE)


def test_leetcode_testgen_missing_full_code_is_a_missing_field():
    row = nuprl_row()
    del row["full_code"]
    with pytest.raises(MissingField, match="full_code"):
        map_leetcode_testgen(row)


# -- TigerResearch/tigerbot-kaggle-leetcodesolutions-en-2k ----------------------------------------


def tigerbot_row(instruction: str) -> dict:
    return {"instruction": instruction, "input": TWO_SUM, "output": "```python\n" + TWO_SUM_CODE + "```"}


def test_tigerbot_python_row_takes_its_instruction_from_input_and_leaves_input_empty():
    # tigerbot_format.py: instruction, input = input, instruction; then input = "".
    mapped = map_tigerbot_leetcode(tigerbot_row("Create a solution in python for the input asked."))
    assert mapped == Mapped(TWO_SUM, "", "```python\n" + TWO_SUM_CODE + "```")


def test_tigerbot_python_is_a_substring_match():
    assert map_tigerbot_leetcode(tigerbot_row("Write a python3 solution to the problem.")).excluded is None


def test_tigerbot_capitalised_python_alone_is_excluded_the_match_is_case_sensitive():
    # filter(lambda example: "python" in example["instruction"]): "Python" does not contain "python".
    mapped = map_tigerbot_leetcode(tigerbot_row("Create a solution in Python for the input asked."))
    assert mapped.excluded == "tigerbot_format.py: no 'python' in its instruction"
    assert mapped.cause == "Create a solution in Python for the input asked."


def test_tigerbot_another_language_is_excluded():
    mapped = map_tigerbot_leetcode(tigerbot_row("Create a solution in java for the input asked."))
    assert mapped.excluded == "tigerbot_format.py: no 'python' in its instruction"


def test_tigerbot_missing_input_is_a_missing_field():
    row = tigerbot_row("Create a solution in python for the input asked.")
    del row["input"]
    with pytest.raises(MissingField, match="input"):
        map_tigerbot_leetcode(row)
