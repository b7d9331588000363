"""MATH and PRM800K mappers against convert_prm.py and update_MATH.py (arielnlee/Platypus, data_pipeline/).

Rows are written in the upstream shapes: PRM800K phase files (question/label/steps/completions/
ratings/human_completion/finish_reason), the hub's MATH (problem/level/type/solution) and
llm-foundry's MATH (context/chain_of_thought). Expected strings are what the scripts produce,
except where the mapper's docstring names a deliberate difference (the boxed regex, random.choice).
"""

from __future__ import annotations

import copy

import pytest

from pipeline.mappers.base import Mapped, MissingField
from pipeline.mappers.math_problems import map_math, map_math_llmfoundry, map_prm800k, strip_boxed

# -- PRM800K ---------------------------------------------------------------------------------------

PROBLEM = "What is the value of $2^3 + 1$?"


def prm_row(steps: list[dict], finish_reason: str = "solution", truth: str | None = "9") -> dict:
    """One line of prm800k/data/phase2_train.jsonl, as the release lays it out."""
    return {
        "labeler": "340d89bc-f5b7-45e9-b272-909ba68ee363",
        "timestamp": "2022-07-17T16:56:51.323252",
        "generation": 9,
        "is_quality_control_question": False,
        "is_initial_screening_question": False,
        "question": {
            "problem": PROBLEM,
            "ground_truth_solution": "We have $2^3 = 8$, so $2^3 + 1 = \\boxed{9}$.",
            "ground_truth_answer": truth,
            "pre_generated_steps": ["I know that $2^3 = 8$.", "So the answer is 9.", "# Answer\n\n9"],
            "pre_generated_answer": "9",
            "pre_generated_verifier_score": 0.9942,
        },
        "label": {"steps": steps, "total_time": 48107, "finish_reason": finish_reason},
    }


def completion(text: str, rating: int | None) -> dict:
    return {"text": text, "rating": rating, "flagged": False}


def step(*completions: dict, human: dict | None = None, chosen: int | None = 0) -> dict:
    return {"completions": list(completions), "human_completion": human, "chosen_completion": chosen}


def human_completion(text: str, rating: int | None) -> dict:
    return {"text": text, "rating": rating, "source": "human", "flagged": False, "corrected_rating": None}


GOOD_STEPS = [
    step(completion("I know that $2^3 = 8$.", 1)),
    step(completion("So $2^3 + 1 = 8 + 2 = 10$.", -1), completion("Adding one gives $8 + 1 = 9$.", 1), chosen=1),
    step(completion("# Answer\n\n9", 1)),
]


def test_prm_good_row_joins_plus_one_steps_with_spaces_and_drops_the_answer_line():
    # convert_prm.py: " ".join of the +1 texts -> "I know ... 9$. # Answer\n\n9"; update_MATH.py:
    # re.sub(r"# Answer\n\n.*", "", ...) leaves the space before the marker.
    mapped = map_prm800k(prm_row(copy.deepcopy(GOOD_STEPS)))
    assert mapped == Mapped(PROBLEM, "", "I know that $2^3 = 8$. Adding one gives $8 + 1 = 9$. ")


def test_prm_a_plus_one_completion_with_the_marker_is_preferred_over_the_first_plus_one():
    steps = [
        step(completion("I know that $2^3 = 8$.", 1)),
        step(
            completion("So the answer is $8 + 1 = 9$.", 1),
            completion("Adding one gives $8 + 1 = 9$.\n\n# Answer\n\n9", 1),
            chosen=1,
        ),
    ]
    mapped = map_prm800k(prm_row(steps))
    assert mapped.excluded is None
    assert mapped.output == "I know that $2^3 = 8$. Adding one gives $8 + 1 = 9$.\n\n"


def test_prm_of_several_plus_one_completions_the_first_is_taken():
    # Deliberate: upstream's random.choice (unseeded) becomes "the first", for reruns to agree.
    steps = [
        step(completion("First, $2^3 = 8$.", 1), completion("We compute $2^3 = 8$.", 1)),
        step(completion("# Answer\n\n9", 1)),
    ]
    assert map_prm800k(prm_row(steps)).output == "First, $2^3 = 8$. "


def test_prm_a_human_completion_rated_one_is_appended_after_the_steps_completion():
    steps = [
        step(completion("I know that $2^3 = 8$.", 1)),
        step(
            completion("So $2^3 + 1 = 10$.", -1), human=human_completion("Then $2^3 + 1 = 8 + 1 = 9$.", 1), chosen=None
        ),
        step(completion("# Answer\n\n9", 1)),
    ]
    mapped = map_prm800k(prm_row(steps))
    assert mapped.excluded is None
    assert mapped.output == "I know that $2^3 = 8$. Then $2^3 + 1 = 8 + 1 = 9$. "


def test_prm_a_human_completion_not_rated_one_is_left_out():
    steps = [
        step(completion("I know that $2^3 = 8$.", 1), human=human_completion("Unrated human text.", None)),
        step(completion("Adding one gives 9.", 1), human=human_completion("A neutral human step.", 0)),
        step(completion("# Answer\n\n9", 1)),
    ]
    assert map_prm800k(prm_row(steps)).output == "I know that $2^3 = 8$. Adding one gives 9. "


def test_prm_boxed_answers_in_the_steps_are_unwrapped():
    steps = [step(completion("So $2^3 + 1 = \\boxed{9}$.", 1)), step(completion("# Answer\n\n9", 1))]
    assert map_prm800k(prm_row(steps)).output == "So $2^3 + 1 = 9$. "


@pytest.mark.parametrize("reason", ["give_up", "found_error", "bad_problem"])
def test_prm_not_finished_as_a_solution_is_excluded(reason):
    mapped = map_prm800k(prm_row(copy.deepcopy(GOOD_STEPS), finish_reason=reason))
    assert mapped.excluded == "convert_prm.py: not finished as a solution"
    assert mapped.cause == f"finish_reason {reason!r}"


def test_prm_no_answer_marker_in_the_plus_one_steps_is_excluded():
    # The marker is only in a -1 completion: convert_prm.py never selects it, Found_Answer is None.
    steps = [step(completion("I know that $2^3 = 8$.", 1)), step(completion("# Answer\n\n9", -1))]
    mapped = map_prm800k(prm_row(steps))
    assert mapped.excluded == "convert_prm.py: no '# Answer' in the +1-rated steps"
    assert mapped.cause is None


def test_prm_found_answer_other_than_the_ground_truth_is_excluded_with_both_in_the_cause():
    steps = [step(completion("I know that $2^3 = 8$.", 1)), step(completion("# Answer\n\n10", 1))]
    mapped = map_prm800k(prm_row(steps))
    assert mapped.excluded == "convert_prm.py: found answer is not the ground truth"
    assert mapped.cause == "'10' != '9'"


def test_prm_the_last_marker_gives_the_found_answer_stripped():
    # full_output.rfind(answer_marker), then .strip(): "9" equals the ground truth.
    steps = [step(completion("# Answer\n\n8", 1)), step(completion("No, one more: # Answer\n\n 9 ", 1))]
    assert map_prm800k(prm_row(steps)).excluded is None


def test_prm_missing_question_is_a_missing_field():
    row = prm_row(copy.deepcopy(GOOD_STEPS))
    del row["question"]
    with pytest.raises(MissingField, match="question"):
        map_prm800k(row)


def test_prm_missing_problem_is_a_missing_field():
    row = prm_row(copy.deepcopy(GOOD_STEPS))
    del row["question"]["problem"]
    with pytest.raises(MissingField, match="problem"):
        map_prm800k(row)


# -- MATH (hub layout and llm-foundry's) ---------------------------------------------------------


def math_row(solution: str) -> dict:
    return {
        "problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?",
        "level": "Level 1",
        "type": "Prealgebra",
        "solution": solution,
    }


def test_math_instruction_is_the_problem_and_output_the_solution():
    mapped = map_math(math_row("We have $\\frac{1}{2} = \\frac{2}{4}$, so the sum is $\\frac{3}{4}$."))
    assert mapped == Mapped(
        "What is $\\frac{1}{2} + \\frac{1}{4}$?",
        "",
        "We have $\\frac{1}{2} = \\frac{2}{4}$, so the sum is $\\frac{3}{4}$.",
    )


def test_math_boxed_with_nested_braces_is_unwrapped_whole():
    # Same as upstream here: the greedy group ends at the box's own brace, the last on the line.
    solution = "We have $\\frac{1}{2} + \\frac{1}{4} = \\frac{2}{4} + \\frac{1}{4} = \\boxed{\\frac{3}{4}}$."
    assert map_math(math_row(solution)).output == (
        "We have $\\frac{1}{2} + \\frac{1}{4} = \\frac{2}{4} + \\frac{1}{4} = \\frac{3}{4}$."
    )


def test_math_two_boxes_on_one_line_are_both_unwrapped():
    # Upstream's greedy r"\\boxed\{(.*)\}" gave "The solutions are $x = -2}$ and $x = \boxed{3$.";
    # every box unwrapped is the docstring's deliberate fix.
    solution = "The solutions are $x = \\boxed{-2}$ and $x = \\boxed{3}$."
    assert map_math(math_row(solution)).output == "The solutions are $x = -2$ and $x = 3$."


def test_math_a_brace_after_the_box_on_the_same_line_is_kept():
    # Upstream's greedy regex gave "So $x = 5}$, hence $x^{2 = 25$."
    solution = "So $x = \\boxed{5}$, hence $x^{2} = 25$."
    assert map_math(math_row(solution)).output == "So $x = 5$, hence $x^{2} = 25$."


def test_math_boxes_on_separate_lines_are_each_unwrapped():
    solution = "First, $a = \\boxed{2}$.\nThen $b = \\boxed{\\sqrt{3}}$."
    assert map_math(math_row(solution)).output == "First, $a = 2$.\nThen $b = \\sqrt{3}$."


def test_math_an_unclosed_box_is_left_as_it_is():
    solution = "The answer is $\\boxed{5$."
    assert map_math(math_row(solution)).output == "The answer is $\\boxed{5$."


def test_math_a_box_after_an_unclosed_box_is_still_unwrapped():
    # Upstream works line by line: the unclosed box's line has no "}", the next line's box is unwrapped.
    solution = "Suppose $x = \\boxed{5$.\nThen $y = \\boxed{6}$."
    assert map_math(math_row(solution)).output == "Suppose $x = \\boxed{5$.\nThen $y = 6$."


def test_math_a_box_inside_an_unclosed_box_is_unwrapped():
    assert strip_boxed("$\\boxed{\\boxed{5}$") == "$\\boxed{5$"


@pytest.mark.timeout(20)
def test_strip_boxed_on_many_unclosed_boxes_takes_linear_time():
    # 100,000 characters (ingest's default max_text_chars) of unclosed boxes: one pass, not one per box.
    solution = "\\boxed{" * 14_286
    assert strip_boxed(solution) == solution


def test_strip_boxed_leaves_text_without_a_box_unchanged():
    assert strip_boxed("Thus $f(x) = x^{2}$ and $\\{1, 2\\}$.") == "Thus $f(x) = x^{2}$ and $\\{1, 2\\}$."


def test_math_missing_solution_is_a_missing_field():
    row = math_row("x")
    del row["solution"]
    with pytest.raises(MissingField, match="solution"):
        map_math(row)


def test_math_llmfoundry_context_is_the_instruction_and_chain_of_thought_the_output():
    row = {
        "context": "If $3x + 2 = 14$, what is $x$?",
        "chain_of_thought": "Subtracting 2 gives $3x = 12$, so $x = \\boxed{4}$.",
        "answer": "4",
    }
    assert map_math_llmfoundry(row) == Mapped(
        "If $3x + 2 = 14$, what is $x$?", "", "Subtracting 2 gives $3x = 12$, so $x = 4$."
    )


def test_math_llmfoundry_missing_chain_of_thought_is_a_missing_field():
    with pytest.raises(MissingField, match="chain_of_thought"):
        map_math_llmfoundry({"context": "If $3x + 2 = 14$, what is $x$?", "chain_of_thought": None})
