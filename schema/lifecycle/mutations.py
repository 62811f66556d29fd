"""Ticket lifecycle mutations: transfers and upgrades (attendees), refunds, comps, upgrades
and resends (staff). Each parses, authorises, calls one domain function, maps the result."""

from __future__ import annotations

import uuid

import strawberry
import strawberry_django
from strawberry.types import Info

from domains.orders import comps, refunds, resends, staff_selectors
from domains.transfers import services as transfers
from domains.upgrades import services as upgrades
from schema.context import require_viewer
from schema.errors import payload_errors
from schema.lifecycle.builders import staff_order
from schema.lifecycle.types import (
    IssueCompTicketsPayload,
    RefundOrderPayload,
    ResendPayload,
    TransferGql,
    TransferPayload,
    UpgradeGql,
    UpgradePayload,
)
from schema.permissions import authenticated, staff_only
from schema.tickets.types import Money


def _transfer(t, user) -> TransferGql:
    from domains.transfers.models import Transfer

    return TransferGql.from_model(Transfer.objects.select_related("ticket__ticket_type__festival", "from_user").get(pk=t.pk), user)


def _upgrade_payload(result) -> UpgradePayload:
    from domains.upgrades.models import Upgrade

    up = Upgrade.objects.select_related("ticket", "from_type", "to_type").get(pk=result.upgrade.pk)
    return UpgradePayload(upgrade=UpgradeGql.from_model(up), client_secret=result.client_secret)


@strawberry.type
class LifecycleMutation:
    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Offer one of your valid tickets to an email address; the recipient gets a single-use link.",
    )
    @payload_errors(TransferPayload)
    def create_transfer(self, info: Info, ticket_id: uuid.UUID, to_email: str) -> TransferPayload:
        user = require_viewer(info).user
        created = transfers.transfer_create(sender=user, ticket_public_id=ticket_id, to_email=to_email)
        return TransferPayload(transfer=_transfer(created.transfer, user))

    @strawberry_django.mutation(extensions=authenticated(), description="Withdraw a pending transfer you sent.")
    @payload_errors(TransferPayload)
    def cancel_transfer(self, info: Info, id: uuid.UUID) -> TransferPayload:
        user = require_viewer(info).user
        return TransferPayload(transfer=_transfer(transfers.transfer_cancel(sender=user, transfer_public_id=id), user))

    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Accept a ticket with the emailed token, signed in with the address it was sent to. "
        "The ticket gets a new QR code; the sender's stops working.",
    )
    @payload_errors(TransferPayload)
    def accept_transfer(self, info: Info, token: str) -> TransferPayload:
        user = require_viewer(info).user
        return TransferPayload(transfer=_transfer(transfers.transfer_accept(recipient=user, token=token), user))

    @strawberry_django.mutation(
        extensions=authenticated(),
        description="Move one of your tickets to a higher tier. Returns the Stripe client secret for the price "
        "difference (the target ticket is held meanwhile); asking again returns the same upgrade.",
    )
    @payload_errors(UpgradePayload)
    def request_upgrade(self, info: Info, ticket_id: uuid.UUID, to_ticket_type_id: uuid.UUID) -> UpgradePayload:
        user = require_viewer(info).user
        return _upgrade_payload(upgrades.upgrade_request(user=user, ticket_public_id=ticket_id, to_type_public_id=to_ticket_type_id))

    @strawberry_django.mutation(extensions=authenticated(), description="Ask Stripe how an upgrade's payment stands and apply it when paid.")
    @payload_errors(UpgradePayload)
    def confirm_upgrade(self, info: Info, upgrade_id: uuid.UUID) -> UpgradePayload:
        user = require_viewer(info).user
        return _upgrade_payload(upgrades.UpgradeResult(upgrade=upgrades.upgrade_confirm(user=user, upgrade_public_id=upgrade_id)))

    @strawberry_django.mutation(
        extensions=staff_only(),
        description="Staff: upgrade a ticket, at once without charge, or opening an upgrade its holder pays.",
    )
    @payload_errors(UpgradePayload)
    def process_upgrade(self, info: Info, ticket_id: uuid.UUID, to_ticket_type_id: uuid.UUID, reason: str, charge: bool = False) -> UpgradePayload:
        staff = require_viewer(info).user
        return _upgrade_payload(
            upgrades.upgrade_process(staff=staff, ticket_public_id=ticket_id, to_type_public_id=to_ticket_type_id, charge=charge, reason=reason)
        )

    @strawberry_django.mutation(
        extensions=staff_only(),
        description="Staff: refund an order (all, some tickets, or an amount in minor units) through Stripe. "
        "Refunded tickets are voided at once; scanned tickets need overrideScanned.",
    )
    @payload_errors(RefundOrderPayload)
    def refund_order(
        self,
        info: Info,
        order_id: uuid.UUID,
        reason: str,
        ticket_ids: list[uuid.UUID] | None = None,
        amount: int | None = None,
        override_scanned: bool = False,
    ) -> RefundOrderPayload:
        staff = require_viewer(info).user
        result = refunds.order_refund(
            staff=staff, order_public_id=order_id, reason=reason, ticket_ids=ticket_ids, amount=amount, override_scanned=override_scanned
        )
        return RefundOrderPayload(
            order=staff_order(staff_selectors.staff_order_get(order_id), staff),
            refunded=Money(amount=result.refund.amount, currency=result.refund.currency),
            voided_ticket_ids=[t.public_id for t in result.voided],
        )

    @strawberry_django.mutation(extensions=staff_only(), description="Staff: issue free tickets to an email address (zero-price order), and email them.")
    @payload_errors(IssueCompTicketsPayload)
    def issue_comp_tickets(self, info: Info, email: str, ticket_type_id: uuid.UUID, quantity: int, note: str) -> IssueCompTicketsPayload:
        staff = require_viewer(info).user
        result = comps.comp_issue(staff=staff, email=email, ticket_type_public_id=ticket_type_id, quantity=quantity, note=note)
        return IssueCompTicketsPayload(
            order=staff_order(staff_selectors.staff_order_get(result.order.public_id), staff),
            created_account=result.created_account,
            comp_allowance_left=result.comp_allowance_left,
        )

    @strawberry_django.mutation(extensions=staff_only(), description="Staff: email the order's tickets again, each to its current holder.")
    @payload_errors(ResendPayload)
    def resend_tickets(self, info: Info, order_id: uuid.UUID, reason: str = "") -> ResendPayload:
        resends.order_resend(staff=require_viewer(info).user, order_public_id=order_id, kind="tickets", reason=reason)
        return ResendPayload(queued=True)

    @strawberry_django.mutation(extensions=staff_only(), description="Staff: email the order's invoice again to the buyer.")
    @payload_errors(ResendPayload)
    def resend_invoice(self, info: Info, order_id: uuid.UUID, reason: str = "") -> ResendPayload:
        resends.order_resend(staff=require_viewer(info).user, order_public_id=order_id, kind="invoice", reason=reason)
        return ResendPayload(queued=True)
