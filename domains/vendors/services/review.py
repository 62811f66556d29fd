"""Staff decide on vendor applications."""

from __future__ import annotations

import uuid

from django.db import transaction

from domains.accounts.models import User
from domains.accounts.services.validation import check_text
from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError, NotFound
from domains.notifications.services import email_enqueue
from domains.vendors.errors import VendorErrorCode
from domains.vendors.models import VendorProfile, VendorReview

S = VendorProfile.Status
# decision -> (statuses it may come from, status it leads to, note required, email template)
DECISIONS = {
    VendorReview.Action.APPROVE: ((S.SUBMITTED, S.SUSPENDED), S.APPROVED, False, "vendor_approved"),
    VendorReview.Action.REJECT: ((S.SUBMITTED,), S.REJECTED, True, "vendor_rejected"),
    VendorReview.Action.SUSPEND: ((S.APPROVED, S.SUBMITTED), S.SUSPENDED, True, "vendor_suspended"),
}


def vendor_review(*, reviewer: User, vendor_id: uuid.UUID, decision: str, note: str = "") -> VendorProfile:
    """Approve, reject or suspend a vendor, with a note the vendor reads.

    - approve: a submitted profile, or a suspended one (reinstatement);
    - reject: a submitted profile (the vendor may edit and submit again); a note is required;
    - suspend: an approved profile, or one under re-review; a note is required. The vendor
      keeps its booth but its setup QR stops admitting anyone.
    Nobody reviews their own profile. The vendor is emailed the decision.
    """
    if decision not in DECISIONS:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Unknown decision.", "decision")
    if not reviewer.is_staff_member:
        raise DomainError(CommonErrorCode.PERMISSION_DENIED, "Only staff review vendors.")
    note = (note or "").strip()
    check_text(note, field="note", max_length=2000)
    sources, target, note_required, template = DECISIONS[decision]
    if note_required and not note:
        raise DomainError(CommonErrorCode.INVALID_INPUT, "Give the vendor a reason.", "note")
    with transaction.atomic():
        profile = VendorProfile.objects.select_for_update(of=("self",)).select_related("owner").filter(public_id=vendor_id).first()
        if profile is None:
            raise NotFound("Vendor", "vendorId")
        if profile.owner_id == reviewer.pk:
            raise DomainError(CommonErrorCode.PERMISSION_DENIED, "You cannot review your own vendor profile.")
        if profile.status not in sources:
            raise DomainError(
                VendorErrorCode.VENDOR_INVALID_TRANSITION,
                f"A {profile.status} vendor cannot be given the decision {decision}.",
                "decision",
            )
        review = VendorReview.objects.create(
            profile=profile, action=decision, from_status=profile.status, to_status=target, note=note, reviewer=reviewer
        )
        profile.status = target
        profile.review_note = note
        profile.reviewed_at = now()
        profile.save(update_fields=["status", "review_note", "reviewed_at", "updated_at"])
        email_enqueue(
            key=f"vendor-review:{review.pk}",
            to_email=profile.owner.email,
            template=template,
            context={"vendor_id": str(profile.public_id), "business_name": profile.business_name, "note": note},
        )
    return profile
