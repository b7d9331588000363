"""The field template language: bare names, placeholders, nesting, filters, escapes, errors."""

from __future__ import annotations

import pytest

from pipeline.config.field_template import MissingField, TemplateError, parse_template
from pipeline.config.run_config import ConfigError, config_from_dict


def render(template: str, row: dict):
    return parse_template(template).render(row)


# -- bare names and placeholders ------------------------------------------------------


def test_bare_name_returns_the_raw_value_so_callers_can_type_check_it():
    assert render("question", {"question": "What is 2+2?"}) == "What is 2+2?"
    assert render("answer", {"answer": 4}) == 4  # not "4": ingest reports the non-string


def test_bare_name_missing_or_null_is_a_missing_field():
    with pytest.raises(MissingField, match="question"):
        render("question", {"other": "x"})
    with pytest.raises(MissingField, match="question"):
        render("question", {"question": None})


def test_required_placeholder_missing_raises():
    with pytest.raises(MissingField, match="context"):
        render("{context}\n{question}", {"question": "q"})


def test_optional_placeholder_missing_or_null_renders_empty():
    assert render("{context?}|{question}", {"question": "q"}) == "|q"
    assert render("{context?}|{question}", {"context": None, "question": "q"}) == "|q"


def test_non_string_scalar_inside_a_template_is_rendered_with_str():
    assert render("n = {n}, ok = {ok}", {"n": 3, "ok": True}) == "n = 3, ok = True"


def test_template_fields_lists_top_level_names():
    assert parse_template("{ctx?}: {q.text|strip}").fields() == ["ctx", "q"]


# -- nested values ----------------------------------------------------------------------


def test_nested_key_of_a_mapping():
    assert render("Q: {meta.question}", {"meta": {"question": "why?"}}) == "Q: why?"


def test_nested_key_over_a_list_of_mappings_collects_each_item():
    row = {"choices": [{"text": "red"}, {"text": "blue"}]}
    assert render("{choices.text|comma}", row) == "red, blue"


def test_nested_key_missing_is_required_unless_optional():
    with pytest.raises(MissingField, match="meta.question"):
        render("Q: {meta.question}", {"meta": {"other": 1}})
    assert render("Q: {meta.question?}", {"meta": {"other": 1}}) == "Q: "


# -- filters ------------------------------------------------------------------------------


def test_lettered_filter():
    assert render("{c|lettered}", {"c": ["x", "y", "z"]}) == "A. x\nB. y\nC. z"


def test_paren_lettered_filter():
    assert render("{c|paren_lettered}", {"c": ["x", "y"]}) == "(A) x (B) y"


def test_lines_filter():
    assert render("{c|lines}", {"c": ["one", "two"]}) == "one\ntwo"


def test_comma_filter():
    assert render("{c|comma}", {"c": ["one", 2]}) == "one, 2"


def test_strip_filter():
    assert render("[{a|strip}]", {"a": "  padded \n"}) == "[padded]"


def test_filters_apply_left_to_right():
    # strip then lettered: one item; lettered then strip: the joined lines, stripped.
    assert render("{c|lettered|strip}", {"c": [" x ", "y"]}) == "A.  x \nB. y"
    assert render("{c|strip|lettered}", {"c": "  x  "}) == "A. x"


def test_a_filtered_placeholder_is_not_bare_and_renders_text():
    assert render("{n|str}", {"n": 7}) == "7"


# -- literal braces and parse errors -----------------------------------------------------


def test_doubled_braces_are_literal():
    assert render("{{{a}}} and {{b}}", {"a": "x"}) == "{x} and {b}"


@pytest.mark.parametrize("text", ["{a", "a}", "{a}}b{", "}{a}", "x {a} {", "{{a}"])
def test_unbalanced_braces_raise(text):
    with pytest.raises(TemplateError, match="unbalanced"):
        parse_template(text)


@pytest.mark.parametrize("text", ["{}", "{ }", "{?}", "{|strip}"])
def test_empty_placeholder_raises(text):
    with pytest.raises(TemplateError):
        parse_template(text)


def test_unknown_filter_raises_naming_it():
    with pytest.raises(TemplateError, match="'upper'"):
        parse_template("{a|upper}")


def test_lettered_beyond_26_items_does_not_crash_with_index_error():
    """A row with 27 choices must render (or fail as a row problem), not raise IndexError,
    which ingest does not catch and which would abort the whole run."""
    row = {"c": [str(i) for i in range(27)]}
    try:
        text = render("{c|lettered}", row)
    except (ValueError, MissingField):
        return  # reported as a row problem: quarantined by ingest
    assert text.count("\n") == 26


# -- templates in a config ----------------------------------------------------------------


def _config_with_instruction(template: str) -> dict:
    return {
        "sources": [
            {
                "name": "s",
                "local": {"path": "s.jsonl"},
                "fields": {"instruction": template, "output": "answer"},
                "license": "mit",
            }
        ]
    }


@pytest.mark.parametrize("template, words", [("{question", "unbalanced"), ("{q|shout}", "unknown filter")])
def test_bad_template_fails_config_load_with_one_line_naming_the_field(template, words):
    with pytest.raises(ConfigError) as info:
        config_from_dict(_config_with_instruction(template))
    lines = info.value.lines
    assert len(lines) == 1
    assert lines[0].startswith("sources.0.fields.instruction: ")
    assert words in lines[0]
    assert "\n" not in lines[0]


def test_good_template_loads():
    cfg = config_from_dict(_config_with_instruction("{context?}\n\n{question}\n\n{choices.text|lettered}"))
    assert cfg.sources[0].fields.instruction.startswith("{context?}")


def test_chat_filters_take_the_first_user_and_assistant_turns():
    turns = [("system", "s"), ("human", "q"), ("gpt", "a"), ("human", "q2")]
    sharegpt = {"conversations": [{"from": who, "value": text} for who, text in turns]}
    messages = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert parse_template("{conversations|first_user}").render(sharegpt) == "q"
    assert parse_template("{conversations|first_assistant}").render(sharegpt) == "a"
    assert parse_template("{messages|first_user}\n{messages|first_assistant}").render(messages) == "q\na"
    with pytest.raises(MissingField):
        parse_template("{messages|first_assistant}").render({"messages": [{"role": "user", "content": "q"}]})
    with pytest.raises(MissingField):
        parse_template("{messages|first_user}").render({"messages": "not a list"})
