"""Comp allowance: a ticket type may set aside complimentary tickets outside its sellable
capacity. Comps draw from it (never beyond it), a voided comp returns its unit to it, an
upgraded comp returns its unit to it; without an allowance comps count against capacity."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from domains.tickets.models import Ticket, TicketType

pytestmark = pytest.mark.django_db

COMP = """mutation($e: String!, $t: UUID!, $q: Int!, $n: String!) { issueCompTickets(email: $e, ticketTypeId: $t, quantity: $q, note: $n) {
  compAllowanceLeft order { order { id status } tickets { id } } errors { code field } } }"""
REFUND = """mutation($o: UUID!, $t: [UUID!]) { refundOrder(orderId: $o, reason: "guest cannot come", ticketIds: $t) {
  voidedTicketIds errors { code } } }"""
AVAILABLE = "{ ticketTypes { name capacity available } }"


def comp(staff, tt, quantity, email="guest@example.test"):
    return staff.execute(COMP, {"e": email, "t": str(tt.public_id), "q": quantity, "n": "artist guest list"}).payload("issueCompTickets")


def counters(tt):
    tt.refresh_from_db()
    return tt.sold_count, tt.held_count, tt.comp_issued_count


def test_an_address_longer_than_any_email_column_is_invalid_input(as_user, make_type):
    """Django's validator accepts up to 320 characters; the columns hold 254 (it was a DataError)."""
    staff = as_user("staff")
    tt = make_type(name="Weekend", capacity=2, comp_allowance=3)
    too_long = "a" * 200 + "@" + "b" * 60 + ".com"
    assert comp(staff, tt, 1, email=too_long)["errors"] == [{"code": "INVALID_INPUT", "field": "email"}]
    assert counters(tt) == (0, 0, 0)


def test_comps_never_land_in_an_account_that_has_not_proved_its_address(as_user, make_type, gql):
    """Anyone can register a guest's address and log in before verifying it (a squatter)."""
    from domains.accounts.models import User
    from domains.common.clock import now
    from tests.support.accounts import REGISTER

    staff = as_user("staff")
    tt = make_type(name="Weekend", capacity=5)
    assert gql.execute(REGISTER, {"email": "vip.guest@example.test", "password": "squatter-password-123"}).errors is None
    refused = comp(staff, tt, 2, email="VIP.Guest@example.test")
    assert refused["errors"] == [{"code": "COMP_RECIPIENT_UNVERIFIED", "field": "email"}]
    assert counters(tt) == (0, 0, 0) and not Ticket.objects.filter(ticket_type=tt).exists()
    # Once the inbox's owner proves it (the verification link, or a password reset), they go there.
    User.objects.filter(email="vip.guest@example.test").update(email_verified_at=now())
    assert comp(staff, tt, 1, email="vip.guest@example.test")["errors"] == []
    # An account made by an earlier comp (nobody can log into it yet) receives more comps.
    assert comp(staff, tt, 1, email="new.guest@example.test")["errors"] == []
    assert comp(staff, tt, 1, email="new.guest@example.test")["errors"] == []
    assert counters(tt) == (3, 0, 0)  # no allowance: comps take sellable capacity



def test_a_comp_from_capacity_takes_a_unit_an_expired_checkout_still_held(as_user, make_type, make_user, gateway):
    """The last unit sits in a checkout hold that ran out, not yet released by the periodic
    job: the comp releases it and takes the unit, as a checkout would (it was SOLD_OUT)."""
    import datetime as dt

    from domains.orders import services as orders
    from domains.orders.models import Order

    staff = as_user("staff")
    tt = make_type(name="Weekend", capacity=1)
    held = orders.checkout_create(buyer=make_user(), lines=[orders.CheckoutLine(tt.public_id, 1)]).order
    assert comp(staff, tt, 1)["errors"] == [{"code": "SOLD_OUT", "field": "quantity"}]  # the hold is live
    Order.objects.filter(pk=held.pk).update(expires_at=held.expires_at - dt.timedelta(days=1))
    assert comp(staff, tt, 1)["errors"] == []
    held.refresh_from_db()
    assert held.status == Order.Status.EXPIRED and counters(tt) == (1, 0, 0)


def test_comps_draw_from_the_allowance_not_from_sellable_capacity(as_user, make_type, gql):
    staff = as_user("staff")
    tt = make_type(name="Weekend", capacity=2, comp_allowance=3)
    first = comp(staff, tt, 2)
    assert first["errors"] == [] and first["compAllowanceLeft"] == 1
    assert comp(staff, tt, 1)["compAllowanceLeft"] == 0
    assert counters(tt) == (0, 0, 3)
    # The public catalogue still sells both units: comps did not consume them.
    assert gql.execute(AVAILABLE).data["ticketTypes"] == [{"name": "Weekend", "capacity": 2, "available": 2}]
    assert Ticket.objects.filter(ticket_type=tt, from_comp_allowance=True).count() == 3

    over = comp(staff, tt, 1)
    assert over["errors"] == [{"code": "COMP_ALLOWANCE_EXHAUSTED", "field": "quantity"}]
    assert counters(tt) == (0, 0, 3) and Ticket.objects.filter(ticket_type=tt).count() == 3

    # Cancelling a comp (refundOrder of a zero-price order) returns its unit to the allowance.
    order_id, ticket_id = first["order"]["order"]["id"], first["order"]["tickets"][0]["id"]
    cancelled = staff.execute(REFUND, {"o": order_id, "t": [ticket_id]}).payload("refundOrder")
    assert cancelled["errors"] == [] and cancelled["voidedTicketIds"] == [ticket_id]
    assert counters(tt) == (0, 0, 2)
    assert comp(staff, tt, 1)["compAllowanceLeft"] == 0
    assert counters(tt) == (0, 0, 3)


def test_without_an_allowance_comps_count_against_capacity(as_user, make_type):
    staff = as_user("staff")
    tt = make_type(capacity=2)
    out = comp(staff, tt, 2)
    assert out["errors"] == [] and out["compAllowanceLeft"] is None
    assert counters(tt) == (2, 0, 0)
    assert [e["code"] for e in comp(staff, tt, 1)["errors"]] == ["SOLD_OUT"]


def test_an_allowance_of_zero_issues_no_comps_and_never_falls_back_to_capacity(as_user, make_type):
    staff = as_user("staff")
    tt = make_type(capacity=5, comp_allowance=0)
    assert [e["code"] for e in comp(staff, tt, 1)["errors"]] == ["COMP_ALLOWANCE_EXHAUSTED"]
    assert counters(tt) == (0, 0, 0)


def test_upgrading_a_comp_returns_its_unit_to_the_allowance(as_user, make_type, make_user):
    from domains.orders.comps import comp_issue
    from domains.upgrades.services import upgrade_process

    staff = make_user("staff")
    day = make_type(name="Day", tier_rank=10, capacity=5, comp_allowance=2)
    vip = make_type(name="VIP", tier_rank=30, capacity=5)
    ticket = comp_issue(staff=staff, email="guest@example.test", ticket_type_public_id=day.public_id, quantity=1, note="press").tickets[0]
    upgrade_process(staff=staff, ticket_public_id=ticket.public_id, to_type_public_id=vip.public_id, charge=False, reason="press VIP")
    ticket.refresh_from_db()
    assert ticket.ticket_type_id == vip.pk and ticket.from_comp_allowance is False
    assert counters(day) == (0, 0, 0)  # the comp unit went back to the allowance, not to sale
    assert counters(vip) == (1, 0, 0)  # the VIP unit is a sellable one
    # Voiding it now returns a VIP unit to sale (it is no longer a comp unit).
    from domains.tickets.services import tickets_void

    tickets_void(tickets=[ticket])
    assert counters(vip) == (0, 0, 0) and counters(day) == (0, 0, 0)


def test_admin_sets_the_allowance_validates_it_and_never_writes_back_counters(make_type, make_user, rf):
    from django.contrib.admin.sites import site

    admin_user = make_user("admin", is_staff=True, is_superuser=True)
    tt = make_type(capacity=10)
    model_admin = site._registry[TicketType]
    request = rf.post("/admin/")
    request.user = admin_user
    form_class = model_admin.get_form(request, tt, change=True)
    assert "comp_allowance" in form_class.base_fields and "comp_issued_count" not in form_class.base_fields

    def bound(**changes):
        data = {}
        for name in form_class.base_fields:
            value = getattr(tt, name if name != "festival" else "festival_id")
            data[name] = "" if value is None else value
        for name in ("sale_starts_at", "sale_ends_at"):
            data.pop(name, None)
            data[f"{name}_0"] = data[f"{name}_1"] = ""
        data.update(changes)
        return form_class(data, instance=TicketType.objects.get(pk=tt.pk))

    form = bound(comp_allowance=4)
    assert form.is_valid(), form.errors
    obj = form.save(commit=False)
    # Sales and comps committed while the admin looked at the page:
    TicketType.objects.filter(pk=tt.pk).update(sold_count=3, held_count=2, comp_issued_count=0)
    model_admin.save_model(request, obj, form, change=True)
    tt.refresh_from_db()
    assert (tt.comp_allowance, tt.sold_count, tt.held_count) == (4, 3, 2)

    TicketType.objects.filter(pk=tt.pk).update(comp_issued_count=4)
    tt.refresh_from_db()
    lower = bound(comp_allowance=3)
    assert not lower.is_valid()
    assert "4 comps were already issued" in str(lower.errors["comp_allowance"])


def test_the_database_refuses_more_comps_than_the_allowance(make_type):
    tt = make_type(capacity=10, comp_allowance=1)
    tt.comp_issued_count = 2
    with pytest.raises(ValidationError):
        tt.full_clean()
