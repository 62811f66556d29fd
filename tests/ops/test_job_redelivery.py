"""Nothing done twice, nothing lost: every Dramatiq actor of workers/ (the wallet push is in
tests/wallet/test_push_job.py) delivered the way the broker delivers.

For each actor: (a) the same message delivered twice (a worker died before acknowledging it,
a delayed retry) does its side effect once; (b) a failure injected just after the side effect,
before its bookkeeping commits, then Dramatiq's retry; (c) a failure before the side effect,
then the retry: the side effect happens once; (d) the job's object changed or went away after
it was enqueued: the right thing, and no exception (an exception is a retry loop).

Messages are captured when they are enqueued (`queue`) instead of going to a worker, so each
test decides the deliveries. A delivery is the actor called with the message's arguments, as
a worker calls it; a retry is the same message delivered again. Side effects are read where
they land: the outbox folder (the real OutboxBackend), the PDF cache on disk, the rows.
transaction=True: services commit for real and their on_commit callbacks enqueue.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from django.db import DatabaseError, connection, transaction

from domains.common.clock import now
from domains.notifications.models import OutboundEmail
from domains.notifications.services import email_enqueue
from domains.tickets.models import Ticket
from tests.lifecycle.conftest import gateway, paid_order  # noqa: F401  (fixtures)
from tests.sales.conftest import festival, make_type  # noqa: F401  (fixtures)
from tests.support.jobs import capture_enqueued, deliver

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class InjectedFault(DatabaseError):
    pass


@pytest.fixture
def queue(monkeypatch):
    """The Dramatiq messages enqueued so far, in order (none reaches a worker)."""
    return capture_enqueued(monkeypatch)


def take(queue: list, actor_name: str) -> list[dramatiq.Message]:
    """Remove and return the queued messages of one actor."""
    taken = [m for m in queue if m.actor_name == actor_name]
    queue[:] = [m for m in queue if m.actor_name != actor_name]
    return taken


def deliver_emails(queue: list) -> int:
    """Deliver every queued send_email message once; how many messages that was."""
    messages = take(queue, "send_email")
    for message in messages:
        deliver(message)
    return len(messages)


@contextmanager
def fault(pattern: str, nth: int = 1):
    """The nth statement matching `pattern` raises a DatabaseError instead of running."""
    seen = {"n": 0, "fired": False}

    def wrapper(execute, sql, params, many, context):
        if re.match(pattern, sql):
            seen["n"] += 1
            if seen["n"] == nth:
                seen["fired"] = True
                raise InjectedFault(f"injected at {sql[:60]}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen
    assert seen["fired"], f"no statement matched {pattern!r} {nth} time(s)"


@pytest.fixture
def pdf_renders(monkeypatch):
    """xhtml2pdf (the library, not our code) counted; `fail_on` makes given calls raise."""
    from xhtml2pdf import pisa

    original = pisa.CreatePDF
    state = {"calls": 0, "fail_on": set()}

    def create(*args, **kwargs):
        state["calls"] += 1
        if state["calls"] in state["fail_on"]:
            raise MemoryError("injected: the renderer died")
        return original(*args, **kwargs)

    monkeypatch.setattr(pisa, "CreatePDF", create)
    return state


def _documents(settings, kind: str) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "documents" / kind
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def _own_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _hand_over(ticket: Ticket, to_user) -> None:
    """The ticket changes holder as a transfer does it (new holder, new code version)."""
    ticket.refresh_from_db()
    ticket.holder = to_user
    ticket.secret_version += 1
    ticket.save()


# --------------------------------------------------------------------------- send_email


def test_send_email_fault_recording_the_send_then_retry_and_redelivery_send_once(queue, outbox):
    """(b) The documented rule (domains/notifications/services.py, email_deliver): one message
    per row; a database error recording the send comes before anything left. The job raises,
    Dramatiq retries it, and a late redelivery of the same message follows: one email."""
    with transaction.atomic():
        row = email_enqueue(key="jobs:b", to_email="ana@example.test", template="account_exists", context={"full_name": "Ana"})
    [message] = take(queue, "send_email")
    with pytest.raises(DatabaseError), fault(r'\s*UPDATE "notifications_outboundemail"'):
        deliver(message)
    row.refresh_from_db()
    assert row.status == "pending"  # the retry must send it: nothing lost
    deliver(message)  # the retry
    deliver(message)  # a redelivery
    assert len(outbox.messages()) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1) and queue == []


def test_send_email_sensitive_context_is_wiped_with_the_send_and_only_then(queue, outbox):
    """The secret (a reset link) leaves the row in the transaction that records the send: a
    failed send keeps it for the retry, a done send never keeps it."""
    with transaction.atomic():
        row = email_enqueue(key="jobs:secret", to_email="ana@example.test", template="verify_email",
                            context={"full_name": "Ana", "token": "s3cr3t-t0ken"}, sensitive=True)
    [message] = take(queue, "send_email")
    with pytest.raises(DatabaseError), fault(r'\s*UPDATE "notifications_outboundemail"'):
        deliver(message)
    row.refresh_from_db()
    assert row.context["token"] == "s3cr3t-t0ken"
    deliver(message)
    row.refresh_from_db()
    assert row.context == {} and "s3cr3t-t0ken" in outbox.messages()[0].get_body().get_content()


def test_send_email_attachment_render_fails_before_the_send_then_retry_sends_once(
    queue, outbox, make_user, make_type, paid_order, pdf_renders  # noqa: F811
):
    """(c) The order confirmation's PDFs are built at delivery; the renderer dying is a failure
    before the send: nothing goes out, the retry sends the email once, with both PDFs."""
    order = paid_order(make_user(), make_type(capacity=10), 2)
    [message] = take(queue, "send_email")
    pdf_renders["fail_on"] = {1}
    with pytest.raises(MemoryError):
        deliver(message)
    assert outbox.messages() == []
    deliver(message)
    deliver(message)
    [sent] = outbox.messages()
    names = sorted(part.get_filename() for part in sent.iter_attachments())
    assert names == [f"invoice-{order.invoice_label}.pdf", f"tickets-{order.number}.pdf"]


def test_send_email_ticket_transferred_since_enqueue_leaves_the_buyers_confirmation(
    queue, outbox, make_user, make_type, paid_order  # noqa: F811
):
    """(d) The confirmation was queued, then the buyer's only ticket changed hands: the email
    still goes out (the order and its invoice are the buyer's), without the tickets PDF,
    whose code is now the new holder's."""
    buyer = make_user()
    order = paid_order(buyer, make_type(capacity=10), 1)
    [message] = take(queue, "send_email")
    _hand_over(Ticket.objects.get(order_line__order=order), make_user())
    deliver(message)
    [sent] = outbox.messages()
    assert [p.get_filename() for p in sent.iter_attachments()] == [f"invoice-{order.invoice_label}.pdf"]


def test_send_email_for_a_row_that_is_gone_is_a_quiet_no_op(queue, outbox):
    """(d) The row was deleted after the job was queued: no email, no exception (no retries)."""
    with transaction.atomic():
        row = email_enqueue(key="jobs:gone", to_email="ana@example.test", template="account_exists", context={})
    [message] = take(queue, "send_email")
    OutboundEmail.objects.filter(pk=row.pk).delete()
    deliver(message)
    assert outbox.messages() == []


# --------------------------------------------------------------------------- resend_pending_emails


def test_resend_pending_emails_twice_and_a_late_first_job_send_each_email_once(queue, outbox):
    """(a) The scheduler's job runs twice before any email job (two ticks during an outage),
    and the original jobs turn up late too: three messages per row, one email per row. A row
    sent meanwhile is not enqueued again."""
    from workers.emails import resend_pending_emails

    with transaction.atomic():
        for n in range(2):
            email_enqueue(key=f"jobs:lost{n}", to_email=f"p{n}@example.test", template="account_exists", context={})
        email_enqueue(key="jobs:done", to_email="d@example.test", template="account_exists", context={})
    first = take(queue, "send_email")
    deliver(first.pop())  # jobs:done goes out
    resend_pending_emails(0)
    resend_pending_emails(0)
    again = take(queue, "send_email")
    assert len(again) == 4  # two rows, twice; never the sent one
    for message in again + first:
        deliver(message)
    assert sorted(m["X-Festival-Email-Key"] for m in outbox.messages()) == ["jobs:done", "jobs:lost0", "jobs:lost1"]


# --------------------------------------------------------------------------- send_password_reset


def _reset_request(queue, address: str) -> dramatiq.Message:
    from domains.accounts.services.passwords import password_reset_request

    with transaction.atomic():
        password_reset_request(email=address)
    [message] = take(queue, "send_password_reset")
    return message


def _reset_tokens(user) -> int:
    from domains.accounts.models import OneTimeToken

    return OneTimeToken.objects.filter(user=user, purpose="password_reset").count()


def test_send_password_reset_redelivered_is_one_token_and_one_email(queue, outbox, make_user):
    """(a) The worker died after the job committed and before it acknowledged the message:
    the redelivery neither writes a second token (a live link nobody receives) nor a second
    email."""
    user = make_user()
    message = _reset_request(queue, user.email)
    deliver(message)
    deliver(message)
    assert deliver_emails(queue) == 1
    assert _reset_tokens(user) == 1 and len(outbox.messages()) == 1


def test_send_password_reset_fault_at_the_email_then_retry_sends_one_link(queue, outbox, make_user):
    """(c) The email row's INSERT fails after the token's: both roll back, nothing is queued;
    the retry (the account's email of the interval is this request's, not spent) sends one
    link, and it is the one whose token is stored."""
    from domains.accounts.models import OneTimeToken
    from domains.accounts.tokens import hash_secret

    user = make_user()
    message = _reset_request(queue, user.email)
    with pytest.raises(DatabaseError), fault(r'\s*INSERT INTO "notifications_outboundemail"'):
        deliver(message)
    assert _reset_tokens(user) == 0 and queue == []
    deliver(message)
    assert deliver_emails(queue) == 1
    [sent] = outbox.messages()
    [token] = OneTimeToken.objects.filter(user=user, purpose="password_reset")
    raw = re.search(r"token=([A-Za-z0-9_\-]+)", sent.get_body().get_content()).group(1)
    assert token.token_hash == hash_secret(raw)


def test_send_password_reset_for_an_account_disabled_or_renamed_since_sends_nothing(queue, outbox, make_user):
    """(d) The account was disabled, or its address changed, after the request was queued."""
    disabled, renamed = make_user(), make_user()
    messages = [_reset_request(queue, disabled.email), _reset_request(queue, renamed.email)]
    disabled.is_active = False
    disabled.save(update_fields=["is_active"])
    renamed.email = "someone.else@example.test"
    renamed.save(update_fields=["email"])
    for message in messages:
        deliver(message)
    assert queue == [] and _reset_tokens(disabled) == _reset_tokens(renamed) == 0


# --------------------------------------------------------------------------- resend_order_documents


@pytest.fixture
def two_holder_order(make_user, make_type, paid_order, queue):  # noqa: F811
    """A paid order of 2 tickets, one of them handed to another person since; and a staff member."""
    buyer, friend = make_user(), make_user()
    order = paid_order(buyer, make_type(capacity=10), 2)
    _hand_over(Ticket.objects.filter(order_line__order=order).order_by("pk").first(), friend)
    queue.clear()
    return order, buyer, friend, make_user("staff")


def _resend(queue, order, staff) -> dramatiq.Message:
    from domains.orders.resends import order_resend

    order_resend(staff=staff, order_public_id=order.public_id, kind="tickets")
    [message] = take(queue, "resend_order_documents")
    return message


def _recipients(outbox) -> list[str]:
    return sorted(m["To"] for m in outbox.messages())


def test_resend_order_documents_redelivered_sends_one_email_per_holder(queue, outbox, two_holder_order):
    """(a) Each holder gets their own ticket, once, however often the request's job runs."""
    order, buyer, friend, staff = two_holder_order
    message = _resend(queue, order, staff)
    deliver(message)
    deliver(message)
    assert deliver_emails(queue) == 2
    assert _recipients(outbox) == sorted([buyer.email, friend.email])


def test_resend_order_documents_fault_at_the_second_email_then_retry(queue, outbox, two_holder_order):
    """(b)/(c) The side effect is the email rows (queued on commit): a fault at the second
    holder's row rolls back the first one's too and queues nothing; the retry sends each
    holder one email."""
    order, buyer, friend, staff = two_holder_order
    message = _resend(queue, order, staff)
    with pytest.raises(DatabaseError), fault(r'\s*INSERT INTO "notifications_outboundemail"', nth=2):
        deliver(message)
    assert queue == [] and not OutboundEmail.objects.filter(key__startswith="resend-tickets:").exists()
    deliver(message)
    deliver_emails(queue)
    assert _recipients(outbox) == sorted([buyer.email, friend.email])


def test_resend_order_documents_after_the_tickets_changed(queue, outbox, two_holder_order, make_user):
    """(d) Between the staff request and its job: the buyer's ticket was handed on too, so
    both go to their holders now, never to the buyer; then every ticket refunded: nothing is
    sent and nothing raises."""
    order, buyer, friend, staff = two_holder_order
    message = _resend(queue, order, staff)
    third = make_user()
    _hand_over(Ticket.objects.filter(order_line__order=order, holder=buyer).get(), third)
    deliver(message)
    deliver_emails(queue)
    assert _recipients(outbox) == sorted([friend.email, third.email])

    refunded = _resend(queue, order, staff)
    Ticket.objects.filter(order_line__order=order).update(status=Ticket.Status.REFUNDED)
    deliver(refunded)
    assert take(queue, "send_email") == []


# --------------------------------------------------------------------------- render_order_documents


def test_render_order_documents_redelivered_renders_once(queue, settings, make_user, make_type, paid_order,  # noqa: F811
                                                          pdf_renders):
    """(a) The cache is keyed by content: a second run reads the files it wrote."""
    paid_order(make_user(), make_type(capacity=10), 2)
    [message] = take(queue, "render_order_documents")
    deliver(message)
    assert pdf_renders["calls"] == 2  # the tickets PDF and the invoice
    deliver(message)
    assert pdf_renders["calls"] == 2
    assert len(_documents(settings, "tickets")) == len(_documents(settings, "invoice")) == 1


def test_render_order_documents_failure_after_the_first_pdf_then_retry(  # noqa: F811
    queue, settings, make_user, make_type, paid_order, pdf_renders  # noqa: F811
):
    """(b) The job dies after writing the tickets PDF, before the invoice: the retry renders
    only the invoice."""
    paid_order(make_user(), make_type(capacity=10), 1)
    [message] = take(queue, "render_order_documents")
    pdf_renders["fail_on"] = {2}
    with pytest.raises(MemoryError):
        deliver(message)
    assert len(_documents(settings, "tickets")) == 1 and _documents(settings, "invoice") == []
    deliver(message)
    assert pdf_renders["calls"] == 3
    assert len(_documents(settings, "tickets")) == len(_documents(settings, "invoice")) == 1


def test_render_order_documents_failed_write_leaves_no_partial_file(queue, settings, monkeypatch, make_user,
                                                                    make_type, paid_order):  # noqa: F811
    """(c) Writing the file fails (disk full) before it is in place: nothing half-written is
    left in the cache folder (every retry would add one), and the retry writes it."""
    import os

    import domains.tickets.pdf as pdf

    paid_order(make_user(), make_type(capacity=10), 1)
    [message] = take(queue, "render_order_documents")
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(pdf.os, "replace", replace)
    with pytest.raises(OSError):
        deliver(message)
    assert _documents(settings, "tickets") == []  # no file, and no partial one
    deliver(message)
    assert [p.suffix for p in _documents(settings, "tickets") + _documents(settings, "invoice")] == [".pdf", ".pdf"]


def test_render_order_documents_for_a_refunded_or_missing_order(  # noqa: F811
    queue, settings, make_user, make_type, paid_order, pdf_renders  # noqa: F811
):
    """(d) Every ticket refunded since: no tickets PDF (nothing valid to print), the invoice
    only; an order id that is gone: nothing, no exception."""
    order = paid_order(make_user(), make_type(capacity=10), 1)
    [message] = take(queue, "render_order_documents")
    Ticket.objects.filter(order_line__order=order).update(status=Ticket.Status.REFUNDED)
    deliver(message)
    assert _documents(settings, "tickets") == [] and len(_documents(settings, "invoice")) == 1
    from workers.orders import render_order_documents

    calls = pdf_renders["calls"]
    render_order_documents(order.pk + 10_000)
    assert pdf_renders["calls"] == calls


# --------------------------------------------------------------------------- the maintenance jobs


def _expired_checkout(make_user, tt, quantity=2):
    from domains.orders import services
    from domains.orders.models import Order

    order = services.checkout_create(buyer=make_user(), lines=[services.CheckoutLine(tt.public_id, quantity)]).order
    Order.objects.filter(pk=order.pk).update(expires_at=now() - timedelta(seconds=1))
    order.holds.update(expires_at=now() - timedelta(seconds=1))
    return order


def test_release_expired_holds_twice_a_fault_and_a_paid_order(gateway, make_user, make_type):  # noqa: F811
    """(a) Twice: released once, the type's held count drops once. (c) A fault at its first
    write: nothing changes, the retry releases. (d) An order paid since its hold ran out
    (the webhook got there first) is left paid."""
    from domains.orders import services
    from workers.orders import release_expired_holds

    tt = make_type(capacity=10)
    stale = _expired_checkout(make_user, tt)
    paid = _expired_checkout(make_user, tt, 1)
    services.order_fulfil(order_id=paid.pk, payment=gateway.succeed(paid.payment_intent_id), source="test")
    tt.refresh_from_db()
    assert (tt.held_count, tt.sold_count) == (2, 1)

    with pytest.raises(DatabaseError), fault(r"\s*UPDATE"):
        release_expired_holds()
    stale.refresh_from_db()
    tt.refresh_from_db()
    assert stale.status == "pending" and tt.held_count == 2
    release_expired_holds()
    release_expired_holds()
    for row in (stale, paid, tt):
        row.refresh_from_db()
    assert (stale.status, paid.status) == ("expired", "paid")
    assert (tt.held_count, tt.sold_count) == (0, 1)
    assert stale.status_history.filter(to_status="expired").count() == 1


def test_release_expired_upgrade_holds_twice_and_an_upgrade_applied_since(gateway, make_user, make_type,  # noqa: F811
                                                                         paid_order):  # noqa: F811
    """(a) Twice: the held unit returns once. (d) An upgrade paid and applied after its hold
    ran out is not expired by the job."""
    from domains.upgrades import services as upgrades
    from domains.upgrades.models import Upgrade
    from workers.lifecycle import release_expired_upgrade_holds

    day = make_type(name="Day", tier_rank=10, capacity=10)
    vip = make_type(name="VIP", tier_rank=30, capacity=10, price_amount=9000)
    ups = []
    for _ in range(2):
        holder = make_user()
        ticket = Ticket.objects.get(order_line__order=paid_order(holder, day, 1))
        ups.append(upgrades.upgrade_request(user=holder, ticket_public_id=ticket.public_id,
                                            to_type_public_id=vip.public_id).upgrade)
    Upgrade.objects.filter(pk__in=[u.pk for u in ups]).update(expires_at=now() - timedelta(seconds=1))
    stale, applied = ups
    assert upgrades.upgrade_apply(upgrade_id=applied.pk, payment=gateway.succeed(applied.payment_intent_id),
                                  source="webhook").applied
    release_expired_upgrade_holds()
    release_expired_upgrade_holds()
    for row in (stale, applied, vip):
        row.refresh_from_db()
    assert (stale.status, applied.status) == ("expired", "completed")
    assert (vip.held_count, vip.sold_count) == (0, 1)
