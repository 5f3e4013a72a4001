"""The customer rules as pure functions: which customers a user is bound to (Alerta's lookup by login, domain and
groups), which customer a write gets, what a bound principal sees, and the header that carries them to the query
service."""

from __future__ import annotations

import pytest

from shared import rules
from shared.commands import for_customers
from shared.customers import (
    CustomerRefused,
    NoCustomerMatch,
    assign_customer,
    customer_filter,
    customers_for,
    decode_bound,
    encode_bound,
    visible,
)

LOOKUPS = [
    {"_id": "1", "match": "alice@acme.com", "customer": "Acme"},
    {"_id": "2", "match": "globex.com", "customer": "Globex"},
    {"_id": "3", "match": "ops-team", "customer": "Initech"},
    {"_id": "4", "match": "ops-team", "customer": "Acme"},
    {"_id": "5", "match": "root-group", "customer": "*"},
]


def test_a_login_matches_its_own_lookup() -> None:
    assert customers_for("alice@acme.com", [], LOOKUPS) == {"Acme"}


def test_a_login_matches_by_its_domain() -> None:
    assert customers_for("bob@globex.com", [], LOOKUPS) == {"Globex"}


def test_groups_add_their_customers() -> None:
    assert customers_for("bob@globex.com", ["ops-team"], LOOKUPS) == {"Globex", "Initech", "Acme"}


def test_a_star_lookup_and_an_admin_see_every_customer() -> None:
    assert customers_for("carol@nowhere.org", ["root-group"], LOOKUPS) == frozenset()
    assert customers_for("carol@nowhere.org", [], LOOKUPS, admin=True) == frozenset()


def test_no_matching_lookup_is_refused_naming_the_user() -> None:
    with pytest.raises(NoCustomerMatch, match="carol@nowhere.org"):
        customers_for("carol@nowhere.org", ["devs"], LOOKUPS)


def test_a_login_without_a_domain_matches_only_itself() -> None:
    assert customers_for("ops-team", [], LOOKUPS) == {"Initech", "Acme"}


def test_a_bound_principal_gets_its_only_customer() -> None:
    assert assign_customer(None, frozenset({"Acme"}), may_choose=False) == "Acme"
    assert assign_customer("Acme", frozenset({"Acme"}), may_choose=False) == "Acme"


def test_another_customer_is_refused_as_alerta_does() -> None:
    with pytest.raises(CustomerRefused, match="not allowed to set customer to 'Globex'"):
        assign_customer("Globex", frozenset({"Acme"}), may_choose=False)
    with pytest.raises(CustomerRefused, match="not allowed"):
        assign_customer("Globex", frozenset(), may_choose=False)


def test_two_customers_must_name_one() -> None:
    with pytest.raises(CustomerRefused, match="more than one possibility"):
        assign_customer(None, frozenset({"Acme", "Globex"}), may_choose=False)
    assert assign_customer("Globex", frozenset({"Acme", "Globex"}), may_choose=False) == "Globex"


def test_an_admin_names_any_customer_or_none() -> None:
    assert assign_customer("Globex", frozenset(), may_choose=True) == "Globex"
    assert assign_customer(None, frozenset(), may_choose=True) is None


def test_visibility_and_the_store_filter() -> None:
    assert visible(frozenset(), "Acme") and visible(frozenset(), None)
    assert visible(frozenset({"Acme"}), "Acme")
    assert not visible(frozenset({"Acme"}), "Globex") and not visible(frozenset({"Acme"}), None)
    assert customer_filter(frozenset()) == {}
    assert customer_filter(frozenset({"b", "a"})) == {"customer": {"$in": ["a", "b"]}}


def test_commands_act_only_on_their_senders_customers() -> None:
    assert for_customers({"customer": "Acme"}, {"customers": None})
    assert for_customers({"customer": "Acme"}, {"customers": ["Acme"]})
    assert not for_customers({"customer": "Globex"}, {"customers": ["Acme"]})
    assert not for_customers({}, {"customers": ["Acme"]})


@pytest.mark.parametrize("bound", [frozenset(), frozenset({"Acme"}), frozenset({"a\ud800b", "ü", "x,y"})])
def test_the_header_round_trips_any_customer(bound: frozenset[str]) -> None:
    value = encode_bound(bound)
    assert value.isascii() and decode_bound(value) == bound


@pytest.mark.parametrize("value", ["{}", '"Acme"', "[1]", "not json", "[" * 5000, '["a"' + ', "a"' * 1000 + "]"])
def test_a_malformed_header_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        decode_bound(value)


def _alert(customer: str | None, severity: str = "major") -> dict[str, object]:
    return {"id": f"id-{customer}-{severity}", "resource": "web01", "event": "Down", "environment": "Production",
            "severity": severity, "correlate": [], "status": None, "service": ["s"], "group": "Misc", "value": None,
            "text": "", "tags": [], "attributes": {}, "origin": "o", "type": "t", "createTime": None,
            "timeout": 60, "rawData": None, "customer": customer}


def test_the_customer_is_part_of_an_alerts_identity() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    outcome, acme = rules.receive([], _alert("Acme") | {"createTime": now}, now, 10)
    assert outcome == rules.CREATED and acme["customer"] == "Acme"
    outcome, globex = rules.receive([acme], _alert("Globex") | {"createTime": now}, now, 10)
    assert outcome == rules.CREATED and globex["customer"] == "Globex"
    outcome, again = rules.receive([acme, globex], _alert("Acme") | {"createTime": now}, now, 10)
    assert outcome == rules.DUPLICATE and again["_id"] == acme["_id"]
    outcome, moved = rules.receive([acme, globex], _alert("Globex", "minor") | {"createTime": now}, now, 10)
    assert outcome == rules.CORRELATED and moved["_id"] == globex["_id"]


def test_a_customers_blackout_covers_only_its_alerts_with_customer_views() -> None:
    from datetime import UTC, datetime, timedelta

    from shared.blackouts import Window, covers

    now = datetime.now(UTC)
    doc = {"_id": "b", "environment": "Production", "startTime": now - timedelta(hours=1),
           "endTime": now + timedelta(hours=1), "customer": "Acme"}
    window, everyone = Window.of(doc), Window.of({**doc, "customer": None})
    acme, globex = {"environment": "Production", "customer": "Acme"}, {"environment": "Production", "customer": "G"}
    assert covers(window, acme, now, customers=True) and not covers(window, globex, now, customers=True)
    assert covers(everyone, globex, now, customers=True)
    assert covers(window, globex, now)  # customer views off: the customer is not matched (as Alerta)
