"""Item 25: a person's data can be exported and erased; invoices keep the buyer's name."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from domains.accounts.models import AuthSession, InvoiceParty, OneTimeToken, RefreshToken, User
from domains.accounts.services.authentication import session_start
from domains.notifications.models import OutboundEmail
from domains.notifications.services import email_enqueue
from domains.orders.documents import _context as invoice_context
from tests.conftest import PASSWORD
from tests.scanning import factories

EXPORT = "{ exportMyData }"
ERASE = "mutation($p: String!) { eraseMe(password: $p) { ok errors { code field } } }"


@pytest.fixture
def buyer_with_invoice(make_user):
    from django.utils import timezone

    from domains.orders.models import Order, OrderLine

    user = make_user(
        email="erase.me@example.test", full_name="Erin Erasable", phone="+351900000000", email_verified_at=timezone.now()
    )
    fest = factories.festival()
    tt = factories.ticket_type(fest)
    order = Order.objects.create(
        buyer=user, festival=fest, status="paid", currency="EUR", total_amount=5000, tax_amount=0,
        expires_at=timezone.now(), paid_at=timezone.now(), invoice_number=42, invoice_issued_at=timezone.now(),
    )
    line = OrderLine.objects.create(order=order, ticket_type=tt, quantity=1, unit_price=5000, currency="EUR")
    factories.ticket(tt, user, order_line=line)
    email_enqueue(key="privacy:1", to_email=user.email, template="account_exists", context={"full_name": user.full_name})
    OneTimeToken.objects.create(user=user, purpose="password_reset", token_hash="h" * 64, expires_at=timezone.now())
    return user, order


def test_export_holds_profile_orders_tickets_sessions_and_emails(gql, buyer_with_invoice):
    user, order = buyer_with_invoice
    client = gql.authenticate(session_start(user=user).access_token)
    data = client.execute(EXPORT).data["exportMyData"]
    assert data["profile"]["email"] == "erase.me@example.test" and data["profile"]["fullName"] == "Erin Erasable"
    assert data["orders"][0]["number"] == order.number and data["orders"][0]["invoiceNumber"] == 42
    assert len(data["tickets"]) == 1 and len(data["sessions"]) == 1 and data["emails"][0]["template"] == "account_exists"
    json.dumps(data)


def test_export_needs_a_signed_in_person(gql, db):
    assert gql.execute(EXPORT).errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_erase_me_anonymises_and_the_invoice_keeps_the_name(gql, buyer_with_invoice):
    user, order = buyer_with_invoice
    token = session_start(user=user).access_token
    client = gql.authenticate(token)
    wrong = client.execute(ERASE, {"p": "not-my-password"}).payload("eraseMe")
    assert wrong["errors"] == [{"code": "INVALID_CREDENTIALS", "field": "password"}]
    assert client.execute(ERASE, {"p": PASSWORD}).payload("eraseMe") == {"ok": True, "errors": []}

    user.refresh_from_db()
    assert user.email.endswith("@erased.invalid") and user.full_name == "" and user.phone == ""
    assert not user.is_active and not user.has_usable_password()
    assert not RefreshToken.objects.filter(session__user=user).exists()
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert not OneTimeToken.objects.filter(user=user).exists()
    assert not OutboundEmail.objects.filter(to_email="erase.me@example.test").exists()
    assert OutboundEmail.objects.get(key="privacy:1").context == {}
    # the old token is dead at once
    assert client.execute("{ me { email } }").errors
    # orders and the invoice stay; the invoice names the buyer as before
    order.refresh_from_db()
    assert order.status == "paid" and order.buyer_id == user.pk
    assert InvoiceParty.objects.get(order=order).name == "Erin Erasable"
    assert invoice_context(order)["buyer"] == {"name": "Erin Erasable", "email": ""}
    # nobody can log in as the old address, and the address is free to register again
    assert not User.objects.filter(email="erase.me@example.test").exists()


def test_staff_command_exports_and_erases(buyer_with_invoice):
    user, order = buyer_with_invoice
    out = StringIO()
    call_command("erase_user", "erase.me@example.test", "--export", stdout=out)
    assert json.loads(out.getvalue())["profile"]["fullName"] == "Erin Erasable"
    call_command("erase_user", "erase.me@example.test", "--yes", stdout=StringIO())
    user.refresh_from_db()
    assert user.email.endswith("@erased.invalid")
    assert InvoiceParty.objects.filter(order=order).exists()


def test_emails_not_sent_before_an_erasure_never_go_out(buyer_with_invoice, outbox):
    """A pending email of an erased person is dropped, not sent to the erased address with
    their documents; what had been sent stays recorded as sent."""
    from domains.notifications.services import email_deliver

    user, order = buyer_with_invoice
    email_enqueue(key="privacy:sent", to_email=user.email, template="account_exists", context={"full_name": user.full_name})
    sent = OutboundEmail.objects.get(key="privacy:sent")
    assert email_deliver(outbound_email_id=sent.pk) is True
    assert len(outbox.messages()) == 1
    pending = OutboundEmail.objects.get(key="privacy:1")

    call_command("erase_user", "erase.me@example.test", "--yes", stdout=StringIO())
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, sent.status) == (OutboundEmail.Status.DROPPED, OutboundEmail.Status.SENT)
    # the job queued for it, delivered late, sends nothing
    assert email_deliver(outbound_email_id=pending.pk) is False
    assert len(outbox.messages()) == 1
