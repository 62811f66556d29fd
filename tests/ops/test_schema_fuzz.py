"""Schema-driven boundary fuzz: every Query and Mutation field, every argument varied on its own.

The rule (README, "bad input gets a clear, typed error and changes nothing"): whatever a client
sends, the answer is never an HTTP 5xx, never the masked "Internal server error." and never an
ERROR line from `festival.graphql` or `django.request` (an exception our code did not expect).

Where tests/ops/test_variable_fuzz.py samples a few random examples per field, this walks the
schema deterministically. Each argument (each field of an input object, the element of a list)
takes every boundary value of its type, values at the edges of its format when its name says
what it holds (emails, URLs, phones, cursors, QR codes), and the ids of real objects in other
states (a refunded ticket, a closed gate, a suspended vendor, a draft festival...), while the
other arguments keep a plausible baseline naming real objects, so the odd value gets past the
look-ups to the code behind them. A mutation that accepts a value is followed by every query
its user may read, as the admin and as the vendor: what was stored must read back too. The
scanner app's documents get the same values through their pre-validated path, as text and as
a persisted query's hash.

Each request runs inside a savepoint that is rolled back, with the cache (throttles, rate
limits) emptied, so every request starts from the same state and a failure cannot hide the
next one. Fields run as the role that goes deepest (the admin; the demo vendor for vendor-only
fields), and a sample anonymously (every value for public fields). Subscriptions:
tests/scanning. With the fixes of e13745b and 3358fa5 reverted it reports their bugs (emails
over 254 characters, cursors of nulls, scanner-sync cursors at year 1, naive and out-of-range
DateTimes).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import string
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSyntaxError,
    GraphQLUnionType,
    Undefined,
    parse,
    print_ast,
    validate,
)
from graphql.utilities import ast_from_value
from strawberry.permission import PermissionExtension

from domains.accounts.models import Role
from schema.extensions import MASKED_MESSAGE, current_limit_rules
from schema.permissions import HasRole, Public
from schema.persisted import document_hash
from schema.scanning.documents import SCANNER_DOCUMENTS
from schema.schema import schema as strawberry_schema
from tests.conftest import _clear_own_cache
from tests.support.graphql import GraphQLClient
from tests.support.logs import RecordCollector
from tests.support.schema_types import type_text

GRAPHQL = strawberry_schema._schema
ROOT = Path(__file__).resolve().parents[2]
INTERNAL_CODES = {"INTERNAL_SERVER_ERROR", "INTERNAL_ERROR", "INTERNAL"}
WATCHED_LOGGERS = ("festival.graphql", "django.request")
ANONYMOUS_SAMPLE = 4  # boundary cases per non-public field also sent without a token
MAX_OBJECT_DEPTH = 2  # object levels selected below the root field

# --------------------------------------------------------------------------- the documents


def _named(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def selection(t, depth: int = 0) -> str:
    """`__typename`, every leaf, `errors { code message field }`, and the same one object level
    further down (to MAX_OBJECT_DEPTH; a connection's edges and nodes count as one level). Fields
    that need arguments are left out."""
    named = _named(t)
    if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if isinstance(named, (GraphQLUnionType, GraphQLInterfaceType)):
        return "{ __typename }"
    if named.name.endswith(("Connection", "Edge")):
        depth -= 1
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in field.args.values()):
            continue
        inner = _named(field.type)
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            parts.append(name)
        elif name == "errors" and inner.name == "Error":
            parts.append("errors { code message field }")
        elif depth < MAX_OBJECT_DEPTH:
            parts.append(f"{name} {selection(field.type, depth + 1)}")
    return "{ " + " ".join(parts) + " }"


def _variable(name: str, arg) -> str:
    """`$name: Type`, with the argument's default: `$sort: StaffOrderSort! = CREATED_DESC` may be left out."""
    if arg.default_value is Undefined:
        return f"${name}: {type_text(arg.type)}"
    return f"${name}: {type_text(arg.type)} = {print_ast(ast_from_value(arg.default_value, arg.type))}"


def document(kind: str, name: str, field, depth: int = 0) -> str:
    header = ", ".join(_variable(a, arg) for a, arg in field.args.items())
    arguments = ", ".join(f"{a}: ${a}" for a in field.args)
    return (
        f"{kind} Fuzz{'(' + header + ')' if header else ''} "
        f"{{ {name}{'(' + arguments + ')' if arguments else ''} {selection(field.type, depth)} }}"
    )


def within_limits(text: str) -> bool:
    """Whether our own limits (tokens, depth, aliases, cost) and the schema accept a document."""
    try:
        parsed = parse(text, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLSyntaxError:
        return False
    return not validate(GRAPHQL, parsed, rules=[*current_limit_rules()])


def valid_document(kind: str, name: str, field) -> str:
    """The richest selection our limits accept."""
    for depth in range(MAX_OBJECT_DEPTH + 1):
        text = document(kind, name, field, depth=depth)
        if within_limits(text):
            return text
    raise AssertionError(f"no document for {name} within the limits")


def root_fields():
    for kind, root in (("query", GRAPHQL.query_type), ("mutation", GRAPHQL.mutation_type)):
        for name, field in root.fields.items():
            yield kind, name, field


ROOT_FIELDS = list(root_fields())


def client_documents() -> dict[str, list[tuple[str, frozenset]]]:
    """Root field -> the scanner app's documents selecting it, with the variables they declare."""
    found: dict[str, list[tuple[str, frozenset]]] = {}
    for text in SCANNER_DOCUMENTS:
        [operation] = parse(text).definitions
        declared = frozenset(v.variable.name.value for v in operation.variable_definitions)
        found.setdefault(operation.selection_set.selections[0].name.value, []).append((text, declared))
    return found


CLIENT_DOCUMENTS = client_documents()


def access(field) -> tuple[bool, frozenset]:
    """(public, roles required) from the field's permission extensions (schema/permissions.py)."""
    definition = field.extensions["strawberry-definition"]
    public, roles = False, frozenset()
    for extension in definition.extensions:
        if isinstance(extension, Public):
            public = True
        if isinstance(extension, PermissionExtension):
            for permission in extension.permissions:
                if isinstance(permission, HasRole):
                    roles = permission.roles
    return public, roles


# --------------------------------------------------------------------------- the values

A_UUID = "3f1c2a9e-7b4d-4e8f-9a61-2c5d8e0b7f13"  # exists nowhere
# Not one letter repeated: PostgreSQL compresses that to almost nothing, so it would fit in
# any index; text like this does not.
LONG = "".join(random.Random(10_000).choices(string.ascii_letters + string.digits, k=10_000))
EMAILISH = "a" * 287 + "@example.test"  # 300 characters


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


STRINGS = [
    ("empty", ""),
    ("10k chars", LONG),
    ("blanks", "  "),
    ("emoji/RTL", "😀\u202eمرحبا\u202c שלום"),
    ("percent", "%"),
    ("backslash", "\\"),
    ("sql quote", "'; drop table tickets_ticket; --"),
    ("300-char email", EMAILISH),
    ("150 dotted capital I", "İ" * 150),  # lower() makes each two characters
    ("combining marks", "e\u0301" * 75),
]
# Strings whose argument names say what they hold get values at the edges of that format too.
FORMATTED = {
    "email": [
        ("email growing when lower-cased", "İ" * 200 + "@example.test"),
        ("IDN email", "a@" + "ü" * 60 + ".test"),
        ("quoted local part", '"much.more unusual"@example.test'),
        ("address literal", "a@[127.0.0.1]"),
        ("kelvin sign", "\u212a@example.test"),
        ("admin in capitals", "ADMIN@FESTIVAL.EXAMPLE"),
    ],
    "url": [
        ("broken IPv6 url", "http://[::1"),
        ("64-char label url", "https://" + "a" * 64 + ".example"),
        ("IDN url", "https://ü.example/" + "x" * 400),
        ("javascript url", "javascript:alert(1)"),
        ("port out of range", "http://example.com:99999"),
    ],
    "phone": [("arabic digits", "١٢٣٤٥٦"), ("superscript", "²³"), ("32 pluses", "+" * 32)],
}
FORMATTED["links"] = FORMATTED["url"]
# Cursors are strings too: well-formed ones holding values at the ends of their types.
CURSORS = [
    ("cursor 0001", _b64(json.dumps(["0001-01-01T00:00:00+00:00", A_UUID]))),
    ("cursor 0001+14", _b64(json.dumps(["0001-01-01T00:00:00+14:00", A_UUID]))),
    ("cursor 9999", _b64(json.dumps(["9999-12-31T23:59:59.999999+00:00", A_UUID]))),
    ("cursor 9999-14", _b64(json.dumps(["9999-12-31T23:59:59-14:00", A_UUID]))),
    ("cursor huge int", _b64(json.dumps([10**30, A_UUID]))),
    ("cursor NaN", _b64("[NaN, Infinity]")),
    ("cursor 3 values", _b64(json.dumps(["a", "b", "c"]))),
    ("cursor of nulls", _b64("[null, null]")),
    ("sync cursor 0001", base64.urlsafe_b64encode(b"sync:0001-01-01T00:00:00+00:00").decode()),
    ("sync cursor without offset", base64.urlsafe_b64encode(b"sync:2027-04-16T10:00:00").decode()),
    ("sync cursor 9999", base64.urlsafe_b64encode(b"sync:9999-12-31T23:59:59+00:00").decode()),
    ("sync cursor 9999-14", base64.urlsafe_b64encode(b"sync:9999-12-31T23:59:59-14:00").decode()),
    ("sync cursor 0001+14", base64.urlsafe_b64encode(b"sync:0001-01-01T00:01:00+14:00").decode()),
    ("scan log cursor huge", base64.urlsafe_b64encode(b"scanlog:" + b"9" * 30).decode()),
    ("scan log cursor negative", base64.urlsafe_b64encode(b"scanlog:-5").decode()),
]
SCALARS = {
    "String": STRINGS,
    "Int": [("0", 0), ("-1", -1), ("int max", 2**31 - 1), ("int min", -(2**31))],
    "Float": [("0", 0.0), ("-1e308", -1e308), ("1e308", 1e308)],
    "Boolean": [("true", True), ("false", False)],
    "ID": [("random uuid", A_UUID), ("malformed id", "not-an-id"), ("empty id", ""), ("int id", "-1")],
    "UUID": [("random uuid", A_UUID), ("malformed uuid", "not-a-uuid")],
    "Date": [("0001-01-01", "0001-01-01"), ("9999-12-31", "9999-12-31"), ("bad date", "2026-02-30")],
    "DateTime": [
        ("dt 0001", "0001-01-01T00:00:00+00:00"),
        ("dt 0001+14", "0001-01-01T00:00:00+14:00"),  # in year 0 once in UTC
        ("dt 9999+14", "9999-12-31T23:59:59+14:00"),
        ("dt 9999-14", "9999-12-31T23:59:59-14:00"),  # in year 10000 once in UTC
        ("dt 9999Z", "9999-12-31T23:59:59.999999Z"),
        ("dt naive", "2027-04-16T12:00:00"),
        ("dt bad", "2027-04-16T25:00:00Z"),
    ],
    "JSON": [("json {}", {}), ("json nested", {"a": [1, {"b": None}]}), ("json 10k", LONG)],
}
FALLBACK = {
    "String": "fuzz",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "ID": A_UUID,
    "UUID": A_UUID,
    "Date": "2027-04-16",
    "DateTime": "2027-04-16T12:00:00+00:00",
    "JSON": {},
}


def scalar_values(type_name: str, arg_name: str, world: World, field_name: str) -> list[tuple[str, object]]:
    values = list(SCALARS.get(type_name, STRINGS))
    if type_name == "String":
        if arg_name in ("after", "since"):
            values += CURSORS
        values += next((v for suffix, v in FORMATTED.items() if arg_name.lower().endswith(suffix)), [])
    return values + world.extras.get(f"{field_name}.{arg_name}", world.extras.get(arg_name, []))


def variants(t, baseline, path: str, world: World, field_name: str) -> list[tuple[str, str, object]]:
    """(path, kind, value) for one input of type `t`, each with one thing changed from `baseline`."""
    out: list[tuple[str, str, object]] = []
    if not isinstance(t, GraphQLNonNull):
        out.append((path, "null", None))
    else:
        t = t.of_type
    if isinstance(t, GraphQLList):
        item_type = t.of_type
        item = world.baseline(item_type, path + "[]", field_name)
        out.append((path, "[]", []))
        out.append((path, "1000 items", [item] * 1000))
        out += [(p, f"[{kind}]", [v]) for p, kind, v in variants(item_type, item, path + "[]", world, field_name)]
        return out
    if isinstance(t, GraphQLEnumType):
        return out + [(path, f"enum {name}", name) for name in t.values]
    if isinstance(t, GraphQLInputObjectType):
        base = baseline if isinstance(baseline, dict) else {}
        for name, field in t.fields.items():
            inner = base.get(name, world.baseline(field.type, f"{path}.{name}", field_name))
            for p, kind, v in variants(field.type, inner, f"{path}.{name}", world, field_name):
                out.append((p, kind, {**base, name: v}))
        return out
    name = path.rsplit(".", 1)[-1].rstrip("[]")
    return out + [(path, kind, v) for kind, v in scalar_values(t.name, name, world, field_name)]


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    admin: object
    vendor: object
    baselines: dict  # "field.arg" or "arg" -> value
    device_token: str
    extras: dict  # argument name -> more (kind, value) to try, made from the world's objects

    def baseline(self, t, path: str, field_name: str):
        """A plausible value of type `t` (a list of one plausible element for a list type)."""
        value = self.plausible(_named(t), path, field_name)
        inner = t.of_type if isinstance(t, GraphQLNonNull) else t
        return [value] if isinstance(inner, GraphQLList) and not isinstance(value, list) else value

    def plausible(self, named, path: str, field_name: str = ""):
        """A value naming something real: by `field.arg`, then by the argument or input field name."""
        leaf = path.rsplit(".", 1)[-1].rstrip("[]")
        for key in (f"{field_name}.{path}", f"{field_name}.{leaf}", leaf):
            if key in self.baselines:
                value = self.baselines[key]
                # `gateIds: [ID!]` names a list; its element is the list's first
                return value[0] if path.endswith("[]") and isinstance(value, list) else value
        if isinstance(named, GraphQLEnumType):
            return next(iter(named.values))
        if isinstance(named, GraphQLInputObjectType):
            return {
                n: self.baseline(f.type, f"{path}.{n}", field_name)
                for n, f in named.fields.items()
                if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
            }
        return FALLBACK.get(named.name, "fuzz")


@pytest.fixture
def world(db, monkeypatch):
    """The demo festival (seed_demo) and objects in every state a client can name: the admin's
    paid order of four full passes (one kept as it is, one with a pending upgrade, one with a
    pending transfer, one admitted), a pending, a refunded and a comp order, a completed upgrade,
    transfers sent, offered and cancelled, vendors and booths in every state, a scanner device, a
    revoked one, and a second festival (a draft, not the current one) with its own gate, device
    and ticket type. The baseline names the first of each; the others are tried like any value."""
    from domains.accounts.models import OneTimeToken, User
    from domains.accounts.services.authentication import session_start
    from domains.accounts.tokens import hash_secret
    from domains.common.clock import now
    from domains.events.demo import DEMO_SLUG
    from domains.events.models import Festival
    from domains.orders import comps, refunds
    from domains.orders import services as orders
    from domains.scanning.models import Gate
    from domains.scanning.services import scanner_device_revoke
    from domains.tickets.models import Ticket, TicketType
    from domains.tickets.qr import KIND_TICKET, qr_encode, qr_encode_payload
    from domains.transfers.services import transfer_cancel, transfer_create
    from domains.upgrades.services import upgrade_process, upgrade_request
    from domains.vendors.models import Booth, BoothAssignment, VendorProfile
    from domains.vendors.setup_qr import setup_qr_encode
    from tests.lifecycle.conftest import LifecycleGateway, admit
    from tests.scanning import factories

    gateway = LifecycleGateway()
    monkeypatch.setattr("domains.orders.gateway.get_gateway", lambda: gateway)
    call_command("seed_demo", verbosity=0)
    festival = Festival.objects.get(slug=DEMO_SLUG)
    admin = User.objects.get(email="admin@festival.example")
    attendee = User.objects.get(email="attendee@festival.example")
    vendor = User.objects.get(email="vendor@festival.example")
    # Full passes (valid every day, so a scan admits) and a higher tier to upgrade to.
    weekend = TicketType.objects.get(festival=festival, name="Weekend Pass")
    higher = TicketType.objects.get(festival=festival, name="VIP Weekend Pass")
    day = TicketType.objects.filter(festival=festival, valid_on__isnull=False).order_by("valid_on").first()
    retired = TicketType.objects.create(
        festival=festival,
        name="Retired pass",
        price_amount=100,
        currency=festival.currency,
        capacity=10,
        is_active=False,
    )
    other = factories.festival(slug="other-fest", status=Festival.Status.DRAFT, currency=festival.currency)
    other_type = TicketType.objects.create(
        festival=other, name="Other pass", price_amount=100, currency=other.currency, capacity=10
    )

    def paid(buyer, quantity, ticket_type=weekend):
        result = orders.checkout_create(buyer=buyer, lines=[orders.CheckoutLine(ticket_type.public_id, quantity)])
        info = gateway.succeed(result.order.payment_intent_id)
        orders.order_fulfil(order_id=result.order.pk, payment=info, source="test")
        result.order.refresh_from_db()
        return result.order

    order = paid(admin, 4)
    kept, upgrading, transferring, admitted = Ticket.objects.filter(order_line__order=order).order_by("id")
    upgrade = upgrade_request(
        user=admin, ticket_public_id=upgrading.public_id, to_type_public_id=higher.public_id
    ).upgrade
    sent = transfer_create(
        sender=admin, ticket_public_id=transferring.public_id, to_email="friend@example.test"
    ).transfer
    cancelled = transfer_cancel(
        sender=admin,
        transfer_public_id=transfer_create(
            sender=admin, ticket_public_id=kept.public_id, to_email="friend@example.test"
        ).transfer.public_id,
    )
    attendee_order = paid(attendee, 1)
    offered = transfer_create(
        sender=attendee, ticket_public_id=Ticket.objects.get(holder=attendee).public_id, to_email=admin.email
    )
    day_order = paid(admin, 1, day)
    [upgraded] = Ticket.objects.filter(order_line__order=day_order)
    completed = upgrade_process(
        staff=admin,
        ticket_public_id=upgraded.public_id,
        to_type_public_id=weekend.public_id,
        charge=False,
        reason="fuzz",
    ).upgrade
    refunded_order = paid(admin, 1)
    refunds.order_refund(staff=admin, order_public_id=refunded_order.public_id, reason="fuzz")
    [refunded] = Ticket.objects.filter(order_line__order=refunded_order)
    pending_order = orders.checkout_create(buyer=admin, lines=[orders.CheckoutLine(weekend.public_id, 1)]).order
    comp_order = comps.comp_issue(
        staff=admin, email="guest@example.test", ticket_type_public_id=weekend.public_id, quantity=1, note="fuzz"
    ).order

    def one_time(purpose):
        raw = f"fuzz-{purpose}-token"
        OneTimeToken.objects.create(
            user=admin, purpose=purpose, token_hash=hash_secret(raw), expires_at=now() + dt.timedelta(days=1)
        )
        return raw

    gate = Gate.objects.filter(festival=festival).order_by("id").first()
    other_gate = Gate.objects.filter(festival=festival).order_by("id").last()
    closed_gate = factories.gate(festival, "Closed gate")
    Gate.objects.filter(pk=closed_gate.pk).update(is_active=False)
    foreign_gate = factories.gate(other)
    device, device_token = factories.device(gate, admin)
    revoked, _ = factories.device(gate, admin)
    scanner_device_revoke(device_id=revoked.public_id, revoked_by=admin)
    foreign_device, _ = factories.device(foreign_gate, admin)
    admit(admitted, gate)  # for scanRestore
    vendors = {p.status: p for p in VendorProfile.objects.order_by("pk")}  # one of each status
    waiting = VendorProfile.objects.get(owner__email="vendor-charge@festival.example")
    taken = BoothAssignment.objects.filter(ended_at__isnull=True).values("booth_id")
    free_booth, closed_booth = Booth.objects.filter(festival=festival).exclude(pk__in=taken).order_by("code")[:2]
    Booth.objects.filter(pk=closed_booth.pk).update(is_active=False)
    assigned_booth = Booth.objects.get(festival=festival, code="F-01")
    kept.refresh_from_db()
    password = "admin-demo-password"  # seed_demo's

    def uid(obj) -> str:
        return str(obj.public_id)

    baselines = {
        # ids, by argument name (and by field.argument where the name is not enough)
        "eventId": uid(festival),
        "gateId": uid(other_gate),
        "gate": uid(gate),
        "gateIds": [uid(gate)],
        "deviceId": uid(device),
        "ticketId": uid(kept),
        "ticketTypeId": uid(weekend),
        "toTicketTypeId": uid(higher),
        "orderId": uid(order),
        "upgradeId": uid(upgrade),
        "ticketIds": [uid(kept)],
        "vendorId": uid(waiting),
        "boothId": uid(free_booth),
        "reviewVendor.vendorId": uid(vendors["submitted"]),
        "unassignBooth.boothId": uid(assigned_booth),
        "order.id": uid(order),
        "staffOrder.id": uid(order),
        "ticket.id": uid(kept),
        "ticketQr.id": uid(kept),
        "cancelTransfer.id": uid(sent),
        "scanRestore.ticketId": uid(admitted),
        # offline scans name the device's own gate
        "scanCommitBatch.gateId": uid(gate),
        # text
        "code": qr_encode(kept),
        "nonce": "fuzz-nonce-1",
        "name": "Fuzz Gate",
        "fullName": "Ada Admin",
        "phone": "+1 555 0100",
        "reason": "customer asked",
        "note": "checked ID",
        "query": "Ada",
        "search": "a",
        "zone": "Food Court",
        "slug": DEMO_SLUG,
        "festivalSlug": DEMO_SLUG,
        "subject": "Hello",
        "message": "A question.",
        "email": admin.email,
        "register.email": "newcomer@example.test",
        "issueCompTickets.email": "guest@example.test",
        "submitContactForm.input.email": "visitor@example.test",
        "submitContactForm.input.name": "Visitor",
        "toEmail": "friend2@example.test",
        "password": password,
        "register.password": "a-long-enough-passphrase",
        "currentPassword": password,
        "newPassword": "another-long-passphrase-42",
        "verifyEmail.token": one_time(OneTimeToken.Purpose.EMAIL_VERIFICATION),
        "resetPassword.token": one_time(OneTimeToken.Purpose.PASSWORD_RESET),
        "acceptTransfer.token": offered.token,
        "quantity": 1,
        "mode": "SINGLE",
        "decision": "APPROVE",
        "scannedAt": (now() - dt.timedelta(minutes=5)).isoformat(),
    }
    # The other objects, by the arguments that name their kind.
    tickets = [
        ("ticket with a pending upgrade", uid(upgrading)),
        ("ticket with a pending transfer", uid(transferring)),
        ("admitted ticket", uid(admitted)),
        ("upgraded ticket", uid(upgraded)),
        ("refunded ticket", uid(refunded)),
        ("someone else's ticket", uid(Ticket.objects.get(holder=attendee))),
        ("comp ticket", uid(Ticket.objects.get(order_line__order=comp_order))),
    ]
    orders_ = [
        ("someone else's order", uid(attendee_order)),
        ("refunded order", uid(refunded_order)),
        ("pending order", uid(pending_order)),
        ("comp order", uid(comp_order)),
        ("upgraded ticket's order", uid(day_order)),
    ]
    types = [
        ("day ticket type", uid(day)),
        ("retired ticket type", uid(retired)),
        ("other festival's type", uid(other_type)),
        ("lower tier", uid(day)),
        ("same tier", uid(weekend)),
    ]
    gates = [
        ("closed gate", uid(closed_gate)),
        ("other festival's gate", uid(foreign_gate)),
        ("second gate", uid(other_gate)),
    ]
    devices = [("revoked device", uid(revoked)), ("other festival's device", uid(foreign_device))]
    extras = {
        "ticketId": tickets,
        "ticketIds": tickets,
        "ticket.id": tickets,
        "ticketQr.id": tickets,
        "order.id": orders_,
        "staffOrder.id": orders_,
        "orderId": orders_,
        "ticketTypeId": types,
        "toTicketTypeId": types,
        "upgradeId": [("completed upgrade", uid(completed))],
        "cancelTransfer.id": [("cancelled transfer", uid(cancelled)), ("offered transfer", uid(offered.transfer))],
        "vendorId": [(f"{status} vendor", uid(p)) for status, p in vendors.items()],
        "boothId": [("assigned booth", uid(assigned_booth)), ("closed booth", uid(closed_booth))],
        "gate": gates,
        "gateId": gates,
        "gateIds": gates,
        "deviceId": devices,
        "eventId": [("draft festival", uid(other))],
        "festivalSlug": [("draft festival", other.slug)],
        "slug": [("draft festival", other.slug)],
        # Signed codes the gate may meet: a vendor's setup code, codes naming nothing we issued.
        "code": [
            (
                "vendor setup code",
                setup_qr_encode(BoothAssignment.objects.get(booth=assigned_booth, ended_at__isnull=True)),
            ),
            ("signed code of no ticket", qr_encode_payload(KIND_TICKET, A_UUID, 1)),
            ("signed code, highest version", qr_encode_payload(KIND_TICKET, kept.public_id, 999_999_999)),
            ("signed code of another kind", qr_encode_payload("Z", kept.public_id, 1)),
            ("code and a newline", qr_encode(kept) + "\n"),
            *[(f"code of the {what}", qr_encode(Ticket.objects.get(public_id=tid))) for what, tid in tickets],
        ],
        "token": [("a token for something else", baselines["resetPassword.token"])],
        "refreshToken": [("an access token", session_start(user=admin).access_token)],
    }
    return World(
        admin=admin,
        vendor=vendor,
        baselines=baselines,
        device_token=device_token,
        extras=extras,
    )


# --------------------------------------------------------------------------- the checks


@pytest.fixture
def error_records():
    handler = RecordCollector()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def _exception_of(record: logging.LogRecord) -> str:
    """`Type: message at path:line`, the line the last of our own frames."""
    if not record.exc_info or not record.exc_info[1]:
        return record.getMessage()[:200]
    exc = record.exc_info[1]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).is_relative_to(ROOT) and "/.venv/" not in f.filename]
    where = f" at {Path(ours[-1].filename).relative_to(ROOT)}:{ours[-1].lineno}" if ours else ""
    return f"{type(exc).__name__}: {str(exc)[:160]}{where}"


def problems_of(response, records: list[logging.LogRecord]) -> list[str]:
    found = []
    if response.status_code >= 500:
        found.append(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    for error in (body.get("errors") if isinstance(body, dict) else None) or []:
        code = (error.get("extensions") or {}).get("code")
        if error.get("message") == MASKED_MESSAGE or code in INTERNAL_CODES:
            found.append(f"error {error.get('message')!r} code {code}")
    found += [f"{r.name} {r.levelname}: {_exception_of(r)}" for r in records]
    return found


@dataclass
class Case:
    field: str
    path: str
    kind: str
    variables: dict


def cases_for(kind: str, name: str, field, world: World) -> list[Case]:
    required = {
        a for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    }
    baseline = {}
    for arg_name, arg in field.args.items():
        value = world.baseline(arg.type, arg_name, name)
        named_baseline = any(k in world.baselines for k in (f"{name}.{arg_name}", arg_name))
        if arg_name in required or named_baseline:
            baseline[arg_name] = value
    cases = [Case(name, "-", "baseline", baseline)]
    for arg_name, arg in field.args.items():
        for path, value_kind, value in variants(arg.type, baseline.get(arg_name), arg_name, world, name):
            cases.append(Case(name, path, value_kind, {**baseline, arg_name: value}))
    return cases


def executed(response) -> bool:
    """The document ran (it was not refused before execution)."""
    try:
        return bool(response.json().get("data"))
    except (ValueError, AttributeError):
        return False


def refused_as_signed_out(response) -> bool:
    """Every error is UNAUTHENTICATED: the mutation erased the account or ended its sessions."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return bool(errors) and all((e.get("extensions") or {}).get("code") == "UNAUTHENTICATED" for e in errors)


def accepted(response) -> bool:
    """A mutation that answered without any error: it wrote something."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("errors") or not body.get("data"):
        return False
    return not any(isinstance(v, dict) and v.get("errors") for v in body["data"].values())


def read_back_documents(world: World, principal) -> list[tuple[str, dict]]:
    """Every query field the principal may read (with its baseline arguments; the vendor leaves
    the public ones to the admin), in as few documents as our limits allow: what a client sees
    after a mutation stored its odd value."""
    documents, fields, variables = [], [], {}

    def text(parts):
        header = ", ".join(h for _, h, _ in parts if h)
        return f"query ReadBack{'(' + header + ')' if header else ''} {{ {' '.join(b for _, _, b in parts)} }}"

    for kind, name, field in ROOT_FIELDS:
        public, roles = access(field)
        if principal is world.vendor:
            wanted = not public and (not roles or Role.VENDOR in roles)
        else:
            wanted = not roles or Role.ADMIN in roles
        if kind != "query" or not wanted:
            continue
        baseline = cases_for(kind, name, field, world)[0].variables
        header = ", ".join(_variable(f"{name}_{a}", arg) for a, arg in field.args.items())
        arguments = ", ".join(f"{a}: ${name}_{a}" for a in field.args)
        bodies = (f"{name}{'(' + arguments + ')' if arguments else ''} {selection(field.type, d)}" for d in (1, 2))
        part = next(p for p in ((name, header, b) for b in bodies) if within_limits(text([p])))
        if fields and not within_limits(text([*fields, part])):
            documents.append((text(fields), variables))
            fields, variables = [], {}
        fields.append(part)
        variables.update({f"{name}_{a}": v for a, v in baseline.items()})
    documents.append((text(fields), variables))
    assert all(within_limits(d) for d, _ in documents)
    return documents


class Fuzz:
    """Sends the cases and collects what breaks the rule, as `field (who) argument = value kind:
    what happened` lines (with the exception and where it was raised, from the log)."""

    def __init__(self, world: World, records: RecordCollector):
        self.world, self.records = world, records
        self.failures: list[str] = []
        self.sent = self.read = 0
        self.read_backs = [(user, read_back_documents(world, user)) for user in (world.admin, world.vendor)]

    def send(self, client, query: str, variables: dict, *, by_hash: bool = False):
        _clear_own_cache(None)  # throttles and rate limits would answer before the code under test
        self.records.records.clear()
        self.sent += 1
        body = {"query": query, "variables": variables}
        if by_hash:  # a known persisted query: its hash stands for the text
            persisted = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(query)}}
            body = {"extensions": persisted, "variables": variables}
        response = client.post_raw(json.dumps(body), headers={"X-Device-Token": self.world.device_token})
        return response, problems_of(response, self.records.records)

    def field(self, kind: str, name: str, field) -> None:
        from domains.accounts.services.authentication import session_start

        world = self.world
        public, roles = access(field)
        user = world.vendor if roles and Role.ADMIN not in roles else world.admin
        session = session_start(user=user)  # a session per field: logout and password changes end theirs
        world.baselines["refreshToken.refreshToken"] = session.refresh_token
        signed_in, anonymous = GraphQLClient().authenticate(session.access_token), GraphQLClient()
        query, cases = valid_document(kind, name, field), cases_for(kind, name, field, world)
        runs = [(signed_in, user.role, c, query, False) for c in cases]
        runs += [
            (anonymous, "anonymous", c, query, False) for c in (cases if public else cases[: 1 + ANONYMOUS_SAMPLE])
        ]
        # Our own clients' documents run pre-validated (schema/prevalidated.py): the same values
        # through that path, sent as text and as a persisted query's hash.
        for text, declared in CLIENT_DOCUMENTS.get(name, []):
            for c in cases:
                if c.path.split(".")[0].split("[")[0] in {"-", *declared}:
                    narrowed = Case(c.field, c.path, c.kind, {k: v for k, v in c.variables.items() if k in declared})
                    runs.append((signed_in, f"{user.role}, scanner app's text", narrowed, text, False))
                    runs.append((signed_in, f"{user.role}, scanner app's hash", narrowed, text, True))
        read_kinds = set()
        for client, who, case, text, by_hash in runs:
            what = f"{kind} {name} ({who}) {case.path} = {case.kind}"
            savepoint = transaction.savepoint()
            try:
                response, problems = self.send(client, text, case.variables, by_hash=by_hash)
                self.failures += [f"{what}: {'; '.join(problems)}"] if problems else []
                if case.kind == "baseline" and client is signed_in and not executed(response):
                    self.failures.append(f"{what}: the baseline did not run (fix the test): {response.text[:300]}")
                # Read back after the first accepted value of each kind (the reads are most of the
                # cost): every odd value is stored and read at least once; enum values are not odd.
                value_kind = "enum" if case.kind.startswith(("enum ", "[enum ")) else case.kind
                if kind == "mutation" and client is signed_in and value_kind not in read_kinds and accepted(response):
                    read_kinds.add(value_kind)
                    self.read_back(what)
            finally:
                transaction.savepoint_rollback(savepoint)
                connection.needs_rollback = False

    def read_back(self, what: str) -> None:
        from domains.accounts.services.authentication import session_start

        for reader, documents in self.read_backs:
            # A new session: the mutation may have ended the old one (logout, eraseMe).
            client = GraphQLClient().authenticate(session_start(user=reader).access_token)
            for text, variables in documents:
                self.read += 1
                response, problems = self.send(client, text, variables)
                if not executed(response) and not refused_as_signed_out(response):
                    problems.append(f"the read-back did not run: {response.text[:300]}")
                if problems:
                    self.failures.append(f"{what}, then reading as {reader.role}: {'; '.join(problems)}")


@pytest.fixture
def production_caches(settings):
    """The public catalogue's read cache on, as in production (the suite runs with it off)."""
    from domains.common import readcache
    from schema import response_cache

    settings.PUBLIC_READ_CACHE_SECONDS = 5
    readcache.clear()
    response_cache.clear()
    yield
    readcache.clear()
    response_cache.clear()


@pytest.mark.postgres
def test_every_root_field_with_boundary_values(world, error_records, production_caches):
    fuzz = Fuzz(world, error_records)
    for kind, name, field in ROOT_FIELDS:
        fuzz.field(kind, name, field)
    print(f"\nschema fuzz: {fuzz.sent} requests ({fuzz.read} reading back) over {len(ROOT_FIELDS)} root fields")
    assert not fuzz.failures, f"{len(fuzz.failures)} failures:\n" + "\n".join(fuzz.failures)


@pytest.mark.postgres
def test_the_fuzz_reports_an_unexpected_exception(world, error_records, monkeypatch):
    """The control: an exception nobody raised on purpose is found, with its type and place."""

    def broken(festival):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("domains.events.selectors.sponsor_list", broken)
    fuzz = Fuzz(world, error_records)
    fuzz.field("query", "sponsors", GRAPHQL.query_type.fields["sponsors"])
    assert (
        "query sponsors (admin) - = baseline: error 'Internal server error.' code None; festival.graphql ERROR: "
        "ZeroDivisionError: a bug at tests/ops/test_schema_fuzz.py" in fuzz.failures[0]
    )
    assert any(f.startswith("query sponsors (anonymous)") for f in fuzz.failures)


def test_every_root_field_has_a_document_within_the_limits():
    assert len(ROOT_FIELDS) > 60
    for kind, name, field in ROOT_FIELDS:
        assert valid_document(kind, name, field)
