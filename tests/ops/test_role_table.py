"""Item 7, the intended side: who may call each root field, written down once, here.

tests/schema/test_permission_walk.py proves that every root field declares a permission and
that the declaration holds at run time (anonymous callers get UNAUTHENTICATED, roles the
declaration leaves out get FORBIDDEN). It cannot tell a declaration that was widened by
mistake (`admin_only()` edited to `staff_only()`, `staff_only()` to `authenticated()`) from
one that was meant: this table can. A new root field fails here until it is given a row, and a
changed declaration fails until the row is changed with it, in the same review.

The allowed cells are also called: each role the table allows passes the permission layer
(whatever the resolver then answers with the generated arguments: NOT_FOUND and the like).
"""

from __future__ import annotations

import pytest

from domains.accounts.models import Role
from tests.schema.test_permission_walk import ALL_FIELDS, document_for, permission_of, required_roles

PUBLIC, SIGNED_IN, VENDOR, STAFF, ADMIN, SUPERVISOR = "public", "signed-in", "vendor", "staff", "admin", "supervisor"

# field -> who may call it. STAFF means staff and admins; SUPERVISOR, admins and staff holding
# scanning.supervise_gate; SIGNED_IN, anyone with a live token (objects are then the viewer's
# own: tests/ops/test_object_access.py).
TABLE = {
    ("Query", "festival"): PUBLIC,
    ("Query", "sponsors"): PUBLIC,
    ("Query", "schedule"): PUBLIC,
    ("Query", "ticketTypes"): PUBLIC,
    ("Query", "scannerKeys"): PUBLIC,
    ("Query", "vendors"): PUBLIC,
    ("Query", "me"): SIGNED_IN,
    ("Query", "exportMyData"): SIGNED_IN,
    ("Query", "myTickets"): SIGNED_IN,
    ("Query", "ticket"): SIGNED_IN,
    ("Query", "ticketQr"): SIGNED_IN,
    ("Query", "myOrders"): SIGNED_IN,
    ("Query", "order"): SIGNED_IN,
    ("Query", "myWalletPasses"): SIGNED_IN,
    ("Query", "myTransfers"): SIGNED_IN,
    ("Query", "myUpgrades"): SIGNED_IN,
    ("Query", "myVendorProfile"): VENDOR,
    ("Query", "vendorDashboard"): VENDOR,
    ("Query", "vendorSetupQr"): VENDOR,
    ("Query", "scannerSync"): STAFF,
    ("Query", "scanLogs"): STAFF,
    ("Query", "scanStats"): STAFF,
    ("Query", "scanGates"): STAFF,
    ("Query", "scannerDevices"): STAFF,
    ("Query", "allVendors"): STAFF,
    ("Query", "staffOrders"): STAFF,
    ("Query", "staffOrder"): STAFF,
    ("Query", "ticketLookup"): SUPERVISOR,
    ("Query", "booths"): ADMIN,
    ("Mutation", "submitContactForm"): PUBLIC,
    ("Mutation", "register"): PUBLIC,
    ("Mutation", "verifyEmail"): PUBLIC,
    ("Mutation", "login"): PUBLIC,
    ("Mutation", "refreshToken"): PUBLIC,
    ("Mutation", "requestPasswordReset"): PUBLIC,
    ("Mutation", "resetPassword"): PUBLIC,
    ("Mutation", "logout"): SIGNED_IN,
    ("Mutation", "updateMe"): SIGNED_IN,
    ("Mutation", "changePassword"): SIGNED_IN,
    ("Mutation", "eraseMe"): SIGNED_IN,
    ("Mutation", "createCheckout"): SIGNED_IN,
    ("Mutation", "confirmCheckout"): SIGNED_IN,
    ("Mutation", "createAppleWalletPass"): SIGNED_IN,
    ("Mutation", "createGoogleWalletPass"): SIGNED_IN,
    ("Mutation", "createTransfer"): SIGNED_IN,
    ("Mutation", "cancelTransfer"): SIGNED_IN,
    ("Mutation", "acceptTransfer"): SIGNED_IN,
    ("Mutation", "requestUpgrade"): SIGNED_IN,
    ("Mutation", "confirmUpgrade"): SIGNED_IN,
    ("Mutation", "updateVendorProfile"): VENDOR,
    ("Mutation", "submitVendorApplication"): VENDOR,
    ("Mutation", "scanValidate"): STAFF,
    ("Mutation", "scanCommit"): STAFF,
    ("Mutation", "scanCommitBatch"): STAFF,
    ("Mutation", "registerScannerDevice"): STAFF,
    ("Mutation", "revokeScannerDevice"): STAFF,
    ("Mutation", "moveScannerDevice"): STAFF,
    ("Mutation", "reviewVendor"): STAFF,
    ("Mutation", "processUpgrade"): STAFF,
    ("Mutation", "refundOrder"): STAFF,
    ("Mutation", "issueCompTickets"): STAFF,
    ("Mutation", "resendTickets"): STAFF,
    ("Mutation", "resendInvoice"): STAFF,
    ("Mutation", "scanManualAdmit"): SUPERVISOR,
    ("Mutation", "scanRestore"): SUPERVISOR,
    ("Mutation", "createGate"): ADMIN,
    ("Mutation", "setEntryRule"): ADMIN,
    ("Mutation", "assignBooth"): ADMIN,
    ("Mutation", "unassignBooth"): ADMIN,
    ("Subscription", "scanStatsUpdated"): STAFF,
}

ROLES_OF = {
    VENDOR: frozenset({Role.VENDOR}),
    STAFF: frozenset({Role.STAFF, Role.ADMIN}),
    SUPERVISOR: frozenset({Role.STAFF, Role.ADMIN}),
    ADMIN: frozenset({Role.ADMIN}),
}


def declared(field) -> str:
    """The access class a field's extensions declare, in the table's words."""
    from schema.scanning.types import IsGateSupervisor

    public, guards = permission_of(field)
    if public:
        return PUBLIC
    roles = required_roles(guards)
    if roles is None:
        return SIGNED_IN
    if any(isinstance(p, IsGateSupervisor) for g in guards for p in g.permissions):
        return SUPERVISOR if roles == ROLES_OF[SUPERVISOR] else f"supervisor+{sorted(roles)}"
    for name, allowed in ROLES_OF.items():
        if roles == allowed and name != SUPERVISOR:
            return name
    return f"roles {sorted(roles)}"


def test_every_root_field_has_a_row_and_every_row_a_field():
    in_schema = {(root, name) for root, name, _field in ALL_FIELDS}
    assert in_schema - set(TABLE) == set(), "new root fields: give each a row in TABLE (who may call it?)"
    assert set(TABLE) - in_schema == set(), "rows for fields that are gone: remove them"


@pytest.mark.parametrize(("root", "name", "field"), ALL_FIELDS, ids=[f"{r}.{n}" for r, n, _ in ALL_FIELDS])
def test_each_field_declares_what_the_table_says(root, name, field):
    assert declared(field) == TABLE[(root, name)], (
        f"{root}.{name} declares {declared(field)!r}, the table says {TABLE[(root, name)]!r}: a widened or "
        "narrowed permission is changed in both places, on purpose"
    )


ALLOWED_CELLS = [
    pytest.param(root, name, role, id=f"{root}.{name}-as-{role}")
    for (root, name), access in TABLE.items()
    if root != "Subscription" and access in ROLES_OF
    for role in sorted(ROLES_OF[access])
]


@pytest.mark.parametrize(("root", "name", "role"), ALLOWED_CELLS)
def test_the_roles_the_table_allows_get_past_the_permission_layer(as_user, root, name, role):
    from django.contrib.auth.models import Permission

    client = as_user(role)
    if TABLE[(root, name)] == SUPERVISOR and role == Role.STAFF:
        client.user.user_permissions.add(Permission.objects.get(codename="supervise_gate"))
    document, variables = document_for(root, name)
    response = client.execute(document, variables)
    assert response.status_code == 200, response.body
    codes = [e.get("extensions", {}).get("code") for e in response.errors or []]
    assert not {"UNAUTHENTICATED", "FORBIDDEN"} & set(codes), f"{root}.{name} as {role}: {response.body}"


def test_a_staff_member_without_the_supervisor_permission_is_refused_the_supervisors_fields(as_user):
    """The one refusal inside a role: the walk's role matrix cannot see it (staff hold the role)."""
    client = as_user("staff")
    for (root, name), access in TABLE.items():
        if access != SUPERVISOR:
            continue
        document, variables = document_for(root, name)
        response = client.execute(document, variables)
        codes = [e.get("extensions", {}).get("code") for e in response.errors or []]
        assert codes == ["FORBIDDEN"], f"{root}.{name}: {response.body}"
        assert not (response.data or {}).get(name)
