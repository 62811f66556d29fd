"""The demo data has gates: staff@festival.example can register a scanner at once."""

from __future__ import annotations

from django.core.management import call_command

from domains.accounts.models import User
from domains.scanning.demo import DEMO_GATES


def test_seed_demo_gives_the_demo_staff_gates_to_register_a_scanner_at(gql, db, token_for):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # again: nothing duplicated
    staff = gql.authenticate(token_for(User.objects.get(email="staff@festival.example")))
    gates = staff.execute("{ scanGates { id name } }").data["scanGates"]
    assert sorted(g["name"] for g in gates) == sorted(DEMO_GATES)
    registered = staff.execute(
        "mutation($g: ID!) { registerScannerDevice(gateId: $g, name: \"Phone 1\") { token errors { code } } }",
        {"g": gates[0]["id"]},
    ).data["registerScannerDevice"]
    assert registered["errors"] == [] and registered["token"]
