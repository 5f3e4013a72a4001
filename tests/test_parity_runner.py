"""The parity runner's own rules (``make parity`` compares through them): what normalisation hides, what it keeps,
and how a declared difference covers only what it names."""

from __future__ import annotations

from tests.parity import deliberate
from tests.parity.model import Sequence, Step
from tests.parity.normalise import Answer, Normaliser, compare
from tests.parity.runner import Outcome, classify, fill
from tests.parity.sequences import SEQUENCES

REF, BUS = "http://127.0.0.1:18090", "http://127.0.0.1:40001"


def normalised(base: str, body: object, saved: dict[str, str], location: str | None = None) -> Answer:
    normaliser = Normaliser(base)
    for name, value in saved.items():
        normaliser.save(name, value)
    return normaliser.answer(Answer(201, body, location))


def test_ids_times_hrefs_and_request_ids_are_placeholders() -> None:
    ref_id, bus_id = "35cc3ec0-1dfd-44d1-90d7-454c9285d928", "0f9c2b1e-0000-4000-8000-7d1f2a3b4c5d"
    ref = normalised(REF, {"id": ref_id, "href": f"{REF}/alert/{ref_id}", "createTime": "2026-12-06T22:38:26.346Z",
                           "requestId": "a", "latency": 3, "other": "11111111-2222-3333-4444-555555555555"},
                     {"a1": ref_id})
    bus = normalised(BUS, {"id": bus_id, "href": f"{BUS}/alert/{bus_id}", "createTime": "2026-12-06T22:38:27.001Z",
                           "requestId": "b", "latency": 0, "other": "99999999-2222-3333-4444-555555555555"},
                     {"a1": bus_id})
    assert ref == bus
    assert ref.body == {"id": "<a1>", "href": "<base>/alert/<a1>", "createTime": "<time>",
                        "requestId": "<requestId>", "latency": "<measured>", "other": "<uuid>"}


def test_values_types_statuses_and_order_of_ordered_lists_still_differ() -> None:
    ref = Answer(200, {"severity": "major", "count": 1, "service": ["a", "b"], "tags": ["x", "y"]}, None)
    bus = Answer(201, {"severity": "minor", "count": 1.0, "service": ["b", "a"], "tags": ["y", "x"]}, None)
    paths = [d.path for d in compare(Normaliser(REF).answer(ref), Normaliser(BUS).answer(bus))]
    # tags are a set in Alerta (SELECT DISTINCT): compared sorted; a service list keeps its order
    assert paths == ["status", "body.severity", "body.count", "body.service.0", "body.service.1"]


def test_a_missing_key_is_a_difference_both_ways() -> None:
    paths = [str(d) for d in compare(Answer(200, {"a": 1}, None), Answer(200, {"b": None}, None))]
    assert paths == ["body.a: reference 1 | alertbus '<absent>'", "body.b: reference '<absent>' | alertbus None"]


def test_a_deliberate_entry_covers_only_its_steps_and_paths() -> None:
    entries = [deliberate.Deliberate("x", "why", ("errors / *",), ("body.message",))]
    step = Step("bad JSON", "POST", "/alert")
    outcome = Outcome()
    differing = compare(Answer(400, {"message": "a", "code": 400}, None), Answer(400, {"message": "b", "code": 400},
                                                                                  None))
    classify(outcome, Sequence("errors", (step,)), step, differing, entries)
    classify(outcome, Sequence("alerts", (step,)), step, differing, entries)
    classify(outcome, Sequence("errors", (step,)), step, [], entries)
    assert (outcome.requests, outcome.identical, outcome.deliberate, len(outcome.unexpected)) == (3, 1, 1, 1)
    assert outcome.unexpected[0][0] == "alerts" and outcome.used[0] == 1


def test_every_declared_difference_is_documented_in_the_readme() -> None:
    entries = deliberate.load()  # raises when an entry's README row is missing
    assert entries and all(entry.reason and entry.steps and entry.paths for entry in entries)


def test_sequences_name_their_steps_uniquely_and_fill_saved_values() -> None:
    names = [f"{s.name} / {step.name}" for s in SEQUENCES for step in s.steps]
    assert len(names) == len(set(names)) and len(names) > 150
    assert all(s.probe for s in SEQUENCES if s.requires)
    assert fill({"q": '{"id": "x"}', "path": "/alert/{a1}/note/{n9}"}, {"a1": "abc"}) == {
        "q": '{"id": "x"}', "path": "/alert/abc/note/{n9}"}
