"""Stripe gateway: the only code that talks to the Stripe API.

Rules this module enforces
--------------------------
* One explicit ``stripe.StripeClient`` per gateway (no ``stripe.api_key`` / ``stripe.api_base``
  globals), with a bounded HTTP timeout and ``max_network_retries=0``: the SDK never retries
  behind our back, the caller decides (with the same idempotency key).
* Every write carries an idempotency key derived from our own ids (:func:`idempotency_key`),
  at most 255 characters (Stripe's limit).
* Stripe's exceptions never leave this module. They become:
  ``PaymentDeclined`` (card errors: a normal business outcome),
  ``PaymentGatewayUnavailable`` (connection errors, timeouts, 409 conflicts, 429, 5xx:
  retry later with the same key), ``PaymentGatewayError`` (everything else: a bug or a
  misconfiguration, retrying will not help).
* Results are plain frozen dataclasses (:class:`PaymentIntentInfo`, :class:`RefundInfo`), so
  callers never depend on SDK object shapes (localstripe, for instance, returns
  ``latest_charge`` as a nested object where Stripe returns an id; we normalise to the id).

What we found about localstripe 1.15.10 (read from its source and checked by
``tests/payments_gateway``)
---------------------------------------------------------------------------------------------
* **The ``Idempotency-Key`` header is ignored.** Nothing in localstripe reads it: two creates
  with the same key make two PaymentIntents (two refunds, ...). Real Stripe replays the first
  response for 24 hours and refuses the same key with different parameters.
* Therefore, to keep "one PaymentIntent per checkout" (RELIABILITY item 17) everywhere, the
  caller (``domains.orders``) MUST:

  1. derive the key from the checkout: ``idempotency_key("checkout", order.public_id)``;
  2. serialise attempts for one checkout (hold the order row lock, ``select_for_update``);
  3. if the order already stores a PaymentIntent id, retrieve and reuse it, never create;
  4. otherwise create, and store the PaymentIntent id on the order in the same transaction
     before returning the client secret;
  5. on ``PaymentGatewayUnavailable`` (the PaymentIntent may exist even though we got no
     answer) retry later with the SAME key.

  Step 5 is safe on real Stripe thanks to the header. For localstripe, build the gateway with
  ``emulate_idempotency=True`` (``from_settings`` does so whenever ``STRIPE_API_BASE`` is set):
  every object we create carries ``metadata["idempotency_key"]``, and a create first looks
  for an existing PaymentIntent (or refund) with that key and returns it instead. This
  check-then-create is not atomic, which is why step 2 is required. A repeated
  ``confirm=True`` create whose first attempt was declined raises ``PaymentDeclined`` again
  (now naming the PaymentIntent), as Stripe's replay of the 402 would.
  :meth:`StripeGateway.find_payment_intent` is the same lookup, for callers that lost the id.
* Cards: a PaymentMethod created with card ``4242424242424242`` (or the test id
  ``pm_card_visa``) succeeds. ``4000000000000341`` (or ``pm_card_chargeCustomerFail``) is
  declined when charged: HTTP 402 -> ``CardError`` code ``card_declined``, and
  ``payment_intent.payment_failed`` is sent. ``4000000000000002`` /
  ``pm_card_visa_chargeDeclined`` is declined only when *attached to a customer*: charging it
  succeeds (unlike real Stripe). 3-D Secure cards (``4000002500003155`` ...) stop in
  ``requires_action``. PaymentMethod creation needs exactly number, exp_month, exp_year and
  a 3-digit cvc, and an expiry year in 2019..2099.
* A declined ``confirm=True`` create still creates the PaymentIntent (status
  ``requires_payment_method``) but localstripe's 402 body only names the charge, not the
  PaymentIntent (real Stripe includes it). Prefer create-then-confirm so the id is stored first.
* ``confirm`` of an already-confirmed PaymentIntent answers 400; ``confirm`` with a
  ``payment_method`` answers 500 "Not implemented"; unknown parameters answer 400 ("Unexpected
  ..."), so we send only what it understands (``payment_method_types=["card"]`` is accepted
  and, on real Stripe, avoids the ``return_url`` requirement of server-side confirmation).
* Refunds: ``amount`` omitted refunds the whole charge even after a partial refund (real
  Stripe refunds only the rest; localstripe over-refunds), so always pass the amount you mean.
  A refund of a declined payment answers 400.
* Webhooks: sent about 1 s after the API call (``asyncio.sleep(1)``), once, no retries, to
  every registered endpoint in turn; ``t`` is the event's ``created`` second. Refunds send no
  ``charge.refunded`` event. ``DELETE /_config/data`` clears objects but not registered webhooks.
* PaymentIntent list takes no filters (only ``limit`` / ``starting_after``) and returns oldest
  first; the search API does not exist.
* Its store is pickled to the fixed path ``/tmp/localstripe.pickle`` after every write and
  reloaded at start unless ``--from-scratch`` is given (our ``LocalStripe`` always gives it).
  All instances on a machine share that file: one started without ``--from-scratch`` (e.g. a
  dev server on the default port 8420) reloads whatever a test instance wrote last. Each dump
  pickles the whole store, twice per create, inside its one event loop: CPU per create grows
  with the objects stored. Our ``LocalStripe`` therefore runs localstripe's app through
  ``domains/payments/localstripe_main.py``, which never writes that file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import stripe

#: Stripe's documented maximum length of an idempotency key.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
#: Metadata key under which every object we create records its idempotency key.
IDEMPOTENCY_METADATA_KEY = "idempotency_key"

# PaymentIntent states after which confirming again has nothing left to do.
_CONFIRMED_STATES = frozenset({"succeeded", "processing", "requires_capture"})


# --------------------------------------------------------------------------- errors


class PaymentGatewayError(Exception):
    """A Stripe call failed for a reason retrying will not fix (bad request, auth, ...)."""

    retryable = False

    def __init__(self, code: str, message: str, *, http_status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


class PaymentGatewayUnavailable(PaymentGatewayError):
    """Stripe could not be reached or asked us to come back: retry with the SAME key.

    The request may have been applied (a timeout after Stripe committed), which is exactly
    why retries must reuse the idempotency key.
    """

    retryable = True


class PaymentDeclined(PaymentGatewayError):
    """The card was declined: a normal outcome to show the buyer, not a system failure."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        decline_code: str | None = None,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
        http_status: int | None = 402,
    ):
        super().__init__(code, message, http_status=http_status)
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PaymentIntentInfo:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    latest_charge: str | None = None

    @classmethod
    def from_stripe(cls, obj: Any) -> PaymentIntentInfo:
        data = _as_dict(obj)
        return cls(
            id=data["id"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=data["currency"],
            client_secret=data.get("client_secret"),
            metadata=dict(data.get("metadata") or {}),
            latest_charge=_id_of(data.get("latest_charge")),
        )


@dataclass(frozen=True)
class RefundInfo:
    id: str
    status: str
    amount: int
    currency: str
    payment_intent: str | None
    charge: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, obj: Any) -> RefundInfo:
        data = _as_dict(obj)
        return cls(
            id=data["id"],
            status=data["status"],
            amount=int(data["amount"]),
            currency=data["currency"],
            payment_intent=_id_of(data.get("payment_intent")),
            charge=_id_of(data.get("charge")),
            metadata=dict(data.get("metadata") or {}),
        )


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _id_of(value: Any) -> str | None:
    """An expandable field is an id or an object (localstripe always expands): keep the id."""
    if value is None or isinstance(value, str):
        return value
    return value.get("id") if isinstance(value, Mapping) else getattr(value, "id", None)


# --------------------------------------------------------------------------- keys


def idempotency_key(*parts: object) -> str:
    """Build a deterministic Stripe idempotency key from our own ids.

    Rule: the same parts always give the same key, different parts never give the same key,
    and the key is at most 255 characters. Parts are percent-encoded before joining with
    ``:`` so ``("a:b", "c")`` and ``("a", "b:c")`` differ; a key that would be longer keeps a
    readable prefix and ends with the SHA-256 of the full key.
    """
    if not parts:
        raise ValueError("idempotency_key needs at least one part")
    encoded = []
    for part in parts:
        text = str(part)
        if not text:
            raise ValueError("idempotency_key parts must not be empty")
        encoded.append(quote(text, safe="-_.~"))
    key = ":".join(encoded)
    if len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    suffix = ":sha256:" + digest
    return key[: MAX_IDEMPOTENCY_KEY_LENGTH - len(suffix)] + suffix


# --------------------------------------------------------------------------- error mapping


def map_stripe_error(exc: stripe.StripeError, *, payment_intent_id: str | None = None) -> PaymentGatewayError:
    """Translate an SDK exception into ours; the rule is in the module docstring."""
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    status = exc.http_status
    message = err.get("message") or exc.user_message or str(exc) or type(exc).__name__

    if isinstance(exc, stripe.CardError):
        return PaymentDeclined(
            code=exc.code or err.get("code") or "card_declined",
            message=message,
            decline_code=err.get("decline_code"),
            payment_intent_id=_id_of(err.get("payment_intent")) or payment_intent_id,
            charge_id=_id_of(err.get("charge")),
            http_status=status,
        )
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return PaymentGatewayUnavailable("gateway_unavailable", message, http_status=status)
    should_retry = (exc.headers or {}).get("stripe-should-retry")
    if should_retry == "true" or (
        should_retry is None and isinstance(exc, stripe.APIError) and (status is None or status >= 500 or status == 409)
    ):
        # 5xx: Stripe's side failed; 409: the same idempotency key is in flight.
        return PaymentGatewayUnavailable("gateway_unavailable", message, http_status=status)
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentGatewayError("idempotency_error", message, http_status=status)
    code = getattr(exc, "code", None) or err.get("code") or type(exc).__name__
    return PaymentGatewayError(str(code), message, http_status=status)


# --------------------------------------------------------------------------- gateway


def _shared_session(api_base: str | None):
    import requests

    session = requests.Session()
    # With trust_env, requests reads the proxy variables (and ~/.netrc) again for every request:
    # ~0.13 ms of CPU per Stripe call, in every checkout. They do not change while we run, so
    # the proxy for the API's address is read once, here (HTTPS_PROXY / NO_PROXY still work).
    session.proxies = requests.utils.get_environ_proxies(api_base or stripe.api_base)
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class StripeGateway:
    """Thin, typed wrapper over ``stripe.StripeClient`` with our error and retry rules."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout: float = 10.0,
        emulate_idempotency: bool = False,
        payment_method_types: tuple[str, ...] = ("card",),
    ):
        if not secret_key:
            raise ValueError("a Stripe secret key is required")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.api_base = api_base
        self.timeout = timeout
        self.emulate_idempotency = emulate_idempotency
        self.payment_method_types = list(payment_method_types)
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            # We own retries: a hidden SDK retry would multiply latency under a lock.
            max_network_retries=0,
            # requests is a dependency of the stripe SDK; the timeout bounds connect and read.
            # One keep-alive session for all threads (the SDK otherwise opens one per thread,
            # and under ASGI every request is a new thread: a new TCP connection per call).
            http_client=stripe.RequestsClient(timeout=timeout, session=_shared_session(api_base)),
        )

    @classmethod
    def from_settings(cls) -> StripeGateway:  # noqa: D102
        """Build from Django settings: ``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE`` (None for
        real Stripe), ``STRIPE_TIMEOUT_SECONDS`` (10), ``STRIPE_EMULATE_IDEMPOTENCY`` (defaults
        to True exactly when ``STRIPE_API_BASE`` is set, i.e. localstripe)."""
        # Imported here so the module stays importable (and testable) without Django.
        from django.conf import settings

        api_base = getattr(settings, "STRIPE_API_BASE", None) or None
        return cls(
            settings.STRIPE_SECRET_KEY,
            api_base=api_base,
            timeout=float(getattr(settings, "STRIPE_TIMEOUT_SECONDS", 10.0)),
            emulate_idempotency=_emulate(getattr(settings, "STRIPE_EMULATE_IDEMPOTENCY", None), api_base),
        )

    # ----------------------------------------------------------------- PaymentIntents

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, object],
        payment_method: str | None = None,
        confirm: bool = False,
    ) -> PaymentIntentInfo:
        """Create (and optionally confirm) a PaymentIntent, at most once per idempotency key.

        Raises ``PaymentDeclined`` when ``confirm=True`` and the card is declined.
        """
        _check_amount(amount)
        key = _check_key(idempotency_key)
        currency = _check_currency(currency)
        meta = _stamp_metadata(metadata, key)
        if self.emulate_idempotency:
            existing = self._find_payment_intent_data(key, 10_000)
            if existing is not None:
                return _replay(existing, amount=amount, currency=currency, confirm=confirm)
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "metadata": meta,
            "payment_method_types": self.payment_method_types,
        }
        if payment_method is not None:
            params["payment_method"] = payment_method
        if confirm:
            params["confirm"] = True
        try:
            pi = self.client.v1.payment_intents.create(params, {"idempotency_key": key})
        except stripe.StripeError as exc:
            raise map_stripe_error(exc) from exc
        return PaymentIntentInfo.from_stripe(pi)

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntentInfo:
        """Ask Stripe for the current state (the truth when events arrive out of order)."""
        try:
            pi = self.client.v1.payment_intents.retrieve(payment_intent_id)
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc
        return PaymentIntentInfo.from_stripe(pi)

    def confirm_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str | None = None
    ) -> PaymentIntentInfo:
        """Confirm a PaymentIntent; confirming one that is already confirmed returns its state.

        Why: the client's confirmation and our retry can race; the second confirm must not
        turn a paid checkout into an error (Stripe and localstripe both answer 400 there).
        """
        options = {"idempotency_key": _check_key(idempotency_key)} if idempotency_key else {}
        try:
            pi = self.client.v1.payment_intents.confirm(payment_intent_id, None, options)
        except stripe.InvalidRequestError as exc:
            current = self._state_after_refusal(payment_intent_id, exc)
            if current.status in _CONFIRMED_STATES:
                return current
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc
        return PaymentIntentInfo.from_stripe(pi)

    def cancel_payment_intent(self, payment_intent_id: str, *, idempotency_key: str | None = None) -> PaymentIntentInfo:
        """Cancel a PaymentIntent (expired hold, abandoned checkout); cancelling twice is fine."""
        options = {"idempotency_key": _check_key(idempotency_key)} if idempotency_key else {}
        try:
            pi = self.client.v1.payment_intents.cancel(payment_intent_id, None, options)
        except stripe.InvalidRequestError as exc:
            current = self._state_after_refusal(payment_intent_id, exc)
            if current.status == "canceled":
                return current
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc
        return PaymentIntentInfo.from_stripe(pi)

    def find_payment_intent(self, *, idempotency_key: str, max_scan: int = 10_000) -> PaymentIntentInfo | None:
        """The PaymentIntent we created with this key, or None.

        Lists PaymentIntents and matches ``metadata["idempotency_key"]``; scans at most
        ``max_scan`` objects. Meant for localstripe (which has no search API and ignores the
        header); on real Stripe rely on the header and the id stored on the order.
        """
        data = self._find_payment_intent_data(idempotency_key, max_scan)
        return PaymentIntentInfo.from_stripe(data) if data is not None else None

    def _find_payment_intent_data(self, key: str, max_scan: int) -> dict[str, Any] | None:
        for pi in self._iterate("payment_intents", {}, max_scan):
            if (pi.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) == key:
                return pi
        return None

    # ----------------------------------------------------------------- refunds

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int | None,
        idempotency_key: str,
        metadata: Mapping[str, object] | None = None,
    ) -> RefundInfo:
        """Refund all (``amount=None``) or part of a PaymentIntent, at most once per key."""
        if amount is not None:
            _check_amount(amount)
        key = _check_key(idempotency_key)
        meta = _stamp_metadata(metadata or {}, key)
        if self.emulate_idempotency:
            for refund in self._iterate("refunds", {"payment_intent": payment_intent}, 10_000):
                if (refund.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) == key:
                    if amount is not None and int(refund["amount"]) != amount:
                        # Stripe refuses a key reused with other parameters.
                        raise PaymentGatewayError("idempotency_error", "idempotency key reused with different parameters")
                    return RefundInfo.from_stripe(refund)
        params: dict[str, Any] = {"payment_intent": payment_intent, "metadata": meta}
        if amount is not None:
            params["amount"] = amount
        try:
            refund = self.client.v1.refunds.create(params, {"idempotency_key": key})
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, payment_intent_id=payment_intent) from exc
        return RefundInfo.from_stripe(refund)

    # ----------------------------------------------------------------- helpers

    def _state_after_refusal(self, payment_intent_id: str, exc: stripe.StripeError) -> PaymentIntentInfo:
        try:
            return self.retrieve_payment_intent(payment_intent_id)
        except PaymentGatewayError:
            raise map_stripe_error(exc, payment_intent_id=payment_intent_id) from exc

    def _iterate(self, resource: str, params: dict[str, Any], max_scan: int) -> Iterator[dict[str, Any]]:
        service = getattr(self.client.v1, resource)
        starting_after = None
        seen = 0
        while seen < max_scan:
            page_params = dict(params, limit=100)
            if starting_after:
                page_params["starting_after"] = starting_after
            try:
                page = service.list(page_params)
            except stripe.StripeError as exc:
                raise map_stripe_error(exc) from exc
            items = [_as_dict(item) for item in page.data]
            for item in items:
                seen += 1
                yield item
            if not page.has_more or not items:
                return
            starting_after = items[-1]["id"]


def _replay(existing: dict[str, Any], *, amount: int, currency: str, confirm: bool) -> PaymentIntentInfo:
    """What Stripe would answer to a repeated create with the same idempotency key."""
    if (int(existing["amount"]), existing["currency"]) != (amount, currency):
        # Stripe refuses a key reused with other parameters.
        raise PaymentGatewayError("idempotency_error", "idempotency key reused with different parameters")
    error = existing.get("last_payment_error") or {}
    if confirm and existing["status"] == "requires_payment_method" and error:
        # Stripe replays the original 402: the retry must not look like a fresh, unpaid intent.
        raise PaymentDeclined(
            code=error.get("code") or "card_declined",
            message=error.get("message") or "Your card was declined.",
            decline_code=error.get("decline_code"),
            payment_intent_id=existing["id"],
            charge_id=_id_of(error.get("charge")),
        )
    return PaymentIntentInfo.from_stripe(existing)


def _check_amount(amount: int) -> None:
    # bool is an int subclass; True must not become a 1-cent charge.
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError("amount must be a positive integer in minor units")


def _check_currency(currency: str) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError("currency must be an ISO 4217 code")
    return currency.lower()


def _check_key(key: str | None) -> str:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError("idempotency key must be 1..255 characters; use idempotency_key()")
    return key


def _stamp_metadata(metadata: Mapping[str, object], key: str) -> dict[str, str]:
    """Stripe metadata is string to string; we add the idempotency key for later lookup."""
    meta = {str(k): str(v) for k, v in metadata.items()}
    if meta.get(IDEMPOTENCY_METADATA_KEY, key) != key:
        raise ValueError(f"metadata[{IDEMPOTENCY_METADATA_KEY!r}] is reserved")
    meta[IDEMPOTENCY_METADATA_KEY] = key
    return meta


def _emulate(configured: bool | None, api_base: str | None) -> bool:
    """Explicit setting wins; unset (None) means: emulate exactly when not talking to Stripe."""
    return bool(configured) if configured is not None else api_base is not None
