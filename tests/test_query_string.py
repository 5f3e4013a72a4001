"""``q`` in Alerta's query-string syntax as a pure function: the text in, the restricted MongoDB filter out (the
same form the JSON ``q`` gives the store), or a ``BadInput`` naming ``q``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.query.filters import parse_alert_query
from services.query.querystring import MAX_DEPTH, MAX_LENGTH, MAX_TERMS
from shared.schemas import BadInput


def q(text: str, *extra: tuple[str, str]) -> dict[str, Any]:
    return parse_alert_query([("q", text), *extra]).filter


def search(pattern: str) -> dict[str, Any]:
    return {"$regex": pattern, "$options": "i"}


def refused(text: str, param: str = "q", *extra: tuple[str, str]) -> str:
    with pytest.raises(BadInput) as caught:
        parse_alert_query([("q", text), *extra])
    assert list(caught.value.errors) == [param], caught.value.errors
    return caught.value.message


def test_a_word_searches_a_text_field_anywhere_in_any_case() -> None:
    assert q("resource:web01") == {"resource": search("web01")}
    assert q("environment:prod") == {"environment": search("prod")}
    # Alerta's ILIKE takes % and _ as wildcards; alertbus searches them literally
    assert q("value:99%_") == {"value": search(r"99\%\_")}
    assert q("resource:web.01") == {"resource": search(r"web\.01")}


def test_bare_terms_search_text_unless_q_df_names_another_field() -> None:
    assert q("disk") == {"text": search("disk")}
    assert q("web", ("q.df", "resource")) == {"resource": search("web")}
    assert q("web", ("q.df", "tags")) == {"tags": "web"}
    assert "unknown field 'colour'" in refused("web", "q.df", ("q.df", "colour"))


def test_list_fields_match_an_equal_element() -> None:
    assert q("tags:london") == {"tags": "london"}
    assert q('service:"Web Api"') == {"service": "Web Api"}
    assert q("correlate:NodeUp") == {"correlate": "NodeUp"}


def test_a_phrase_is_literal_text_between_word_boundaries() -> None:
    assert q('"web server"') == {"text": search(r"\bweb\ server\b")}
    assert q('text:"d.sk (full)"') == {"text": search(r"\bd\.sk\ \(full\)\b")}
    assert q(r'text:"say \"hi\""') == {"text": search(r'\bsay\ \"hi\"\b')}


def test_wildcards_match_within_word_boundaries() -> None:
    assert q("resource:w?b01") == {"resource": search(r"\bw.?b01\b")}  # Alerta's ?: one character or none
    assert q("resource:web*1") == {"resource": search(r"\bweb.*1\b")}
    assert q(r"resource:a\*b?") == {"resource": search(r"\ba\*b.?\b")}  # an escaped * is literal
    assert q("resource:*") == {"resource": search(r"\b.*\b")}
    assert q("resource:*-x") == {"resource": search(r"\b.*\-x\b")}  # - is not a word character: kept
    pattern = q("resource:web*1")["resource"]["$regex"]
    assert re.search(pattern, "WEB-01", re.I) and not re.search(pattern, "web-02", re.I)


def test_a_star_at_an_end_next_to_a_word_character_is_dropped_with_its_boundary() -> None:
    """``\\bweb.*\\b`` finds what ``\\bweb`` finds; the store's backtracking engine takes far longer on it."""
    assert q("resource:web*") == {"resource": search(r"\bweb")}
    assert q("resource:**web") == {"resource": search(r"web\b")}
    assert q("resource:*web*") == {"resource": search("web")}
    assert q("resource:*a*b*c*") == {"resource": search("a.*b.*c")}
    for value in ("web01", "my web", "x-web-y", "webweb", "aweb", "web\nx", "x\nweb"):
        for term in ("web*", "*web", "*web*"):
            wild = "\\b" + term.replace("*", ".*") + "\\b"
            short = q(f"resource:{term}")["resource"]["$regex"]
            assert bool(re.search(wild, value, re.I)) == bool(re.search(short, value, re.I)), (term, value)


def test_regular_expressions_are_unanchored_and_case_insensitive() -> None:
    assert q("resource:/^web0[12]$/") == {"resource": search("^web0[12]$")}
    assert q("tags:/lon/") == {"tags": search("lon")}  # Alerta: a 500 on a list field
    assert q(r"text:/a\/b/") == {"text": search(r"a\/b")}


def test_ranges_compare_as_the_fields_type() -> None:
    assert q("timeout:[100 TO 300]") == {"timeout": {"$gte": 100, "$lte": 300}}
    assert q("timeout:{100 TO 300}") == {"timeout": {"$gt": 100, "$lt": 300}}
    assert q("duplicateCount:[2 TO *]") == {"duplicateCount": {"$gte": 2}}
    assert q("timeout:>200") == {"timeout": {"$gt": 200}} and q("timeout:<=200") == {"timeout": {"$lte": 200}}
    assert q("resource:[a TO m}") == {"resource": {"$gte": "a", "$lt": "m"}}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert q('createTime:["2024-01-01T00:00:00Z" TO *]') == {"createTime": {"$gte": start}}
    assert q(r"lastReceiveTime:{2024-01-01T00\:00\:00Z TO *]") == {"lastReceiveTime": {"$gt": start}}
    assert q("resource:[* TO *]") == {"resource": {"$ne": None}}  # Lucene's "the field is set"


def test_numbers_and_booleans_compare_by_value() -> None:
    assert q("duplicateCount:3") == {"duplicateCount": 3}
    assert q("repeat:true") == {"repeat": True} and q("repeat:no") == {"repeat": False}
    assert q("NOT timeout:86400") == {"timeout": {"$nin": [None, 86400]}}


def test_field_names_take_alertas_column_names_and_attributes() -> None:
    assert q("duplicate_count:0") == {"duplicateCount": 0}
    assert q("last_receive_id:ab") == {"lastReceiveId": search("ab")}
    assert q("id:abc") == {"_id": search("abc")}
    assert q("attributes.region:EU") == {"attributes.region": search("EU")}
    assert q("_.region:EU") == {"attributes.region": search("EU")}
    assert q("attributes.deep.path:x") == {"attributes.deep.path": search("x")}


def test_exists_looks_at_attributes() -> None:
    assert q("_exists_:region") == {"attributes.region": {"$exists": True}}
    assert q("_exists_:attributes.region") == {"attributes.region": {"$exists": True}}
    assert q("NOT _exists_:region") == {"attributes.region": {"$exists": False}}


def test_and_or_and_implicit_or() -> None:
    web, db = {"resource": search("web")}, {"resource": search("db")}
    major = {"severity": search("major")}
    assert q("resource:web AND severity:major") == {"resource": search("web"), "severity": search("major")}
    assert q("resource:web OR resource:db OR resource:x") == {"$or": [web, db, {"resource": search("x")}]}
    assert q("resource:web resource:db") == {"$or": [web, db]}
    assert q("resource:web OR resource:db AND severity:major") == {"$or": [web, {**db, **major}]}
    assert q("(resource:web OR resource:db) AND severity:major") == {"$and": [{"$or": [web, db]}, major]}
    assert q("resource:(web OR db)") == {"$or": [web, db]}
    assert q("tags:(a b)") == {"$or": [{"tags": "a"}, {"tags": "b"}]}


def test_not_holds_only_where_the_field_is_set() -> None:
    """Alerta's SQL: a comparison with a missing attribute is NULL, and NOT NULL is never true."""
    assert q("NOT resource:web") == {"resource": {"$ne": None, "$not": search("web")}}
    assert q("NOT attributes.region:EU") == {"attributes.region": {"$ne": None, "$not": search("EU")}}
    assert q("NOT tags:a") == {"tags": {"$nin": [None, "a"]}}
    assert q("NOT timeout:[1 TO 5]") == {"$or": [{"timeout": {"$lt": 1}}, {"timeout": {"$gt": 5}}]}
    assert q("NOT timeout:{1 TO *]") == {"timeout": {"$lte": 1}}
    assert q("NOT NOT resource:web") == {"resource": search("web")}


def test_not_is_pushed_down_by_de_morgan() -> None:
    not_a, not_b = ({"tags": {"$nin": [None, v]}} for v in ("a", "b"))
    assert q("NOT (tags:a OR tags:b)") == {"$and": [not_a, not_b]}
    assert q("NOT (tags:a AND tags:b)") == {"$or": [not_a, not_b]}
    assert q("-tags:a") == not_a


def test_a_negated_operand_of_or_must_not_hold_as_in_alerta_and_lucene() -> None:
    assert q("tags:a OR NOT tags:b") == {"$and": [{"tags": "a"}, {"tags": {"$nin": [None, "b"]}}]}
    assert q("tags:a tags:b -tags:c") == {"$and": [{"$or": [{"tags": "a"}, {"tags": "b"}]},
                                                   {"tags": {"$nin": [None, "c"]}}]}
    assert q("NOT tags:a OR NOT tags:b") == {"$and": [{"tags": {"$nin": [None, "a"]}},
                                                      {"tags": {"$nin": [None, "b"]}}]}
    assert q("+tags:a tags:b") == {"tags": "a"}  # Lucene: beside a required term, the others only rank


def test_json_documents_still_go_the_json_way() -> None:
    assert q('  {"resource": "web01"}') == {"resource": "web01"}
    assert "unknown field 'secret'" in refused('{"secret": 1}')


def test_q_string_filters_status_so_expired_alerts_show() -> None:
    assert parse_alert_query([("q", "status:expired")]).status_filtered


@pytest.mark.parametrize(("text", "says"), [
    ("colour:red", "unknown field 'colour'"),
    ("rawData:x", "unknown field 'rawData'"),
    ("attributes:x", "unknown field 'attributes'"),
    ("attributes.$where:1", "part starting with $"),
    ("_exists_:$where", "part starting with $"),
    ("_exists_:reg*", "_exists_ takes the name of an attribute"),
    ("resource:web AND", "not a valid query"),
    ('resource:"unclosed', "not a valid query"),
    ("(resource:web", "not a valid query"),
    ("  ", "q is empty"),
    ("a:b:c", "a field cannot hold a field"),
    ("resource:web~", "fuzzy search"),
    ("resource:web~2", "fuzzy search"),
    ('"web server"~3', "proximity search"),
    ("resource:web^2", "boosting"),
    ("a~.", "~ and ^ take a number"),
    ("tags:a && tags:b", "instead of &&"),
    ("tags:a || tags:b", "instead of &&"),
    ("!tags:a", "instead of &&"),
    ("createTime:2024-01-01", "compare it with a range"),
    ("createTime:[yesterday TO *]", "ISO 8601"),
    ("duplicateCount:many", "is an integer"),
    ("duplicateCount:99999999999999999999", "64-bit"),
    ("repeat:perhaps", "true or false"),
    ("timeout:[1 TO x]", "is an integer"),
    ("timeout:/1/", "regular expressions apply to text fields only"),
    ("timeout:1*", "wildcards apply to text fields only"),
    ("resource:/(a+)+$/", "exponential"),
    ("resource:/(?=a)/", "not supported"),
    ("resource:w" + "?" * 9, "more than 8 wildcards"),
    ("resource:a*b*c*d", "more than 2 * inside it"),
    ("resource:" + "*a" * 9, "more than 2 * inside it"),
])
def test_mistakes_are_400s_naming_q(text: str, says: str) -> None:
    assert says in refused(text)


@pytest.mark.parametrize(("text", "says"), [
    ("\ud800", "not valid Unicode text"),  # a lone surrogate: what undecodable bytes may become
    ("resource:web\udcff", "not valid Unicode text"),
    ("x" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters"),
    ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} levels"),
    ("(" * 2000 + "a" + ")" * 2000, f"nested more than {MAX_DEPTH} levels"),  # luqum's own walks recurse
    ("NOT " * 1000 + "a", f"nested more than {MAX_DEPTH} levels"),
    ("-" * 4000 + "a", f"nested more than {MAX_DEPTH} levels"),
    ("a:" * 2000 + "b", f"nested more than {MAX_DEPTH} levels"),
    (" OR ".join(["tags:a"] * (MAX_TERMS + 1)), f"more than {MAX_TERMS} terms"),
    ("a " * 2000, f"more than {MAX_TERMS} terms"),
    ("resource:/a\x00b/", "NUL"),
    ("resource:/" + "a" * 300 + "/", "at most 256 characters"),
    ("resource:/" + "(a|b)" * 9 + "/", "more than 8 alternations"),
])
def test_hostile_query_strings_are_400s(text: str, says: str) -> None:
    assert says in refused(text)


def test_the_limits_themselves_are_accepted() -> None:
    assert len(q(" OR ".join(["tags:a"] * MAX_TERMS))["$or"]) == MAX_TERMS
    assert q("(" * (MAX_DEPTH - 2) + "tags:a" + ")" * (MAX_DEPTH - 2)) == {"tags": "a"}
    assert q("resource:" + "w" * (MAX_LENGTH - 9)) == {"resource": search("w" * (MAX_LENGTH - 9))}


def test_control_characters_are_searched_escaped() -> None:
    assert q("resource:a\x00b") == {"resource": search(r"a\x00b")}  # MongoDB refuses a pattern holding NUL


SYMBOLS = list('ab:()[]{}"/\\*?~^!&|+-. _<>=$\x00\ud800é') + [
    "AND", "OR", "NOT", "TO", "resource", "tags", "timeout", "_exists_", "attributes.x", "createTime", "repeat",
]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(SYMBOLS), max_size=40).map("".join)))
def test_any_text_is_a_filter_or_a_400(text: str) -> None:
    """Never an exception other than BadInput (the HTTP layer's 400): whatever luqum makes of the text."""
    try:
        result = q(text)
    except BadInput as exc:
        assert list(exc.errors) == ["q"]
    else:
        assert isinstance(result, dict)
