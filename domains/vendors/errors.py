from enum import StrEnum


class VendorErrorCode(StrEnum):
    # The profile is under review (submitted) or suspended: the vendor cannot edit it now.
    VENDOR_PROFILE_LOCKED = "VENDOR_PROFILE_LOCKED"
    # Submitting for review needs the required fields (business name, category, description, a contact).
    VENDOR_PROFILE_INCOMPLETE = "VENDOR_PROFILE_INCOMPLETE"
    # The action needs an approved vendor (booth assignment, setup QR).
    VENDOR_NOT_APPROVED = "VENDOR_NOT_APPROVED"
    # The status change is not allowed from the current status (e.g. approving a draft).
    VENDOR_INVALID_TRANSITION = "VENDOR_INVALID_TRANSITION"
    # The booth already holds a vendor; unassign it first.
    BOOTH_ALREADY_ASSIGNED = "BOOTH_ALREADY_ASSIGNED"
    # The vendor already holds a booth at this festival; unassign it first.
    VENDOR_ALREADY_HAS_BOOTH = "VENDOR_ALREADY_HAS_BOOTH"
    # There is no current assignment (unassigning a free booth, a setup QR without a booth).
    BOOTH_NOT_ASSIGNED = "BOOTH_NOT_ASSIGNED"
