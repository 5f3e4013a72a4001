"""Users logging in under CUSTOMER_VIEWS: the token names the customers whose lookup matches the user's login, its
domain or one of its groups (Alerta's rule), and the token's holder sees only those customers' alerts; a user no
lookup matches cannot log in (403, as in Alerta); an admin's token is bound to none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest_asyncio

from .support import Stack, alert, assert_error, start_stack, unique
from .test_accounts_login import bearer, log_in, make_user


@pytest_asyncio.fixture(scope="module")
async def views(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, CUSTOMER_VIEWS="true") as stack:
        yield stack


async def lookup(stack: Stack, customer: str, match: str) -> None:
    status, body = await stack.request("POST", "/customer", {"customer": customer, "match": match})
    assert status == 201, body


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_a_users_token_names_the_customers_its_domain_matches(views: Stack) -> None:
    user = await make_user(views, "user")
    customer = unique("Tenant")
    await lookup(views, customer, user["email"])  # the login itself matches
    token = await log_in(views, user["email"], user["password"])
    assert claims(token)["customers"] == [customer]
    resource = unique()
    status, mine = await views.request("POST", "/alert", alert(resource), auth=False, headers=bearer(token))
    assert status == 201 and mine["alert"]["customer"] == customer, mine
    status, other = await views.request("POST", "/alert", alert(resource, customer=unique("Other")))
    assert status == 201, other
    status, body = await views.request("GET", f"/alerts?{urlencode({'resource': resource})}", auth=False,
                                       headers=bearer(token))
    assert status == 200 and [a["id"] for a in body["alerts"]] == [mine["id"]]
    status, reply = await views.request("GET", f"/alert/{other['id']}", auth=False, headers=bearer(token))
    assert_error(status, reply, 404, "not found")


async def test_a_user_no_lookup_matches_cannot_log_in_and_an_admin_is_bound_to_none(views: Stack) -> None:
    user = await make_user(views, "user", email=f"{unique('x')}@{unique('nomatch')}.example")
    status, body = await views.request("POST", "/auth/login", {"username": user["email"],
                                                               "password": user["password"]}, auth=False)
    assert_error(status, body, 403, f"No customer lookup configured for user {user['email']}")
    admin = await make_user(views, "admin")
    assert claims(await log_in(views, admin["email"], admin["password"]))["customers"] == []
