"""A person's data: export everything we hold about them, and erase them (item 25).

Erasure anonymises the account rather than deleting it: orders, payments, refunds and invoices
stay (bookkeeping and tax law keep them for years), but for an invoiced order the buyer's name
as the invoice shows it is copied to `InvoiceParty` first, so the invoice still names the buyer
(we collect no postal address). Everything else goes: email, name, phone, password, sessions and
refresh tokens, one-time tokens, wallet device registrations, the addresses and contexts of
emails we sent them (those not sent yet are dropped), transfer offers addressed to them.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from domains.accounts.models import AuthSession, InvoiceParty, OneTimeToken, RefreshToken, User
from domains.common.clock import now

log = logging.getLogger(__name__)

ERASED_DOMAIN = "erased.invalid"


def _iso(value):
    return value.isoformat() if value else None


def user_export(*, user: User) -> dict:
    """Everything we hold about `user`, as JSON-ready data."""
    from domains.notifications.models import OutboundEmail
    from domains.orders.models import Order
    from domains.tickets.models import Ticket
    from domains.transfers.models import Transfer
    from domains.transfers.selectors import transfers_of_user_q

    orders = []
    for order in Order.objects.filter(buyer=user).prefetch_related("lines__ticket_type", "payments", "refunds").order_by("created_at"):
        orders.append(
            {
                "id": str(order.public_id),
                "number": order.number,
                "status": order.status,
                "currency": order.currency,
                "total": order.total_amount,
                "tax": order.tax_amount,
                "refunded": order.refunded_amount,
                "invoiceNumber": order.invoice_number,
                "createdAt": _iso(order.created_at),
                "paidAt": _iso(order.paid_at),
                "lines": [
                    {"ticketType": line.ticket_type.name, "quantity": line.quantity, "unitPrice": line.unit_price}
                    for line in order.lines.all()
                ],
                "payments": [{"status": p.status, "amount": p.amount, "createdAt": _iso(p.created_at)} for p in order.payments.all()],
                "refunds": [{"amount": r.amount, "status": r.status, "createdAt": _iso(r.created_at)} for r in order.refunds.all()],
            }
        )
    tickets = [
        {"id": str(t.public_id), "ticketType": t.ticket_type.name, "status": t.status, "festival": t.ticket_type.festival.name}
        for t in Ticket.objects.filter(holder=user).select_related("ticket_type__festival").order_by("id")
    ]
    sessions = [
        {"createdAt": _iso(s.created_at), "revokedAt": _iso(s.revoked_at), "userAgent": s.user_agent}
        for s in AuthSession.objects.filter(user=user).order_by("created_at")
    ]
    # Emails go to an address, not to an account: listed once the account confirmed the address
    # (as transfer offers, transfers_of_user_q), or registering someone's address unconfirmed
    # would show what was sent to them and when.
    emails = [
        {"template": e.template, "status": e.status, "createdAt": _iso(e.created_at), "sentAt": _iso(e.sent_at)}
        for e in OutboundEmail.objects.filter(to_email=user.email).order_by("created_at")
    ] if user.email_verified_at is not None else []
    transfers = [
        {"id": str(t.public_id), "status": t.status, "direction": "sent" if t.from_user_id == user.pk else "received",
         "createdAt": _iso(t.created_at)}
        for t in Transfer.objects.filter(transfers_of_user_q(user)).order_by("created_at")
    ]
    return {
        "exportedAt": _iso(now()),
        "profile": {
            "id": str(user.public_id),
            "email": user.email,
            "fullName": user.full_name,
            "phone": user.phone,
            "role": user.role,
            "emailVerifiedAt": _iso(user.email_verified_at),
            "dateJoined": _iso(user.date_joined),
        },
        "orders": orders,
        "tickets": tickets,
        "sessions": sessions,
        "emails": emails,
        "transfers": transfers,
    }


def user_erase(*, user: User, password: str | None = None, client_ip: str = "", check_password: bool = True) -> User:
    """Anonymise `user` (see the module's docstring). The person asks with their password
    (checked like a login: `password_confirm`); staff (the `erase_user` command) skip it."""
    from domains.notifications.models import OutboundEmail
    from domains.orders.models import Order

    if check_password:
        from domains.accounts.services.authentication import password_confirm

        password_confirm(user=user, password=password, client_ip=client_ip, field="password", message="The password is wrong.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.email.endswith("@" + ERASED_DOMAIN):
            return user  # erased already
        old_email = user.email
        for order in Order.objects.filter(buyer=user, invoice_number__isnull=False):
            InvoiceParty.objects.get_or_create(order=order, defaults={"name": user.full_name})
        sessions = AuthSession.objects.filter(user=user)
        RefreshToken.objects.filter(session__in=sessions).delete()
        sessions.filter(revoked_at__isnull=True).update(revoked_at=now(), revoked_reason="erased")
        sessions.update(user_agent="")
        OneTimeToken.objects.filter(user=user).delete()
        # What had not gone out yet never goes: it would carry their tickets and documents to
        # an address that no longer means anything (the rows stay, as the record of what was).
        OutboundEmail.objects.filter(to_email=old_email, status=OutboundEmail.Status.PENDING).update(
            status=OutboundEmail.Status.DROPPED
        )
        OutboundEmail.objects.filter(to_email=old_email).update(to_email=f"erased@{ERASED_DOMAIN}", context={})
        _erase_elsewhere(user, old_email)
        user.email = f"erased-{uuid.uuid4().hex}@{ERASED_DOMAIN}"
        user.full_name = ""
        user.phone = ""
        user.set_unusable_password()
        user.is_active = False
        user.token_version += 1  # every access token fails on its next use
        user.save()
    log.info("user erased", extra={"user_id": str(user.public_id)})
    return user


def _erase_elsewhere(user: User, old_email: str) -> None:
    """Other areas' copies of the person: transfer offers to their address, wallet devices."""
    from domains.transfers.models import Transfer
    from domains.wallet.models import PassKitDeviceRegistration

    Transfer.objects.filter(to_email=old_email).update(to_email=f"erased@{ERASED_DOMAIN}")
    PassKitDeviceRegistration.objects.filter(wallet_pass__ticket__holder=user).delete()


def invoice_buyer(order) -> dict:
    """The buyer as the invoice shows them: the kept name once the buyer was erased."""
    party = InvoiceParty.objects.filter(order=order).first()
    if party is not None:
        return {"name": party.name, "email": ""}
    return {"name": order.buyer.full_name, "email": order.buyer.email}
