"""Nothing half-written: every domain service that writes several rows does it all or nothing.

For each multi-write service: one normal run counts its write statements (INSERT, UPDATE,
DELETE, and a WITH that writes); then, on a fresh setup each time, the k-th write raises a
DatabaseError (`connection.execute_wrapper`) for every k. The call must fail (the error, or a
typed DomainError), every table must be exactly as before the call (all rows, all columns:
statuses, sold/held counters, refunded amounts, secret versions, audit rows, outbox emails),
and no Dramatiq message (email delivery, documents, ...) may have been enqueued: jobs go out
on commit only. transaction=True: the services' own transactions really commit or roll back,
and their on_commit callbacks run.

Steps that commit on purpose are classified with their reason instead (`partial=`), and the
state they leave is checked to be the documented one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import dramatiq
import pytest
from django.db import DatabaseError, connection

from domains.common.clock import now
from domains.common.errors import DomainError
from tests.lifecycle.conftest import LifecycleGateway
from tests.sales import conftest as sales
from tests.sales.conftest import event_body, pi_object

festival = sales.festival  # the sales area's fixtures
make_type = sales.make_type

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WEBHOOK_SECRET = "whsec_atomic_tests"
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_CTE_WRITE = re.compile(r"^\s*WITH\b.*\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM)\b", re.IGNORECASE | re.DOTALL)


class InjectedFault(DatabaseError):
    pass


def is_write(sql: str) -> bool:
    return bool(_WRITE.match(sql) or _CTE_WRITE.match(sql))


@dataclass
class Faults:
    """An execute wrapper: counts write statements; the `fail_at`-th one raises instead of running."""

    fail_at: int | None = None
    writes: list[str] = field(default_factory=list)
    fired: bool = False

    def __call__(self, execute, sql, params, many, context):
        if is_write(sql):
            self.writes.append(sql[:120])
            if self.fail_at is not None and len(self.writes) == self.fail_at:
                self.fired = True
                raise InjectedFault(f"injected fault at write {self.fail_at}")
        return execute(sql, params, many, context)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (the migrations' table aside), in primary-key order."""
    tables = [t for t in connection.introspection.table_names() if t != "django_migrations"]
    out = {}
    with connection.cursor() as cursor:
        for table in sorted(tables):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")
            out[table] = [
                tuple(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in row)
                for row in cursor.fetchall()
            ]
    return out


def diff(before: dict, after: dict) -> dict[str, str]:
    changed = {}
    for table in sorted(set(before) | set(after)):
        b, a = before.get(table, []), after.get(table, [])
        if a != b:
            changed[table] = f"{len(b)} -> {len(a)} rows; new/changed: {[r for r in a if r not in b][:3]}"
    return changed


@pytest.fixture
def enqueued(monkeypatch):
    """The actor names of the Dramatiq messages enqueued (not delivered: no worker runs)."""
    broker = dramatiq.get_broker()
    names: list[str] = []

    def enqueue(message, *, delay=None):
        names.append(message.actor_name)
        return message

    monkeypatch.setattr(broker, "enqueue", enqueue)
    return names


@pytest.fixture
def gateway(monkeypatch):
    gw = LifecycleGateway()
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gw)
    return gw


@dataclass
class Report:
    service: str
    writes: int
    injected: int = 0
    partial: list[str] = field(default_factory=list)


@pytest.fixture
def inject(enqueued, settings):
    """inject(name, prepare, call, partial=None): the fault-injection loop described above.

    prepare() builds a fresh setup (its own commits and jobs are not the call's); call(ctx)
    runs the service. partial(k, writes, ctx, before, after) may return a reason when the
    state after a fault at write k is a documented intermediate one (it checks that state)."""

    def run(name, prepare, call, *, partial=None) -> Report:
        ctx = prepare()
        enqueued.clear()
        counter = Faults()
        with connection.execute_wrapper(counter):
            call(ctx)
        report = Report(name, len(counter.writes))
        assert report.writes >= 2, f"{name}: {counter.writes}"
        for k in range(1, report.writes + 1):
            ctx = prepare()
            enqueued.clear()
            before = snapshot()
            faults = Faults(fail_at=k)
            try:
                with connection.execute_wrapper(faults):
                    call(ctx)
            except (DatabaseError, DomainError):
                pass
            else:
                # Fewer writes than the counting run (a first-time row such as the festival's
                # invoice sequence exists now): the call completed before write k.
                assert not faults.fired and len(faults.writes) < k, (
                    f"{name}: a fault at write {k} did not fail the call"
                )
                break
            assert faults.fired, f"{name}: write {k} never ran"
            after = snapshot()
            report.injected += 1
            reason = partial(k, faults.writes, ctx, before, after) if partial else None
            if reason:
                report.partial.append(f"write {k}: {reason}")
            else:
                assert after == before, f"{name}: a fault at write {k} ({faults.writes[-1]}) left {diff(before, after)}"
            assert enqueued == [], f"{name}: a fault at write {k} still enqueued {enqueued}"
            outbox = settings.EMAIL_OUTBOX_DIR
            assert not (outbox.exists() and any(outbox.iterdir())), f"{name}: an email was sent"
        print(report)
        return report

    return run


# --------------------------------------------------------------------------- helpers


def _paid_order(gateway, user, tt, quantity=1):
    from domains.orders import services

    result = services.checkout_create(buyer=user, lines=[services.CheckoutLine(tt.public_id, quantity)])
    info = gateway.succeed(result.order.payment_intent_id)
    services.order_fulfil(order_id=result.order.pk, payment=info, source="test")
    result.order.refresh_from_db()
    return result.order


def _signed(body: bytes) -> str:
    from domains.payments.webhooks import sign_webhook_payload

    return sign_webhook_payload(body, WEBHOOK_SECRET, int(time.time()))


# --------------------------------------------------------------------------- orders


def _hold_committed(before, after, writes, *, holds):
    """The checkout's documented intermediate state: the hold committed, storing the
    PaymentIntent failed and rolled back by itself. A pending order with its holds and no
    PaymentIntent id nor Payment row, which confirmCheckout completes (ensure_payment_intent
    finds the PaymentIntent again by its key) or the hold's expiry releases."""
    from domains.orders.models import Order, Payment

    if len(after["orders_order"]) == len(before["orders_order"]):
        return None  # nothing committed: the caller compares the whole snapshot
    assert writes[-1].startswith(('UPDATE "orders_order"', 'INSERT INTO "orders_payment"')), writes
    order = Order.objects.order_by("-pk").first()
    assert order.status == Order.Status.PENDING and order.payment_intent_id is None
    assert not Payment.objects.filter(order=order).exists() and order.holds.filter(status="active").count() == holds
    assert len(after["orders_payment"]) == len(before["orders_payment"])
    return "hold committed, PaymentIntent step rolled back (two-step checkout, documented)"


def test_checkout_create_several_types(inject, gateway, make_user, make_type):
    """The hold (order, lines, holds, status, counters) is one transaction; the PaymentIntent
    is created after it commits and stored in a second one (module docstring of
    domains/orders/services.py: "created after that commit, outside the lock")."""
    from domains.orders import services

    buyer = make_user()
    a, b = make_type(capacity=50), make_type(capacity=50)

    def call(_):
        return services.checkout_create(
            buyer=buyer, lines=[services.CheckoutLine(a.public_id, 1), services.CheckoutLine(b.public_id, 2)]
        )

    def partial(k, writes, ctx, before, after):
        return _hold_committed(before, after, writes, holds=2)

    report = inject("checkout_create (2 types)", lambda: None, call, partial=partial)
    assert report.partial and len(report.partial) < report.writes


def test_checkout_create_one_type(inject, gateway, make_user, make_type):
    """PostgreSQL, one type: the hold is one statement; then the PaymentIntent step."""
    from domains.orders import services

    buyer = make_user()
    tt = make_type(capacity=50)

    def partial(k, writes, ctx, before, after):
        return _hold_committed(before, after, writes, holds=1)

    inject(
        "checkout_create (1 type)",
        lambda: None,
        lambda _: services.checkout_create(buyer=buyer, lines=[services.CheckoutLine(tt.public_id, 2)]),
        partial=partial,
    )


def test_fulfilment_from_the_stripe_webhook(inject, gateway, make_user, make_type, settings):
    from domains.orders import services
    from domains.orders.webhooks import stripe_webhook_receive

    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    buyer = make_user()
    tt = make_type(capacity=50)

    def prepare():
        result = services.checkout_create(buyer=buyer, lines=[services.CheckoutLine(tt.public_id, 2)])
        return event_body("payment_intent.succeeded", pi_object(gateway.succeed(result.order.payment_intent_id)))

    def call(body):
        result = stripe_webhook_receive(payload=body, signature_header=_signed(body))
        assert result.outcome == "processed", result

    inject("order_fulfil via stripe_webhook_receive", prepare, call)


def test_refund_recorded_from_the_stripe_webhook(inject, gateway, make_user, make_type, settings):
    from domains.orders.webhooks import stripe_webhook_receive

    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    buyer = make_user()
    tt = make_type(capacity=50)

    def prepare():
        order = _paid_order(gateway, buyer, tt, 2)
        charge = {
            "id": f"ch_{uuid.uuid4().hex[:12]}",
            "object": "charge",
            "payment_intent": order.payment_intent_id,
            "amount": order.total_amount,
            "amount_refunded": order.total_amount,
            "currency": "eur",
            "metadata": {},
            "refunds": {
                "data": [
                    {
                        "id": f"re_{uuid.uuid4().hex[:12]}",
                        "amount": order.total_amount,
                        "currency": "eur",
                        "metadata": {},
                    }
                ]
            },
        }
        return event_body("charge.refunded", charge)

    def call(body):
        result = stripe_webhook_receive(payload=body, signature_header=_signed(body))
        assert result.outcome == "processed", result

    inject("order_record_refunds via stripe_webhook_receive", prepare, call)


def test_dispute_lost_from_the_stripe_webhook(inject, gateway, make_user, make_type, settings):
    """First seen closed as lost: the dispute, its booking as a refund, the voids, the audit
    entries and the organisers' email are one transaction with the event's row."""
    from domains.orders.webhooks import stripe_webhook_receive
    from tests.lifecycle.test_disputes import dispute_object

    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    buyer = make_user()
    tt = make_type(capacity=50)

    def prepare():
        order = _paid_order(gateway, buyer, tt, 2)
        dispute = dispute_object(order.payment_intent_id, dispute_id=f"dp_{uuid.uuid4().hex[:12]}", amount=order.total_amount, status="lost")
        return event_body("charge.dispute.closed", dispute)

    def call(body):
        result = stripe_webhook_receive(payload=body, signature_header=_signed(body))
        assert (result.outcome, result.note) == ("processed", "dispute closed lost"), result

    inject("dispute_record (lost) via stripe_webhook_receive", prepare, call)


def test_staff_refund(inject, gateway, make_user, make_type):
    """The Stripe refund is made before the database writes, under the order lock; a fault after
    it rolls every row back, and the charge.refunded event (carrying our ticket ids) records it
    (domains/orders/refunds.py). The database side must still be all or nothing."""
    from domains.orders.refunds import order_refund
    from domains.tickets.models import Ticket

    buyer, staff = make_user(), make_user("staff")
    tt = make_type(capacity=50)

    def prepare():
        order = _paid_order(gateway, buyer, tt, 2)
        return order, Ticket.objects.filter(order_line__order=order).order_by("pk").first()

    def call(ctx):
        order, ticket = ctx
        order_refund(staff=staff, order_public_id=order.public_id, reason="ill", ticket_ids=[ticket.public_id])

    inject("order_refund (staff)", prepare, call)


def test_payment_failed_from_the_stripe_webhook(inject, gateway, make_user, make_type, settings):
    from domains.orders import services
    from domains.orders.webhooks import stripe_webhook_receive

    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    buyer = make_user()
    tt = make_type(capacity=50)

    def prepare():
        result = services.checkout_create(buyer=buyer, lines=[services.CheckoutLine(tt.public_id, 2)])
        info = gateway.intents[result.order.payment_intent_id]
        failed = pi_object(
            info, status="requires_payment_method", last_payment_error={"code": "card_declined", "message": "Declined"}
        )
        return event_body("payment_intent.payment_failed", failed)

    def call(body):
        result = stripe_webhook_receive(payload=body, signature_header=_signed(body))
        assert result.outcome == "processed", result

    inject("order_payment_failed via stripe_webhook_receive", prepare, call)


def test_expired_holds_released(inject, gateway, make_user, make_type):
    """One transaction per order (holds_release_expired: an order locked by someone else is
    skipped, the rest go on): a fault keeps the orders expired before it. Checked: each order
    is whole (expired with its holds released, or pending with its holds active) and the type's
    held count is the active holds' sum."""
    from domains.orders import services
    from domains.orders.models import InventoryHold, Order
    from domains.tickets.models import TicketType

    buyer = make_user()

    def prepare():
        tt = make_type(capacity=50)
        orders = [
            services.checkout_create(buyer=buyer, lines=[services.CheckoutLine(tt.public_id, q)]).order for q in (1, 2)
        ]
        for i, order in enumerate(orders):
            Order.objects.filter(pk=order.pk).update(expires_at=now() - dt.timedelta(minutes=10 - i))
        return tt, orders

    def call(ctx):
        tt, orders = ctx
        assert services.holds_release_expired(ticket_type_id=tt.pk) == len(orders)

    def partial(k, writes, ctx, before, after):
        tt, orders = ctx
        done = 0
        for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
            holds = set(order.holds.values_list("status", flat=True))
            if order.status == Order.Status.EXPIRED:
                assert (
                    holds == {InventoryHold.Status.RELEASED}
                    and order.status_history.filter(to_status="expired").exists()
                )
                done += 1
            else:
                assert order.status == Order.Status.PENDING and holds == {InventoryHold.Status.ACTIVE}
        active = sum(InventoryHold.objects.filter(ticket_type=tt, status="active").values_list("quantity", flat=True))
        assert TicketType.objects.get(pk=tt.pk).held_count == active
        assert done == (k - 1) // 4  # four writes per order of one type: whole orders only
        return f"{done} earlier order(s) expired, each whole (one transaction per order, documented)" if done else None

    inject("holds_release_expired (2 orders)", prepare, call, partial=partial)


def test_comp_issue(inject, make_user, make_type):
    from domains.orders.comps import comp_issue

    staff = make_user("staff")
    plain, allowance = make_type(capacity=50), make_type(capacity=50, comp_allowance=10)
    n = iter(range(1000))

    for tt in (plain, allowance):
        inject(
            f"comp_issue ({'allowance' if tt.comp_allowance else 'capacity'}, new account)",
            lambda: f"guest{next(n)}@example.test",
            lambda address, tt=tt: comp_issue(
                staff=staff, email=address, ticket_type_public_id=tt.public_id, quantity=2, note="press"
            ),
        )


# --------------------------------------------------------------------------- transfers, upgrades


def test_transfer_accept(inject, gateway, make_user, make_type):
    from domains.notifications.models import OutboundEmail
    from domains.tickets.models import Ticket
    from domains.transfers.services import transfer_accept, transfer_create

    sender, recipient = make_user(), make_user()
    tt = make_type(capacity=50)

    def prepare():
        order = _paid_order(gateway, sender, tt, 1)
        ticket = Ticket.objects.get(order_line__order=order)
        offer = transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email)
        return OutboundEmail.objects.get(key=f"transfer-offer:{offer.transfer.public_id}").context["token"]

    inject("transfer_accept", prepare, lambda token: transfer_accept(recipient=recipient, token=token))


def test_transfer_create(inject, gateway, make_user, make_type):
    from domains.tickets.models import Ticket
    from domains.transfers.services import transfer_create

    sender, recipient = make_user(), make_user()
    tt = make_type(capacity=50)

    def prepare():
        return Ticket.objects.get(order_line__order=_paid_order(gateway, sender, tt, 1))

    inject(
        "transfer_create",
        prepare,
        lambda t: transfer_create(sender=sender, ticket_public_id=t.public_id, to_email=recipient.email),
    )


def test_transfer_cancel(inject, gateway, make_user, make_type):
    from domains.tickets.models import Ticket
    from domains.transfers.services import transfer_cancel, transfer_create

    sender, recipient = make_user(), make_user()
    tt = make_type(capacity=50)

    def prepare():
        ticket = Ticket.objects.get(order_line__order=_paid_order(gateway, sender, tt, 1))
        return transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email).transfer

    inject("transfer_cancel", prepare, lambda t: transfer_cancel(sender=sender, transfer_public_id=t.public_id))


def _tiers(make_type):
    return make_type(name="Day", tier_rank=10, price_amount=5000, capacity=50), make_type(
        name="Weekend", tier_rank=20, price_amount=8000, capacity=50
    )


def test_upgrade_apply_from_payment(inject, gateway, make_user, make_type):
    from domains.tickets.models import Ticket
    from domains.upgrades.services import upgrade_apply, upgrade_request

    holder = make_user()
    day, weekend = _tiers(make_type)

    def prepare():
        ticket = Ticket.objects.get(order_line__order=_paid_order(gateway, holder, day, 1))
        up = upgrade_request(
            user=holder, ticket_public_id=ticket.public_id, to_type_public_id=weekend.public_id
        ).upgrade
        return up, gateway.succeed(up.payment_intent_id)

    def call(ctx):
        up, info = ctx
        assert upgrade_apply(upgrade_id=up.pk, payment=info, source="webhook").applied

    inject("upgrade_apply (paid)", prepare, call)


def test_staff_upgrade_without_charge(inject, gateway, make_user, make_type):
    """upgradeProcess without charge "applies at once": the pending upgrade and its held unit
    must not outlive a failed apply (a retry was refused UPGRADE_ALREADY_PENDING until expiry)."""
    from domains.tickets.models import Ticket
    from domains.upgrades.services import upgrade_process

    holder, staff = make_user(), make_user("staff")
    day, weekend = _tiers(make_type)

    def prepare():
        return Ticket.objects.get(order_line__order=_paid_order(gateway, holder, day, 1))

    inject(
        "upgrade_process (no charge)",
        prepare,
        lambda t: upgrade_process(
            staff=staff,
            ticket_public_id=t.public_id,
            to_type_public_id=weekend.public_id,
            charge=False,
            reason="sponsor",
        ),
    )


def test_free_upgrade_request(inject, gateway, make_user, make_type):
    """A higher tier at the same price: nothing to pay, applied at once (the same two steps)."""
    from domains.tickets.models import Ticket
    from domains.upgrades.services import upgrade_request

    holder = make_user()
    day = make_type(name="Day", tier_rank=10, price_amount=5000, capacity=50)
    plus = make_type(name="Day plus", tier_rank=20, price_amount=5000, capacity=50)

    def prepare():
        return Ticket.objects.get(order_line__order=_paid_order(gateway, holder, day, 1))

    inject(
        "upgrade_request (free)",
        prepare,
        lambda t: upgrade_request(user=holder, ticket_public_id=t.public_id, to_type_public_id=plus.public_id),
    )


# --------------------------------------------------------------------------- vendors, accounts


def test_booth_assign(inject, make_user, festival):
    from domains.vendors.models import Booth, VendorProfile
    from domains.vendors.services.assignment import booth_assign

    admin = make_user("admin")
    n = iter(range(1000))

    def prepare():
        i = next(n)
        vendor = VendorProfile.objects.create(
            owner=make_user("vendor"),
            business_name=f"Vendor {i}",
            category="food",
            description="x",
            contact_email=f"c{i}@vendor.test",
            contact_phone="+1 555 0100",
            status="approved",
        )
        booth = Booth.objects.create(
            festival=festival, code=f"B-{i:03d}", zone="Food", price_amount=100, currency="EUR"
        )
        return vendor, booth

    def call(ctx):
        vendor, booth = ctx
        booth_assign(admin=admin, vendor_id=vendor.public_id, booth_id=booth.public_id)

    inject("booth_assign", prepare, call)


def _vendor(make_user, i, status):
    from domains.vendors.models import VendorProfile

    return VendorProfile.objects.create(
        owner=make_user("vendor"),
        business_name=f"Vendor {i}",
        category="food",
        description="x",
        contact_email=f"c{i}@vendor.test",
        contact_phone="+1 555 0100",
        status=status,
    )


def test_booth_unassign_is_one_write(enqueued, make_user, festival):
    """Not a multi-write service (one UPDATE of the assignment: no audit row, no email), so not
    in the loop; checked here that it stays one statement and that its fault changes nothing."""
    from domains.vendors.models import Booth
    from domains.vendors.services.assignment import booth_assign, booth_unassign

    admin = make_user("admin")
    n = iter(range(1000))

    def prepare():
        i = next(n)
        booth = Booth.objects.create(
            festival=festival, code=f"U-{i:03d}", zone="Food", price_amount=100, currency="EUR"
        )
        booth_assign(admin=admin, vendor_id=_vendor(make_user, 100 + i, "approved").public_id, booth_id=booth.public_id)
        enqueued.clear()
        return booth

    booth, counter = prepare(), Faults()
    with connection.execute_wrapper(counter):
        booth_unassign(admin=admin, booth_id=booth.public_id)
    assert len(counter.writes) == 1, counter.writes
    booth = prepare()
    before = snapshot()
    with pytest.raises(DatabaseError), connection.execute_wrapper(Faults(fail_at=1)):
        booth_unassign(admin=admin, booth_id=booth.public_id)
    assert snapshot() == before and enqueued == []


def test_vendor_review(inject, make_user):
    from domains.vendors.services.review import vendor_review

    staff = make_user("staff")
    n = iter(range(1000))
    for decision, status in (("approve", "submitted"), ("suspend", "approved")):
        inject(
            f"vendor_review ({decision})",
            lambda status=status: _vendor(make_user, next(n), status),
            lambda vendor, decision=decision: vendor_review(
                reviewer=staff, vendor_id=vendor.public_id, decision=decision, note="checked"
            ),
        )


def test_vendor_profile_update(inject, make_user):
    """A draft submitted with an edit, and an approved profile whose critical field changes
    (back to review): the profile row and its review row together."""
    from domains.vendors.services.profile import vendor_profile_update

    n = iter(range(1000))
    for label, status, changes, submit in (
        ("draft, submit", "draft", {"description": "Tacos"}, True),
        ("approved, critical edit", "approved", {"business_name": "Renamed"}, False),
    ):
        inject(
            f"vendor_profile_update ({label})",
            lambda status=status: _vendor(make_user, next(n), status),
            lambda vendor, changes=changes, submit=submit: vendor_profile_update(
                owner=vendor.owner, changes=changes, submit=submit
            ),
        )


def test_user_register(inject):
    from domains.accounts.services.registration import user_register

    n = iter(range(1000))
    inject(
        "user_register (new address)",
        lambda: f"new{next(n)}@example.test",
        lambda address: user_register(email=address, password="a long enough passphrase 42", full_name="New Person"),
    )


def test_user_verify_email(inject, make_user):
    from django.conf import settings as django_settings

    from domains.accounts.models import OneTimeToken
    from domains.accounts.services.registration import user_verify_email
    from domains.accounts.tokens import hash_secret, new_secret

    def prepare():
        raw = new_secret()
        OneTimeToken.objects.create(
            user=make_user(),
            purpose=OneTimeToken.Purpose.EMAIL_VERIFICATION,
            token_hash=hash_secret(raw),
            expires_at=now() + django_settings.PASSWORD_RESET_TTL,
        )
        return raw

    inject("user_verify_email", prepare, lambda raw: user_verify_email(token=raw))


def test_password_change(inject, make_user, token_for):
    from domains.accounts.services.passwords import password_change
    from tests.conftest import PASSWORD

    def prepare():
        user = make_user()
        token_for(user)  # a session to revoke
        return user

    inject(
        "password_change",
        prepare,
        lambda user: password_change(
            user=user, current_password=PASSWORD, new_password="another long passphrase 42", client_ip="10.0.0.1"
        ),
    )


def test_password_reset(inject, make_user, token_for):
    from django.conf import settings as django_settings

    from domains.accounts.models import OneTimeToken
    from domains.accounts.services.passwords import password_reset
    from domains.accounts.tokens import hash_secret, new_secret

    def prepare():
        user = make_user()
        token_for(user)
        raw = new_secret()
        OneTimeToken.objects.create(
            user=user,
            purpose=OneTimeToken.Purpose.PASSWORD_RESET,
            token_hash=hash_secret(raw),
            expires_at=now() + django_settings.PASSWORD_RESET_TTL,
        )
        return raw

    inject("password_reset", prepare, lambda raw: password_reset(token=raw, new_password="another long passphrase 42"))


def test_password_reset_email_send(inject, make_user):
    from domains.accounts.services.passwords import password_reset_email_send
    from domains.common.sealed import seal

    inject(
        "password_reset_email_send",
        lambda: seal(make_user().email),
        lambda sealed: password_reset_email_send(sealed_email=sealed),
    )


def test_account_erasure(inject, gateway, make_user, make_type, token_for):
    from domains.accounts.privacy import user_erase

    tt = make_type(capacity=50)

    def prepare():
        user = make_user()
        _paid_order(gateway, user, tt, 1)
        token_for(user)
        return user

    inject("user_erase", prepare, lambda user: user_erase(user=user, check_password=False))


# --------------------------------------------------------------------------- scanning

BERLIN_NOON = dt.datetime(2026, 7, 3, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


@pytest.fixture
def gate_env(make_user, monkeypatch):
    import domains.scanning.services.batch as batch
    import domains.scanning.services.commit as commit
    from tests.scanning import factories

    monkeypatch.setattr(commit, "now", lambda: BERLIN_NOON)
    monkeypatch.setattr(batch, "now", lambda: BERLIN_NOON)
    fest = factories.festival()
    gate = factories.gate(fest, "North")
    staff = make_user("staff")
    device, _ = factories.device(gate, staff)
    return fest, gate, staff, device, factories.ticket_type(fest, name="Weekend"), make_user()


# The scans below take the locked path (`locked_scan_path`), whose state and log rows are
# separate writes; the checked write is one statement (tests/scanning/test_checked_scan.py fails it).
def test_scan_commit(inject, gate_env, locked_scan_path):
    """scan_commit's own BEGIN/COMMIT in psycopg pipeline mode (rows.scan_transaction): the
    writes go through a Django cursor wrapper, so the execute wrapper sees and fails them."""
    from domains.scanning.models import Verdict
    from domains.scanning.services import scan_commit
    from domains.tickets.qr import qr_encode
    from tests.scanning import factories

    fest, gate, staff, device, tt, holder = gate_env
    assert not connection.in_atomic_block  # the pipelined path, not atomic()

    def call(ticket):
        result = scan_commit(
            code=qr_encode(ticket), gate=gate, device=device, staff_user=staff, nonce=uuid.uuid4().hex, throttled=False
        )
        assert result.verdict == Verdict.ADMITTED, result

    inject("scan_commit (admitted)", lambda: factories.ticket(tt, holder), call)


def test_offline_scan_batch(inject, gate_env, locked_scan_path):
    """Each offline scan is its own transaction (domains/scanning/services/batch.py): a fault
    keeps the scans applied before it. Checked: the failing scan leaves nothing, the earlier
    ones are whole (state and log row each)."""
    from domains.scanning.models import ScanLog, TicketEntryState
    from domains.scanning.services.batch import OfflineScan, scan_commit_batch
    from domains.tickets.qr import qr_encode
    from tests.scanning import factories

    fest, gate, staff, device, tt, holder = gate_env

    def prepare():
        tickets = [factories.ticket(tt, holder) for _ in range(3)]
        at = BERLIN_NOON - dt.timedelta(minutes=5)
        return tickets, [
            OfflineScan(code=qr_encode(t), scanned_at=at + dt.timedelta(seconds=i), nonce=uuid.uuid4().hex)
            for i, t in enumerate(tickets)
        ]

    def partial(k, writes, ctx, before, after):
        tickets, _ = ctx
        done = [t for t in tickets if ScanLog.objects.filter(ticket=t).exists()]
        for t in tickets:
            assert ScanLog.objects.filter(ticket=t).exists() == TicketEntryState.objects.filter(ticket=t).exists()
        assert len(done) == (k - 1) // 2  # two writes per admitted scan: whole scans only
        return f"{len(done)} earlier scan(s) kept, each whole (one transaction per scan, documented)" if done else None

    inject(
        "scan_commit_batch (3 scans)",
        prepare,
        lambda ctx: scan_commit_batch(device=device, staff_user=staff, scans=ctx[1]),
        partial=partial,
    )


@pytest.fixture
def supervisor_env(gate_env, make_user, monkeypatch):
    import domains.scanning.services.supervisor as supervisor

    monkeypatch.setattr(supervisor, "now", lambda: BERLIN_NOON)
    return (*gate_env, make_user("admin"))


def test_scan_manual_admit(inject, supervisor_env):
    """Under atomic() (rows.current_transaction): the state and the log row together."""
    from domains.scanning.models import Verdict
    from domains.scanning.services.supervisor import scan_manual_admit
    from tests.scanning import factories

    fest, gate, staff, device, tt, holder, admin = supervisor_env

    def call(ticket):
        result = scan_manual_admit(ticket_id=ticket.public_id, gate=gate, supervisor=admin, note="dead phone")
        assert result.verdict == Verdict.ADMITTED, result

    inject("scan_manual_admit", lambda: factories.ticket(tt, holder), call)


def test_scan_restore(inject, supervisor_env):
    from domains.scanning.models import Verdict
    from domains.scanning.services.supervisor import scan_manual_admit, scan_restore
    from tests.scanning import factories

    fest, gate, staff, device, tt, holder, admin = supervisor_env

    def prepare():
        ticket = factories.ticket(tt, holder)
        scan_manual_admit(ticket_id=ticket.public_id, gate=gate, supervisor=admin)
        return ticket

    def call(ticket):
        result = scan_restore(ticket_id=ticket.public_id, gate=gate, supervisor=admin, note="wrong ticket")
        assert result.verdict == Verdict.RESTORED, result

    inject("scan_restore", prepare, call)


# --------------------------------------------------------------------------- registration of a known address


def test_user_register_known_address_is_one_write(enqueued, make_user, settings):
    """Registering an address that has an account writes one row (the "account exists" email
    to its owner), so it is not in the loop: checked here that it stays one statement and that
    a fault there leaves every table as it was, queues nothing and sends nothing; and that a
    second try within the hour (its email already recorded) writes and queues nothing at all."""
    from domains.accounts.services.registration import user_register

    def register(address):
        user_register(email=address, password="a long enough passphrase 42", full_name="Someone Else")

    known = make_user().email
    enqueued.clear()
    before, faults = snapshot(), Faults(fail_at=1)
    with pytest.raises(DatabaseError), connection.execute_wrapper(faults):
        register(known.upper())  # as typed: the address is compared case-insensitively
    assert faults.fired and len(faults.writes) == 1, faults.writes
    assert snapshot() == before and enqueued == []
    assert not (settings.EMAIL_OUTBOX_DIR.exists() and any(settings.EMAIL_OUTBOX_DIR.iterdir()))

    counter = Faults()
    with connection.execute_wrapper(counter):
        register(known)
    assert len(counter.writes) == 1 and enqueued == ["send_email"], (counter.writes, enqueued)
    enqueued.clear()
    before, counter = snapshot(), Faults()
    with connection.execute_wrapper(counter):
        register(known)  # the same hour: the owner was told already
    assert counter.writes == [] and enqueued == [] and snapshot() == before


# --------------------------------------------------------------------------- wallet


@pytest.fixture(scope="module")
def _wallet_dev_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wallet-dev")


@pytest.fixture
def wallet(settings, _wallet_dev_dir, make_type, make_user):
    """Dev wallet credentials (as tests/wallet/conftest.py sets them) and make_ticket(holder):
    a valid ticket holding an Apple and a Google pass."""
    from domains.tickets.models import Ticket
    from domains.wallet.services import wallet_pass_create_apple, wallet_pass_create_google
    from tests.support.wallet import use_dev_wallet

    use_dev_wallet(settings, _wallet_dev_dir)
    tt = make_type(capacity=500)

    def make_ticket(holder):
        ticket = Ticket.objects.create(ticket_type=tt, holder=holder)
        wallet_pass_create_apple(user=holder, ticket_id=ticket.public_id)
        wallet_pass_create_google(user=holder, ticket_id=ticket.public_id)
        return ticket

    return make_ticket


def _behind_the_signal(ticket, **fields):
    """Change the ticket with QuerySet.update(), which sends no signal: its passes stay ACTIVE
    for the next wallet call to bring up to date (domains/wallet/signals.py, "Not covered")."""
    from domains.tickets.models import Ticket

    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return ticket


def test_wallet_pass_create_over_stale_passes(inject, wallet, make_user):
    """Adding a pass first supersedes the ticket's stale live passes (their update tags, and
    pushes after commit), then inserts the new pass: all of it or none, pushes on commit only."""
    from django.db.models import F

    from domains.wallet.services import wallet_pass_create_apple

    holder = make_user()
    report = inject(
        "wallet_pass_create_apple (2 stale passes)",
        lambda: _behind_the_signal(wallet(holder), secret_version=F("secret_version") + 1),
        lambda ticket: wallet_pass_create_apple(user=holder, ticket_id=ticket.public_id),
    )
    assert report.writes == 3


def test_wallet_passes_ticket_changed(inject, wallet, make_user):
    """The rule every ticket change goes through (a refund here): both live passes voided
    together, their pushes queued on commit only."""
    from domains.tickets.models import Ticket
    from domains.wallet.services import wallet_passes_ticket_changed

    holder = make_user()
    inject(
        "wallet_passes_ticket_changed (refund, 2 passes)",
        lambda: _behind_the_signal(wallet(holder), status=Ticket.Status.REFUNDED),
        lambda ticket: wallet_passes_ticket_changed(ticket_id=ticket.pk),
    )


def test_wallet_passes_refresh_one_batch(inject, wallet, make_user):
    """After a QR key is dropped every live pass gets a new update tag and a push. One batch
    is one transaction: a fault leaves every tag as it was and queues no push. (Batches
    before a failing one stay done, with their pushes: harmless to run again, documented.)"""
    from domains.wallet.models import WalletPass
    from domains.wallet.services import wallet_passes_refresh

    holder = make_user()

    def prepare():
        WalletPass.objects.update(status=WalletPass.Status.VOID)  # only this setup's passes are live
        wallet(holder)
        wallet(holder)

    inject("wallet_passes_refresh (4 passes, one batch)", prepare, lambda _: wallet_passes_refresh(batch=500))


def test_wallet_transfer_accept_with_passes(inject, gateway, make_user, make_type, wallet):
    """A transfer with the sender's passes installed: the holder change supersedes them
    through the Ticket signal inside the transfer's transaction. A fault anywhere leaves the
    passes live (nothing else changed either) and queues no push."""
    from domains.notifications.models import OutboundEmail
    from domains.tickets.models import Ticket
    from domains.transfers.services import transfer_accept, transfer_create
    from domains.wallet.services import wallet_pass_create_apple, wallet_pass_create_google

    sender, recipient = make_user(), make_user()
    tt = make_type(capacity=50)

    def prepare():
        ticket = Ticket.objects.get(order_line__order=_paid_order(gateway, sender, tt, 1))
        wallet_pass_create_apple(user=sender, ticket_id=ticket.public_id)
        wallet_pass_create_google(user=sender, ticket_id=ticket.public_id)
        offer = transfer_create(sender=sender, ticket_public_id=ticket.public_id, to_email=recipient.email)
        return OutboundEmail.objects.get(key=f"transfer-offer:{offer.transfer.public_id}").context["token"]

    token, counter = prepare(), Faults()
    with connection.execute_wrapper(counter):
        transfer_accept(recipient=recipient, token=token)
    assert sum('UPDATE "wallet_walletpass"' in sql for sql in counter.writes) == 2, counter.writes
    inject("transfer_accept (sender's passes installed)", prepare,
           lambda token: transfer_accept(recipient=recipient, token=token))


def test_wallet_device_register_with_a_new_push_token(inject, wallet, make_user):
    """A device that follows one pass registers for another with a new push token: its token
    is replaced for every pass it follows, then the registration inserted, together."""
    from domains.wallet import passkit
    from domains.wallet.models import WalletPass

    holder = make_user()
    n = iter(range(1000))

    def prepare():
        device = f"device-{next(n)}"
        first, second = (WalletPass.objects.get(ticket=wallet(holder), kind="apple") for _ in range(2))
        passkit.device_register(wallet_pass=first, device_library_identifier=device, push_token="0a" * 32)
        return device, second

    def call(ctx):
        device, second = ctx
        assert passkit.device_register(wallet_pass=second, device_library_identifier=device, push_token="0b" * 32)

    assert inject("device_register (new push token)", prepare, call).writes == 2


def test_wallet_device_unregister_is_one_write(enqueued, wallet, make_user):
    """Not a multi-write service (one DELETE), so not in the loop: checked that it stays one
    statement and that its fault changes nothing."""
    from domains.wallet import passkit
    from domains.wallet.models import WalletPass

    holder = make_user()
    wallet_pass = WalletPass.objects.get(ticket=wallet(holder), kind="apple")
    passkit.device_register(wallet_pass=wallet_pass, device_library_identifier="device-u", push_token="0c" * 32)
    enqueued.clear()
    before = snapshot()
    faults = Faults(fail_at=1)
    with pytest.raises(DatabaseError), connection.execute_wrapper(faults):
        passkit.device_unregister(wallet_pass=wallet_pass, device_library_identifier="device-u")
    assert len(faults.writes) == 1 and snapshot() == before and enqueued == []
    counter = Faults()
    with connection.execute_wrapper(counter):
        passkit.device_unregister(wallet_pass=wallet_pass, device_library_identifier="device-u")
    assert len(counter.writes) == 1 and not wallet_pass.registrations.exists()
