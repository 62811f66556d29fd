"""Vendor services: every write about vendor profiles, booths, assignments and setup entries."""

from domains.vendors.services.assignment import booth_assign, booth_unassign, default_setup_window
from domains.vendors.services.profile import CRITICAL_FIELDS, vendor_profile_submit, vendor_profile_update
from domains.vendors.services.review import vendor_review
from domains.vendors.services.setup import SetupScanResult, VendorSetupVerdict, vendor_setup_scan

__all__ = [
    "CRITICAL_FIELDS",
    "SetupScanResult",
    "VendorSetupVerdict",
    "booth_assign",
    "booth_unassign",
    "default_setup_window",
    "vendor_profile_submit",
    "vendor_profile_update",
    "vendor_review",
    "vendor_setup_scan",
]
