"""SciBench and TheoremQA mappers against scibench_format.py and theoremqa_format.py
(arielnlee/Platypus, data_pipeline/), on rows in the releases' shapes."""

from __future__ import annotations

import pytest

from pipeline.mappers.base import Mapped, MissingField
from pipeline.mappers.science_problems import map_scibench, map_theoremqa, map_theoremqa_json

# -- SciBench (mandyyyyii/scibench, dataset/original/*.json) ---------------------------------------

DE_BROGLIE = "Calculate the de Broglie wavelength for an electron with a kinetic energy of $100 \\mathrm{eV}$"
DE_BROGLIE_SOLUTION = (
    "The kinetic energy is $E_k = p^2 / 2 m_e$, so $p = (2 m_e E_k)^{1/2}$ and "
    "$\\lambda = h / p = 1.23 \\times 10^{-10} \\mathrm{~m}$, or $0.123 \\mathrm{~nm}$."
)


def scibench_row(**extra) -> dict:
    row = {
        "problem_text": DE_BROGLIE,
        "answer_latex": " 0.123",
        "answer_number": "0.123",
        "unit": " nm",
        "source": "atkins",
        "problemid": " 8.3(a)",
        "comment": " ",
    }
    return {**row, **extra}


def test_scibench_solution_present_is_the_output():
    # scibench_format.py: output = d.get("solution"), kept because it is truthy.
    assert map_scibench(scibench_row(solution=DE_BROGLIE_SOLUTION)) == Mapped(
        DE_BROGLIE, "", DE_BROGLIE_SOLUTION, id=" 8.3(a)"
    )


def test_scibench_without_solution_falls_back_to_answer_number():
    # The problem files have no solution: d.get("solution") is None -> d.get("answer_number").
    assert map_scibench(scibench_row()).output == "0.123"


def test_scibench_empty_solution_falls_back_to_answer_number():
    assert map_scibench(scibench_row(solution="")).output == "0.123"


@pytest.mark.parametrize(("number", "expected"), [(0.123, "0.123"), (42, "42"), (-1.5e-3, "-0.0015")])
def test_scibench_a_numeric_answer_number_becomes_text(number, expected):
    assert map_scibench(scibench_row(answer_number=number)).output == expected


def test_scibench_neither_solution_nor_answer_number_is_a_missing_field():
    row = scibench_row()
    del row["answer_number"]
    with pytest.raises(MissingField, match="answer_number"):
        map_scibench(row)


def test_scibench_missing_problem_text_is_a_missing_field():
    row = scibench_row(solution=DE_BROGLIE_SOLUTION)
    del row["problem_text"]
    with pytest.raises(MissingField, match="problem_text"):
        map_scibench(row)


# -- TheoremQA: the hub's test.csv and the GitHub release's JSON ------------------------------------

LAH_QUESTION = "How many ways are there to divide a set of 8 elements into 5 non-empty ordered subsets?"
LAH_DEF = (
    "In combinatorics, Lah numbers are the coefficients expressing rising factorials in terms of "
    "falling factorials; L(n, k) counts the ways to divide a set of n elements into k non-empty ordered subsets."
)


def theoremqa_csv_row(**changes) -> dict:
    row = {
        "Question": LAH_QUESTION,
        "Answer": "11760",
        "Answer_type": "integer",
        "Picture": None,
        "source": "self",
        "id": "jianyu_xu/Lah_number_2.json",
        "explanation": "NONE",
        "theorem": "Lah number",
        "subfield": "Combinatorics",
        "field": "Math",
        "theorem_def": LAH_DEF,
    }
    return {**row, **changes}


def test_theoremqa_instruction_is_question_then_relevant_theorem_definition():
    # theoremqa_format.py: "{}\nRelevant Theorem: {}".format(row["Question"], row["theorem_def"]).
    assert map_theoremqa(theoremqa_csv_row()) == Mapped(
        LAH_QUESTION + "\nRelevant Theorem: " + LAH_DEF, "", "11760", id="jianyu_xu/Lah_number_2.json"
    )


def test_theoremqa_missing_theorem_def_is_a_missing_field():
    row = theoremqa_csv_row()
    del row["theorem_def"]
    with pytest.raises(MissingField, match="theorem_def"):
        map_theoremqa(row)


def theoremqa_json_row(answer, answer_type: str) -> dict:
    return {
        "Question": "For matrix A = [[2, 0], [0, 3]], what are its eigenvalues?",
        "Answer": answer,
        "Answer_type": answer_type,
        "Picture": None,
        "source": "self",
        "id": "wenhuchen/eigen_value1.json",
        "explanation": "NONE",
        "theorem": "eigenvalues and eigenvectors",
        "subfield": "Linear algebra",
        "field": "Math",
    }


@pytest.mark.parametrize(
    ("answer", "answer_type", "expected"),
    [
        ([2, 3], "list of integer", "[2, 3]"),
        ([0.5, -1.25], "list of float", "[0.5, -1.25]"),
        (True, "bool", "True"),
        (False, "bool", "False"),
        (0.5, "float", "0.5"),
        (0, "integer", "0"),
    ],
)
def test_theoremqa_json_typed_answers_are_written_as_python_str(answer, answer_type, expected):
    mapped = map_theoremqa_json(theoremqa_json_row(answer, answer_type))
    assert mapped == Mapped(
        "For matrix A = [[2, 0], [0, 3]], what are its eigenvalues?\nRelevant Theorem: eigenvalues and eigenvectors",
        "",
        expected,
        id="wenhuchen/eigen_value1.json",
    )


def test_theoremqa_json_null_answer_is_a_missing_field():
    with pytest.raises(MissingField, match="Answer"):
        map_theoremqa_json(theoremqa_json_row(None, "integer"))
