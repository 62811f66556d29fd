"""Apple's PassKit web service under hostile input: every bad request is a 4xx that stores
nothing (or only what PostgreSQL can hold), never a 500."""

from __future__ import annotations

import json

import pytest

from domains.wallet.models import PassKitDeviceRegistration, PassKitLog
from tests.support.graphql import GraphQLClient
from tests.wallet.conftest import create_apple
from tests.wallet.test_passkit import BASE, DEVICE, PUSH_TOKEN, call, installed, registration_path

DEEP_LIST = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"logs":' * 1000 + b"[]" + b"}" * 1000


def post(path: str, body: bytes | str, *, token: str | None = None):
    headers = {"Authorization": f"ApplePass {token}"} if token else {}
    return GraphQLClient().post_raw(body, path=path, headers=headers)


# --------------------------------------------------------------------------- log


@pytest.mark.django_db
@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT, b"[" * 100_000], ids=["list", "object", "unclosed"])
def test_log_body_nested_too_deep_is_a_400(body):
    assert post(f"{BASE}/log", body).status_code == 400
    assert not PassKitLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "line, kept",
    [
        ("a\u0000b", "a\ufffdb"),  # PostgreSQL text cannot hold NUL: it used to be a DataError (a 500)
        ("a\ud800b", "a\ufffdb"),  # nor a lone surrogate (not UTF-8 at all)
        ("\udfff\u0000", "\ufffd\ufffd"),
        ("caf\u00e9 \U0001f600 ok", "caf\u00e9 \U0001f600 ok"),  # real text, astral plane included, is kept
    ],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate-and-nul", "clean"],
)
def test_log_lines_postgres_cannot_store_are_cleaned(line, kept):
    # json.dumps escapes them (\u0000, \ud800): exactly what a client may send.
    assert post(f"{BASE}/log", json.dumps({"logs": [line]})).status_code == 200
    assert list(PassKitLog.objects.values_list("message", flat=True)) == [kept]


@pytest.mark.django_db
def test_log_nul_in_a_non_string_line_is_cleaned_too():
    assert post(f"{BASE}/log", json.dumps({"logs": [{"k": "a\u0000"}, ["\ud800"]]})).status_code == 200
    assert all("\x00" not in m for m in PassKitLog.objects.values_list("message", flat=True))
    assert PassKitLog.objects.count() == 2


# --------------------------------------------------------------------------- update list


@pytest.mark.django_db
@pytest.mark.parametrize(
    "since",
    [
        "999999999999999999",  # a year past 9999: OverflowError
        "99999999999999999999",  # past timedelta's range: OverflowError
        "9" * 5000,
        "\u00b2",  # '²': str.isdigit() says yes, int() says no (ValueError)
        "\u0661\u0662\u0663",  # Arabic-Indic digits: int() would accept them, Apple never sends them
        "-1",
        "+1",
        " 1",
        "1.5",
    ],
    ids=["18-nines", "20-nines", "5000-nines", "superscript-two", "arabic-indic", "negative", "plus", "space",
         "fraction"],
)
def test_unusable_passes_updated_since_is_a_400(since):
    from domains.wallet.credentials import apple_credentials

    type_id = apple_credentials().pass_type_identifier
    response = GraphQLClient().post_raw({"passesUpdatedSince": since}, method="GET",
                                        path=f"{BASE}/devices/{DEVICE}/registrations/{type_id}")
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("since", ["0", "1", "1700000000000000", "253402300799999999"],
                         ids=["zero", "one", "2023", "end-of-9999"])
def test_in_range_passes_updated_since_is_accepted(since):
    from domains.wallet.credentials import apple_credentials

    type_id = apple_credentials().pass_type_identifier
    response = GraphQLClient().post_raw({"passesUpdatedSince": since}, method="GET",
                                        path=f"{BASE}/devices/{DEVICE}/registrations/{type_id}")
    assert response.status_code == 204  # this device follows nothing


@pytest.mark.django_db
@pytest.mark.parametrize("device", ["a%00b", "%00", "abc%0A", "a%20b"], ids=["nul", "only-nul", "newline", "space"])
def test_device_id_no_device_could_have_is_a_400(device):
    """The id comes from the path, and "%00" decodes to a NUL, which PostgreSQL refuses (a 500)."""
    from domains.wallet.credentials import apple_credentials

    type_id = apple_credentials().pass_type_identifier
    response = GraphQLClient().post_raw(b"", method="GET", path=f"{BASE}/devices/{device}/registrations/{type_id}")
    assert response.status_code == 400


# --------------------------------------------------------------------------- registration


@pytest.mark.django_db(transaction=True)
def test_registration_body_nested_too_deep_is_a_400(holder_client, ticket):
    pass_json = installed(create_apple(holder_client, ticket)["walletPass"])
    token = pass_json["authenticationToken"]
    for body in (DEEP_LIST, b'{"pushToken":' * 1000 + b'"0f"' + b"}" * 1000):
        assert post(registration_path(pass_json), body, token=token).status_code == 400
    assert not PassKitDeviceRegistration.objects.exists()
    # The pass still registers normally afterwards.
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_unregistering_a_device_id_no_device_could_have_is_a_400(holder_client, ticket):
    pass_json = installed(create_apple(holder_client, ticket)["walletPass"])
    token = pass_json["authenticationToken"]
    assert call("POST", registration_path(pass_json), token=token, body={"pushToken": PUSH_TOKEN}).status_code == 201
    assert call("DELETE", registration_path(pass_json, device="a%00b"), token=token).status_code == 400
    assert call("DELETE", registration_path(pass_json, device="a%00b")).status_code == 401  # the token first
    assert PassKitDeviceRegistration.objects.count() == 1  # nothing changed
