"""A vendor edits and submits its own profile.

Edit rules by status:

- draft, rejected: every field may change; `submit` sends it for review.
- submitted, suspended: locked (VENDOR_PROFILE_LOCKED). A reviewer is looking at exactly
  this version, or the organisers have stopped the vendor; either way edits wait.
- approved: every field may change, but a change to a CRITICAL field (what the approval and
  the booth placement were based on: business name, category, power, space) sends the
  profile back to `submitted` for a new review (recorded as a `resubmit`). The vendor keeps
  its booth meanwhile, but the setup QR admits only approved vendors.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from domains.accounts.models import Role, User
from domains.accounts.services.validation import check_email, check_text
from domains.common.clock import now
from domains.common.errors import CommonErrorCode, DomainError, ErrorDetail
from domains.vendors.errors import VendorErrorCode
from domains.vendors.models import BoothSize, VendorCategory, VendorProfile, VendorReview

CRITICAL_FIELDS = ("business_name", "category", "power_amps", "space_size")
EDITABLE_STATUSES = (VendorProfile.Status.DRAFT, VendorProfile.Status.REJECTED, VendorProfile.Status.APPROVED)
SUBMITTABLE_STATUSES = (VendorProfile.Status.DRAFT, VendorProfile.Status.REJECTED)
MAX_SOCIAL_LINKS = 10
MAX_HIGHLIGHTS = 20
MAX_POWER_AMPS = 400
MAX_CREW_SIZE = 100

_url = URLValidator(schemes=["http", "https"])
# Model field name -> the input name a client sent (errors point at the client's field).
FIELD_NAMES = {
    "business_name": "businessName",
    "category": "category",
    "description": "description",
    "logo_url": "logoUrl",
    "website_url": "websiteUrl",
    "social_links": "socialLinks",
    "highlights": "highlights",
    "contact_email": "contactEmail",
    "contact_phone": "contactPhone",
    "power_amps": "powerAmps",
    "space_size": "spaceSize",
    "space_notes": "spaceNotes",
    "crew_size": "crewSize",
}


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(CommonErrorCode.INVALID_INPUT, message, FIELD_NAMES.get(field, field))


def _check_url(value: str, field: str) -> str:
    value = value.strip()
    if value:
        if len(value) > 500:
            raise _invalid(field, "Use at most 500 characters.")
        try:
            _url(value)
        except ValidationError:
            raise _invalid(field, "Enter a valid http(s) URL.") from None
    return value


def _clean(field: str, value: Any) -> Any:
    """The stored form of one input value, or INVALID_INPUT."""
    name = FIELD_NAMES[field]
    if field in ("business_name", "space_notes", "description", "contact_phone"):
        limit = {"business_name": 150, "space_notes": 500, "description": 2000, "contact_phone": 32}[field]
        check_text(value, field=name, max_length=limit)
        value = value.strip()
        if field == "contact_phone" and value and not all(c.isdigit() or c in "+-() " for c in value):
            raise _invalid(field, "Phone may hold digits, spaces and + - ( ).")
        return value
    if field == "category":
        if value and value not in VendorCategory.values:
            raise _invalid(field, "Unknown category.")
        return value
    if field == "space_size":
        if value and value not in BoothSize.values:
            raise _invalid(field, "Unknown booth size.")
        return value
    if field in ("logo_url", "website_url"):
        return _check_url(value, field)
    if field == "social_links":
        if len(value) > MAX_SOCIAL_LINKS:
            raise _invalid(field, f"At most {MAX_SOCIAL_LINKS} links.")
        return [v for v in (_check_url(link, field) for link in value) if v]
    if field == "highlights":
        if len(value) > MAX_HIGHLIGHTS:
            raise _invalid(field, f"At most {MAX_HIGHLIGHTS} highlights.")
        cleaned = [h.strip() for h in value if h.strip()]
        if any(len(h) > 100 for h in cleaned):
            raise _invalid(field, "Each highlight may hold at most 100 characters.")
        return cleaned
    if field == "contact_email":
        value = value.strip().lower()
        if value:
            check_email(value, field=name)
        return value
    if field == "power_amps":
        if not 0 <= value <= MAX_POWER_AMPS:
            raise _invalid(field, f"Between 0 and {MAX_POWER_AMPS} amperes.")
        return value
    if field == "crew_size":
        if not 1 <= value <= MAX_CREW_SIZE:
            raise _invalid(field, f"Between 1 and {MAX_CREW_SIZE} people.")
        return value
    raise _invalid(field, "Unknown field.")  # pragma: no cover - FIELD_NAMES lists them all


def _missing_for_review(profile: VendorProfile) -> list[ErrorDetail]:
    missing = []
    for field, label in (("business_name", "business name"), ("category", "category"), ("description", "description")):
        if not getattr(profile, field):
            missing.append(ErrorDetail(VendorErrorCode.VENDOR_PROFILE_INCOMPLETE, f"Add a {label}.", FIELD_NAMES[field]))
    if not (profile.contact_email or profile.contact_phone):
        missing.append(
            ErrorDetail(VendorErrorCode.VENDOR_PROFILE_INCOMPLETE, "Add a contact email or phone.", "contactEmail")
        )
    return missing


def _require_vendor(owner: User) -> None:
    if owner.role != Role.VENDOR:
        raise DomainError(CommonErrorCode.PERMISSION_DENIED, "Only vendor accounts have a vendor profile.")


def _locked_profile(owner: User) -> VendorProfile:
    # get_or_create survives two first edits at once (the OneToOne is unique); then lock the row.
    profile, _ = VendorProfile.objects.get_or_create(owner=owner, defaults={"contact_email": owner.email})
    return VendorProfile.objects.select_for_update().get(pk=profile.pk)


def _submit(profile: VendorProfile, *, action: str, note: str = "") -> None:
    previous = profile.status
    profile.status = VendorProfile.Status.SUBMITTED
    profile.submitted_at = now()
    VendorReview.objects.create(
        profile=profile, action=action, from_status=previous, to_status=profile.status, note=note
    )


def vendor_profile_update(*, owner: User, changes: dict[str, Any], submit: bool = False) -> VendorProfile:
    """Create or edit the owner's profile (fields absent from `changes` stay), optionally submit it.

    See the module docstring for what each status allows. Every value is validated before
    anything is written; a refused edit changes nothing.
    """
    _require_vendor(owner)
    unknown = set(changes) - set(FIELD_NAMES)
    if unknown:
        raise _invalid(sorted(unknown)[0], "Unknown field.")
    cleaned = {field: _clean(field, value) for field, value in changes.items() if value is not None}
    with transaction.atomic():
        profile = _locked_profile(owner)
        changed = [f for f, v in cleaned.items() if getattr(profile, f) != v]
        if profile.status not in EDITABLE_STATUSES:
            if not changed and submit and profile.status == VendorProfile.Status.SUBMITTED:
                return profile  # a retried submission: already done
            raise DomainError(
                VendorErrorCode.VENDOR_PROFILE_LOCKED, f"The profile cannot be edited while {profile.status}."
            )
        for field in changed:
            setattr(profile, field, cleaned[field])
        critical = [f for f in changed if f in CRITICAL_FIELDS]
        if profile.status == VendorProfile.Status.APPROVED:
            if critical:
                _submit(
                    profile,
                    action=VendorReview.Action.RESUBMIT,
                    note="Changed: " + ", ".join(FIELD_NAMES[f] for f in critical),
                )
            elif submit:
                raise DomainError(VendorErrorCode.VENDOR_INVALID_TRANSITION, "The profile is already approved.")
        elif submit:
            missing = _missing_for_review(profile)
            if missing:
                raise DomainError.many(missing)
            _submit(profile, action=VendorReview.Action.SUBMIT)
        profile.save()
    return profile


def vendor_profile_submit(*, owner: User) -> VendorProfile:
    """Send a draft or rejected profile for review (same rules as `vendor_profile_update(submit=True)`)."""
    return vendor_profile_update(owner=owner, changes={}, submit=True)
