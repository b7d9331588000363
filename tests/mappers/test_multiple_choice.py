"""ReClor, OpenBookQA (hub "additional" and the Main TSVs), ScienceQA and ARB mappers, against
reclor_formatted.py, OpenBookQA_format.py, scienceqa_format.py and duckai_format.py
(arielnlee/Platypus, data_pipeline/). Rows are written in the upstream datasets' shapes."""

from __future__ import annotations

import pytest

from pipeline.mappers.base import Mapped, MissingField
from pipeline.mappers.multiple_choice import (
    map_arb,
    map_openbookqa,
    map_openbookqa_main_tsv,
    map_reclor,
    map_scienceqa,
)

# -- ReClor (metaeval/reclor) ----------------------------------------------------------------------

RECLOR_CONTEXT = (
    "Most people believe that regular exercise improves mood. A recent survey found that people who run "
    "at least three times a week reported higher well-being than people who do not run."
)
RECLOR_QUESTION = "Which one of the following, if true, most weakens the argument?"
RECLOR_ANSWERS = [
    "Runners in the survey were, on average, wealthier than non-runners.",
    "The survey included both men and women.",
    "People who are already happy are more likely to take up running.",
    "Exercise has health benefits beyond its effect on mood.",
]


def reclor_row(label) -> dict:
    return {
        "context": RECLOR_CONTEXT,
        "question": RECLOR_QUESTION,
        "answers": list(RECLOR_ANSWERS),
        "label": label,
        "id_string": "train_1287",
    }


def test_reclor_label_two_is_c_with_the_choose_input_and_lettered_answers():
    # reclor_formatted.py: context + " " + question, then "\n" + chr(65 + i) + ": " + ans; chr(65 + label).
    assert map_reclor(reclor_row(2)) == Mapped(
        RECLOR_CONTEXT
        + " "
        + RECLOR_QUESTION
        + "\nA: Runners in the survey were, on average, wealthier than non-runners."
        + "\nB: The survey included both men and women."
        + "\nC: People who are already happy are more likely to take up running."
        + "\nD: Exercise has health benefits beyond its effect on mood.",
        "Choose A, B, C or D as your solution.",
        "C",
        id="train_1287",
    )


@pytest.mark.parametrize("label", [4, -1, 26])
def test_reclor_label_out_of_range_is_malformed(label):
    with pytest.raises(ValueError, match="names none of the 4 answers"):
        map_reclor(reclor_row(label))


def test_reclor_missing_label_is_a_missing_field():
    row = reclor_row(0)
    del row["label"]
    with pytest.raises(MissingField, match="label"):
        map_reclor(row)


# -- OpenBookQA, hub config "additional" ---------------------------------------------------------


def obqa_row(answer_key: str = "B") -> dict:
    return {
        "id": "8-376",
        "question_stem": "Which of these would let the most heat travel through?",
        "choices": {
            "text": [
                "a new pair of jeans",
                "a steel spoon in a cafeteria",
                "a cotton candy at a store",
                "a calvin klein cotton hat",
            ],
            "label": ["A", "B", "C", "D"],
        },
        "answerKey": answer_key,
        "fact1": "Metal is a thermal conductor.",
        "humanScore": 1.0,
        "clarity": 2.0,
        "turkIdAnonymized": "b356d338b7",
    }


def test_openbookqa_answer_key_b_names_the_text_of_option_b():
    # OpenBookQA_format.py: stem + ": " + "\n".join(["\nA: ...", "B: ...", ...]); input = fact1;
    # output = "The answer is " + answerKey + ": " + choices[ord(answerKey) - 65].
    assert map_openbookqa(obqa_row("B")) == Mapped(
        "Which of these would let the most heat travel through?: "
        "\nA: a new pair of jeans\nB: a steel spoon in a cafeteria\nC: a cotton candy at a store"
        "\nD: a calvin klein cotton hat",
        "Metal is a thermal conductor.",
        "The answer is B: a steel spoon in a cafeteria",
        id="8-376",
    )


def test_openbookqa_answer_key_naming_no_option_is_malformed():
    with pytest.raises(ValueError, match="answer key 'E' names none of the options A, B, C, D"):
        map_openbookqa(obqa_row("E"))


def test_openbookqa_missing_answer_key_is_a_missing_field():
    row = obqa_row()
    del row["answerKey"]
    with pytest.raises(MissingField, match="answerKey"):
        map_openbookqa(row)


# -- OpenBookQA, the release's Main TSVs ---------------------------------------------------------


def obqa_tsv_row(choices: str, answer_key: str = "B") -> dict:
    return {
        "ID": "8-376",
        "Question Stem": "Which of these would let the most heat travel through?",
        "Choices": choices,
        "Complete Question": "Which of these would let the most heat travel through? (A) a new pair of jeans ...",
        "Answer Key": answer_key,
    }


TSV_CHOICES = (
    "(A) a new pair of jeans (B) a steel spoon in a cafeteria "
    "(C) a cotton candy at a store (D) a calvin klein cotton hat"
)


def test_openbookqa_tsv_answer_key_b_names_the_text_of_option_b_with_no_fact():
    assert map_openbookqa_main_tsv(obqa_tsv_row(TSV_CHOICES, "B")) == Mapped(
        "Which of these would let the most heat travel through?: "
        "\nA: a new pair of jeans\nB: a steel spoon in a cafeteria\nC: a cotton candy at a store"
        "\nD: a calvin klein cotton hat",
        "",
        "The answer is B: a steel spoon in a cafeteria",
        id="8-376",
    )


def test_openbookqa_tsv_answer_key_naming_no_option_is_malformed():
    with pytest.raises(ValueError, match="answer key 'E' names none of the options"):
        map_openbookqa_main_tsv(obqa_tsv_row(TSV_CHOICES, "E"))


def test_openbookqa_tsv_choices_repeating_a_letter_are_malformed():
    choices = "(A) a new pair of jeans (A) a steel spoon in a cafeteria (C) a cotton candy (D) a cotton hat"
    with pytest.raises(ValueError, match="Choices is not"):
        map_openbookqa_main_tsv(obqa_tsv_row(choices))


# -- ScienceQA (metaeval/ScienceQA_text_only) ------------------------------------------------------

TENSE_SOLUTION = (
    "The sentence is in future tense. You can tell because it uses will before the main verb, print. "
    "So, the verb tells you about something that is going to happen."
)


def sqa_row(**changes) -> dict:
    row = {
        "question": "Which tense does the sentence use?\nMona will print her name with care.",
        "choices": ["present tense", "future tense", "past tense"],
        "answer": 1,
        "hint": "",
        "task": "closed choice",
        "grade": "grade2",
        "subject": "language science",
        "topic": "verbs",
        "category": "Verb tense",
        "skill": "Is the sentence in the past, present, or future tense?",
        "lecture": "Present tense verbs tell you about something that is happening now. "
        "Future tense verbs tell you about something that is going to happen.",
        "solution": TENSE_SOLUTION,
    }
    return {**row, **changes}


def test_scienceqa_choices_are_a_colon_lines_after_the_question_and_solution_is_the_output():
    # scienceqa_format.py: question + "\n" + "\n".join(f"{chr(65+i)}: {choice}"); lecture blanked
    # (no phrase of need_description in the instruction); solution as output.
    assert map_scienceqa(sqa_row()) == Mapped(
        "Which tense does the sentence use?\nMona will print her name with care.\n"
        "A: present tense\nB: future tense\nC: past tense",
        "",
        TENSE_SOLUTION,
    )


@pytest.mark.parametrize(
    "skill",
    [
        "Choose customary units of distance",
        "Choose customary units of mass",
        "Choose customary units of volume",
        "Is it a complete sentence or a run-on",
        "Use guide words",
    ],
)
def test_scienceqa_removed_skill_is_excluded_with_the_skill_as_cause(skill):
    mapped = map_scienceqa(sqa_row(skill=skill))
    assert mapped.excluded == "scienceqa_format.py: skill removed"
    assert mapped.cause == skill


def test_scienceqa_the_misspelled_fifth_skill_never_matches_the_real_skill_name():
    # Upstream lists "Is the sentence simple compound, comples, or compound-complex"; the dataset's
    # skill reads as below, so isin() kept these rows, and so does the mapper.
    mapped = map_scienceqa(sqa_row(skill="Is the sentence simple, compound, complex, or compound-complex?"))
    assert mapped.excluded is None


def test_scienceqa_empty_solution_is_excluded():
    mapped = map_scienceqa(sqa_row(solution=""))
    assert mapped.excluded == "scienceqa_format.py: no long-form solution"
    assert mapped.cause is None


GENE_LECTURE = (
    "All organisms have pieces of hereditary material called genes, which are passed from parents to "
    "offspring. Genes contain instructions for building the parts of an organism."
)


def gene_row(lecture: str = GENE_LECTURE) -> dict:
    return sqa_row(
        question="Based on this information, what is Pepper's phenotype for the fur color gene?",
        choices=["black fur", "brown fur"],
        answer=0,
        subject="natural science",
        topic="biology",
        category="Genes to traits",
        skill="Use genotypes to determine phenotypes",
        lecture=lecture,
        solution="Pepper's genotype for the fur color gene is FF. So, Pepper's phenotype is black fur.",
    )


def test_scienceqa_lecture_is_the_input_for_a_question_with_a_listed_phrase():
    mapped = map_scienceqa(gene_row())
    assert mapped.instruction == (
        "Based on this information, what is Pepper's phenotype for the fur color gene?\nA: black fur\nB: brown fur"
    )
    assert mapped.input == GENE_LECTURE
    assert mapped.excluded is None


def test_scienceqa_lecture_is_dropped_for_a_question_without_a_listed_phrase():
    assert map_scienceqa(sqa_row()).input == ""


def test_scienceqa_lecture_over_400_words_is_excluded_with_the_count():
    mapped = map_scienceqa(gene_row(" ".join(["gene"] * 401)))
    assert mapped.excluded == "scienceqa_format.py: lecture input over 400 words"
    assert mapped.cause == "401 words"


def test_scienceqa_lecture_of_exactly_400_words_is_kept():
    # df_reformatted[input_lengths <= 400]
    assert map_scienceqa(gene_row(" ".join(["gene"] * 400))).excluded is None


def test_scienceqa_a_long_lecture_on_a_question_that_needs_none_is_blanked_not_excluded():
    # The input is blanked before the length filter, so the long lecture counts 0 words.
    mapped = map_scienceqa(sqa_row(lecture=" ".join(["verb"] * 900)))
    assert mapped.input == "" and mapped.excluded is None


def test_scienceqa_missing_choices_is_a_missing_field():
    row = sqa_row()
    del row["choices"]
    with pytest.raises(MissingField, match="choices"):
        map_scienceqa(row)


# -- ARB (imone/ARB, duckai_format.py's output) ------------------------------------------------------


def test_arb_response_is_the_output_and_input_is_kept():
    row = {
        "instruction": "Which of the following is a noble gas?\nA. Nitrogen\nB. Argon\nC. Chlorine\nD. Sodium",
        "input": "Choose A, B, C or D as your solution.",
        "response": "B",
    }
    assert map_arb(row) == Mapped(row["instruction"], "Choose A, B, C or D as your solution.", "B")


def test_arb_without_response_reads_output():
    row = {"instruction": "Evaluate $\\int_0^1 x\\,dx$.", "input": "", "output": "$\\frac{1}{2}$"}
    assert map_arb(row) == Mapped("Evaluate $\\int_0^1 x\\,dx$.", "", "$\\frac{1}{2}$")
