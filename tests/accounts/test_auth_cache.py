"""The per-process authentication cache (domains/common/authcache.py) is on, and revocation still
ends an access token or a scanner's device token on the very next request: logout, password
change, refresh-token reuse (family revoked), role change, deactivation, erasure, device
revocation and move. Another process's change arrives through the shared version; without the
shared cache the database answers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.accounts import services
from domains.accounts.models import User
from domains.accounts.services.authentication import authenticate_access_token, session_scope, session_start, user_scope
from domains.accounts.tokens import InvalidAccessToken
from domains.common import authcache
from domains.scanning.services import device_authenticate, scanner_device_rebind, scanner_device_revoke
from domains.scanning.services.devices import device_scope
from tests.conftest import PASSWORD
from tests.scanning import factories
from tests.support.accounts import CHANGE_PASSWORD, LOGOUT, ME, NEW_PASSWORD, REFRESH, UPDATE_ME
from tests.support.graphql import GraphQLClient


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.AUTH_CACHE_SECONDS = 60


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def me(token: str):
    return GraphQLClient().authenticate(token).execute(ME)


def refused(token: str) -> bool:
    response = me(token)
    if response.errors:
        assert [e["extensions"]["code"] for e in response.errors] == ["UNAUTHENTICATED"], response.errors
        return True
    return False


@pytest.fixture
def signed_in(make_user):
    user = make_user("staff", email="cached@example.test")
    pair = session_start(user=user)
    assert not refused(pair.access_token)  # now cached
    return user, pair


def test_a_cached_token_needs_no_query(signed_in):
    _user, pair = signed_in
    assert queries(lambda: authenticate_access_token(pair.access_token)) == 0


def test_the_cache_hands_out_copies(signed_in):
    user, pair = signed_in
    first, _ = authenticate_access_token(pair.access_token)
    first.full_name = "changed in memory only"
    second, _ = authenticate_access_token(pair.access_token)
    assert second.full_name == user.full_name and second is not first


def test_logout_refuses_the_next_request(signed_in):
    _user, pair = signed_in
    assert GraphQLClient().authenticate(pair.access_token).execute(LOGOUT).payload("logout")["ok"]
    assert refused(pair.access_token)


def test_change_password_refuses_the_old_token_and_accepts_the_new(signed_in):
    user, pair = signed_in
    payload = GraphQLClient().authenticate(pair.access_token).execute(
        CHANGE_PASSWORD, {"current": PASSWORD, "new": NEW_PASSWORD}
    ).payload("changePassword")
    assert refused(pair.access_token)
    assert not refused(payload["accessToken"])


def test_refresh_token_reuse_revokes_the_family_at_once(signed_in, gql):
    _user, pair = signed_in
    rotated = gql.execute(REFRESH, {"token": pair.refresh_token}).payload("refreshToken")
    assert not refused(rotated["accessToken"])  # cached too
    gql.execute(REFRESH, {"token": pair.refresh_token})  # reuse: the whole family is revoked
    assert refused(pair.access_token)
    assert refused(rotated["accessToken"])


def test_role_change_refuses_the_next_request(signed_in):
    user, pair = signed_in
    services.user_set_role(user=user, role="attendee")
    assert refused(pair.access_token)


def test_deactivation_refuses_the_next_request(signed_in):
    user, pair = signed_in
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert refused(pair.access_token)


def test_erasure_refuses_the_next_request(signed_in):
    from domains.accounts.privacy import user_erase

    user, pair = signed_in
    user_erase(user=user, password=PASSWORD)
    assert refused(pair.access_token)


def test_profile_edits_show_on_the_next_request(signed_in):
    _user, pair = signed_in
    client = GraphQLClient().authenticate(pair.access_token)
    client.execute(UPDATE_ME, {"fullName": "New Name"})
    assert me(pair.access_token).data["me"]["fullName"] == "New Name"


def test_a_change_made_by_another_process_arrives_through_the_shared_version(signed_in):
    user, pair = signed_in
    # Another process revokes the session: its row changes and it bumps the version.
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal in this process
    assert queries(lambda: authenticate_access_token(pair.access_token)) == 0  # nobody announced it
    authcache.changed(user_scope(user.public_id))  # what the other process's service does
    with pytest.raises(InvalidAccessToken):
        authenticate_access_token(pair.access_token)


def test_a_lost_version_means_a_reload(signed_in):
    from django.core.cache import cache

    _user, pair = signed_in
    session_id = authenticate_access_token(pair.access_token)[1].pk
    cache.delete(f"authv:{session_scope(session_id)}")
    assert queries(lambda: authenticate_access_token(pair.access_token)) == 1


def test_without_the_shared_cache_the_database_answers(signed_in, monkeypatch):
    user, pair = signed_in

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(authcache.cache, "get_many", down)
    assert queries(lambda: authenticate_access_token(pair.access_token)) == 1
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(InvalidAccessToken):
        authenticate_access_token(pair.access_token)


def test_switched_off_every_request_reads_the_database(signed_in, settings):
    _user, pair = signed_in
    settings.AUTH_CACHE_SECONDS = 0
    assert queries(lambda: authenticate_access_token(pair.access_token)) == 1


@pytest.fixture
def device(make_user):
    fest = factories.festival()
    gate = factories.gate(fest, "North")
    other = factories.gate(fest, "South")
    staff = make_user("staff")
    dev, token = factories.device(gate, staff)
    assert device_authenticate(device_id=dev.public_id, token=token).gate_id == gate.pk
    return dev, token, staff, other


def test_a_cached_device_needs_no_query(device):
    dev, token, _staff, _other = device
    assert queries(lambda: device_authenticate(device_id=dev.public_id, token=token)) == 0


def test_a_wrong_device_token_is_refused_and_not_cached(device):
    from domains.common.errors import DomainError

    dev, _token, _staff, _other = device
    for _ in range(2):
        with pytest.raises(DomainError):
            device_authenticate(device_id=dev.public_id, token="sdt_wrong")


def test_device_revocation_refuses_the_next_scan(device):
    from domains.common.errors import DomainError

    dev, token, staff, _other = device
    scanner_device_revoke(device_id=dev.public_id, revoked_by=staff)
    with pytest.raises(DomainError):
        device_authenticate(device_id=dev.public_id, token=token)


def test_a_moved_device_scans_at_its_new_gate_at_once(device):
    dev, token, _staff, other = device
    scanner_device_rebind(device_id=dev.public_id, gate_id=other.public_id)
    assert device_authenticate(device_id=dev.public_id, token=token).gate_id == other.pk


def test_a_device_change_by_another_process_arrives_through_the_shared_version(device):
    from domains.common.clock import now
    from domains.common.errors import DomainError
    from domains.scanning.models import ScannerDevice

    dev, token, _staff, _other = device
    ScannerDevice.objects.filter(pk=dev.pk).update(revoked_at=now())  # no signal here
    authcache.changed(device_scope(dev.public_id))
    with pytest.raises(DomainError):
        device_authenticate(device_id=dev.public_id, token=token)


@pytest.mark.django_db(transaction=True)
def test_logout_committed_refuses_the_next_request(make_user):
    """Outside a test transaction: the bump after commit is the one that counts."""
    user = make_user("attendee", email="committed@example.test")
    pair = session_start(user=user)
    assert not refused(pair.access_token)
    assert not refused(pair.access_token)
    GraphQLClient().authenticate(pair.access_token).execute(LOGOUT)
    assert refused(pair.access_token)


def test_a_verified_token_is_still_refused_once_it_expires(signed_in, monkeypatch):
    """The verified-token memo (domains/accounts/tokens.py) checks the expiry on every use."""
    import datetime as dt
    import time as real_time

    import jwt.api_jwt
    from django.conf import settings

    from domains.accounts import tokens

    _user, pair = signed_in
    assert not refused(pair.access_token)  # verified and remembered
    later = real_time.time() + settings.JWT_ACCESS_TTL.total_seconds() + 60

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(tokens.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    with pytest.raises(InvalidAccessToken):
        tokens.decode_access_token(pair.access_token)
    assert refused(pair.access_token)


def test_a_scan_reads_the_viewer_and_device_versions_in_one_round_trip(make_user, monkeypatch):
    """schema/context.py asks for the scanner device's version with the viewer's (one MGET), and
    a revocation in between is still seen by the next request."""
    from domains.tickets.qr import qr_encode
    from tests.scanning.conftest import SCAN

    fest = factories.festival()
    gate = factories.gate(fest, "Main")
    staff = make_user("staff")
    dev, device_token = factories.device(gate, staff)
    tt = factories.ticket_type(fest)
    holder = make_user("attendee")
    client = GraphQLClient().authenticate(session_start(user=staff).access_token)

    def scan(ticket, nonce):
        variables = {"code": qr_encode(ticket), "deviceId": str(dev.public_id), "nonce": nonce}
        return client.execute(SCAN, variables, headers={"X-Device-Token": device_token}).payload("scanCommit")

    assert scan(factories.ticket(tt, holder), "a")["result"]["verdict"] == "ADMITTED"  # caches both
    calls = []
    real = authcache.versions
    monkeypatch.setattr(authcache, "versions", lambda scopes: calls.append(list(scopes)) or real(scopes))
    assert scan(factories.ticket(tt, holder), "b")["result"]["verdict"] == "ADMITTED"
    assert len(calls) == 1 and any(s.startswith("device:") for s in calls[0]) and any(s.startswith("session:") for s in calls[0])
    scanner_device_revoke(device_id=dev.public_id, revoked_by=staff)
    assert scan(factories.ticket(tt, holder), "c")["errors"][0]["code"] == "DEVICE_NOT_AUTHORISED"
