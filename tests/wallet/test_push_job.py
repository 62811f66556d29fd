"""push_wallet_pass_update (workers/wallet.py) delivered the way the broker delivers it.

The stated rule (workers/wallet.py, domains/wallet/push.py): a pass update may be sent again
safely. APNs takes no idempotency key (the push carries nothing; `apns-collapse-id` only merges
alerts shown to a user), and Google's PATCH sets absolute values, so a repeat must change
nothing: the device that re-fetches gets 304, the PATCH carries the same body. Tested here with
the requests as they would leave (recording transports, tests/wallet/transports.py):
(a) a redelivery, (b) a failure after some pushes went out (the retry skips devices already
found gone), (c) a failure before the side effect then the retry, (d) the pass changed or went
away after the job was queued. A delivery is the actor called with the message's arguments.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from domains.tickets.models import Ticket
from domains.wallet import passkit
from domains.wallet.models import PassKitDeviceRegistration, WalletPass
from domains.wallet.push import PushFailed
from domains.wallet.services import wallet_pass_create_apple, wallet_pass_create_google
from tests.support.graphql import GraphQLClient
from tests.support.jobs import capture_enqueued, deliver
from tests.wallet import transports

pytestmark = pytest.mark.django_db(transaction=True)

TOKENS = {"gone": "0a" * 32, "busy": "0b" * 32, "ok": "0c" * 32}


@pytest.fixture
def queue(monkeypatch):
    """The push messages enqueued (on commit), not delivered."""
    return capture_enqueued(monkeypatch)


def _register(wallet_pass: WalletPass, device: str, token: str) -> None:
    assert passkit.device_register(wallet_pass=wallet_pass, device_library_identifier=device, push_token=token)


def _change(ticket: Ticket, **fields) -> None:
    ticket.refresh_from_db()
    for name, value in fields.items():
        setattr(ticket, name, value)
    with transaction.atomic():
        ticket.save()


def _pushed_to() -> list[str]:
    return [r.url.rsplit("/", 1)[1] for r in transports.APNS.sent]


def _fetch(wallet_pass: WalletPass, since: str | None = None):
    """The device fetching the pass after a push (PassKit's latest-pass endpoint)."""
    from domains.wallet import render

    type_id = passkit.apple_credentials().pass_type_identifier
    headers = {"Authorization": f"ApplePass {render.authentication_token(wallet_pass.serial_number)}"}
    if since:
        headers["If-Modified-Since"] = since
    return GraphQLClient().post_raw(b"", method="GET", path=f"/api/wallet/passkit/v1/passes/{type_id}/{wallet_pass.serial_number}",
                                    headers=headers)


def test_a_redelivered_update_changes_nothing_the_first_did_not(queue, holder_client, ticket, dev_credentials):
    """(a) Refund, then each message delivered twice: the second push makes the device fetch
    again and it is answered 304; the second PATCH is the first one's body, absolute values."""
    apple = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    google = wallet_pass_create_google(user=holder_client.user, ticket_id=ticket.public_id)
    _register(apple, "device-1", TOKENS["ok"])
    _change(ticket, status=Ticket.Status.REFUNDED)
    assert sorted(m.args[0] for m in queue) == sorted([apple.pk, google.pk])

    for message in queue:
        deliver(message)
    first = _fetch(apple)
    assert first.status_code == 200
    updated = WalletPass.objects.get(pk=apple.pk).last_updated
    for message in queue:
        deliver(message)  # the redelivery
    assert _pushed_to() == [TOKENS["ok"]] * 2
    assert _fetch(apple, since=first.headers["Last-Modified"]).status_code == 304
    assert WalletPass.objects.get(pk=apple.pk).last_updated == updated
    first_patch, second_patch = transports.GOOGLE.patches
    assert first_patch.url == second_patch.url and first_patch.json_body == second_patch.json_body
    assert first_patch.json_body["state"] == "INACTIVE"


def test_a_failure_after_some_pushes_then_the_retry(queue, holder_client, ticket):
    """(b) One device is gone (410), one busy (503), one fine: the job raises so Dramatiq
    retries it, but the gone device's registration is removed first, so the retry pushes
    only to the two that still follow the pass."""
    apple = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    for name, token in TOKENS.items():
        _register(apple, f"device-{name}", token)
    transports.APNS.statuses.update({TOKENS["gone"]: 410, TOKENS["busy"]: 503})
    _change(ticket, status=Ticket.Status.VOID)
    [message] = queue

    with pytest.raises(PushFailed):
        deliver(message)
    assert sorted(PassKitDeviceRegistration.objects.values_list("push_token", flat=True)) == [TOKENS["busy"], TOKENS["ok"]]
    transports.APNS.statuses.pop(TOKENS["busy"])
    deliver(message)  # the retry
    pushed = _pushed_to()
    assert {token: pushed.count(token) for token in TOKENS.values()} == {TOKENS["gone"]: 1, TOKENS["busy"]: 2, TOKENS["ok"]: 2}


def test_google_failing_before_the_update_then_the_retry(queue, holder_client, ticket):
    """(c) Google answers 503, then 401 (the cached access token is dropped), then 200: the
    job raises twice and the third delivery sends the update with a fresh token."""
    google = wallet_pass_create_google(user=holder_client.user, ticket_id=ticket.public_id)
    _change(ticket, status=Ticket.Status.VOID)
    [message] = queue
    for status in (503, 401):
        transports.GOOGLE.patch_status = status
        with pytest.raises(PushFailed):
            deliver(message)
    transports.GOOGLE.patch_status = 200
    tokens_before = len(transports.GOOGLE.sent) - len(transports.GOOGLE.patches)
    deliver(message)
    assert len(transports.GOOGLE.patches) == 3
    assert len(transports.GOOGLE.sent) - len(transports.GOOGLE.patches) == tokens_before + 1  # a new token after 401
    assert WalletPass.objects.get(pk=google.pk).status == WalletPass.Status.VOID


def test_a_job_for_a_pass_that_changed_or_went_away(queue, holder_client, ticket, as_user, dev_credentials):
    """(d) The ticket changed hands after the old pass's push was queued, and the new holder
    added it to their wallet meanwhile: the old message reaches the old holder's device only,
    which then gets the voided pass. A pass deleted since (its ticket deleted), or a Google
    pass nobody saved (404): nothing to do, and no exception to retry."""
    old = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    _register(old, "old-phone", TOKENS["ok"])
    new_holder = as_user("attendee").user
    _change(ticket, holder=new_holder, secret_version=ticket.secret_version + 1)
    [message] = queue
    new = wallet_pass_create_apple(user=new_holder, ticket_id=ticket.public_id)
    _register(new, "new-phone", TOKENS["busy"])
    deliver(message)
    assert _pushed_to() == [TOKENS["ok"]]
    from domains.wallet.passes.pkpass import verify_pkpass

    assert verify_pkpass(_fetch(old).content, dev_credentials[0].root_pem)["voided"] is True

    queue.clear()
    google = wallet_pass_create_google(user=new_holder, ticket_id=ticket.public_id)
    _change(ticket, status=Ticket.Status.VOID)
    by_pass = {m.args[0]: m for m in queue}
    transports.GOOGLE.patch_status = 404
    deliver(by_pass[google.pk])  # never saved to a wallet
    Ticket.objects.filter(pk=ticket.pk).delete()
    transports.APNS.sent.clear()
    deliver(by_pass[new.pk])
    assert transports.APNS.sent == []


def test_the_lifecycle_services_move_the_passes_and_queue_their_pushes(queue, holder_client, ticket, as_user):
    """(d) at the source: the jobs above only run if the services that change a ticket queue
    them. A transfer accepted (transfers/services.py: holder and secret changed with update(),
    no post_save) supersedes the sender's passes; a refund (tickets_void, the same) voids the
    recipient's. Each queues one push per changed pass, after commit."""
    from domains.notifications.models import OutboundEmail
    from domains.tickets.services import tickets_void
    from domains.transfers.services import transfer_accept, transfer_create

    apple = wallet_pass_create_apple(user=holder_client.user, ticket_id=ticket.public_id)
    google = wallet_pass_create_google(user=holder_client.user, ticket_id=ticket.public_id)
    recipient = as_user("attendee").user
    offer = transfer_create(sender=holder_client.user, ticket_public_id=ticket.public_id, to_email=recipient.email)
    queue.clear()
    transfer_accept(recipient=recipient,
                    token=OutboundEmail.objects.get(key=f"transfer-offer:{offer.transfer.public_id}").context["token"])
    pushes = sorted(m.args[0] for m in queue if m.actor_name == "push_wallet_pass_update")
    assert pushes == sorted([apple.pk, google.pk])
    assert set(WalletPass.objects.filter(pk__in=pushes).values_list("status", flat=True)) == {"superseded"}

    mine = wallet_pass_create_apple(user=recipient, ticket_id=ticket.public_id)
    queue.clear()
    tickets_void(tickets=[Ticket.objects.get(pk=ticket.pk)], status=Ticket.Status.REFUNDED, return_to_sale=False)
    assert [m.args[0] for m in queue if m.actor_name == "push_wallet_pass_update"] == [mine.pk]
    assert WalletPass.objects.get(pk=mine.pk).status == WalletPass.Status.VOID
