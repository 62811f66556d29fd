"""Password change and reset."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F

from domains.accounts.models import AuthSession, OneTimeToken, User, normalize_email
from domains.accounts.services.authentication import TokenPair, password_confirm, session_start, user_auth_changed
from domains.accounts.services.registration import consume_one_time_token
from domains.accounts.services.validation import check_password_strength
from domains.accounts.tokens import hash_secret, new_secret
from domains.common import ratelimit
from domains.common.clock import now
from domains.common.sealed import seal, unseal
from domains.notifications.models import OutboundEmail
from domains.notifications.services import email_enqueue

log = logging.getLogger(__name__)


def _revoke_all_sessions(user: User, reason: str) -> None:
    AuthSession.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now(), revoked_reason=reason)
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user_auth_changed(user)
    user.refresh_from_db(fields=["token_version"])


def _spend_reset_links(user: User) -> None:
    """Every reset link of `user` not used yet stops working: they were sent for a password
    that is no longer the one set."""
    OneTimeToken.objects.filter(user=user, purpose=OneTimeToken.Purpose.PASSWORD_RESET, used_at__isnull=True).update(
        used_at=now()
    )


def password_change(
    *, user: User, current_password: str, new_password: str, client_ip: str, user_agent: str = ""
) -> TokenPair:
    """Change the password after checking the current one.

    Every session, this one included, is revoked; the caller gets a fresh token pair, so a
    thief holding an old token is out and the person changing it stays in. Reset links not
    used yet are spent too: a link asked for before the change (perhaps by whoever read the
    mailbox, the reason for the change) must not set another password afterwards.
    """
    password_confirm(user=user, password=current_password, client_ip=client_ip, field="currentPassword",
                     message="Current password is wrong.")
    check_password_strength(new_password, user, field="newPassword")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        _spend_reset_links(user)
        _revoke_all_sessions(user, "password_change")
        return session_start(user=user, user_agent=user_agent)



def password_set_by_staff(*, user: User, new_password: str | None) -> None:
    """Staff set a user's password, or disable password sign-in with None (the admin's
    "change password" page). As when the user changes it: every session is revoked and unused
    reset links are spent, so staff locking out whoever took an account over lock them out."""
    with transaction.atomic():
        if new_password is None:
            user.set_unusable_password()
        else:
            user.set_password(new_password)
        user.save(update_fields=["password"])
        _spend_reset_links(user)
        _revoke_all_sessions(user, "password_set_by_staff")


def password_reset_request(*, email: str) -> None:
    """Queue a reset email for ``email``, whether or not it has an account.

    The request does the same work for every address: no look-up, one queued job carrying the
    address sealed (domains.common.sealed). Doing the look-up, the token and the email in the
    request made it ~2 ms slower for a registered address than for an unknown one: a timing
    oracle for which addresses have accounts. The job (password_reset_email_send) decides.
    With the broker down the work is done here instead: the link is not lost, and only during
    the outage does the answer's timing differ.
    """
    sealed = seal(normalize_email(email))
    transaction.on_commit(lambda: _enqueue_reset(sealed))


def _enqueue_reset(sealed: str) -> None:
    from workers.accounts import send_password_reset

    try:
        send_password_reset.send(sealed)
    except Exception as exc:
        log.warning("password reset job not enqueued (broker unavailable: %s); done in the request", type(exc).__name__)
        password_reset_email_send(sealed_email=sealed)


def password_reset_email_send(*, sealed_email: str) -> None:
    """Email a single-use reset link to an active account with this address, at most once per
    PASSWORD_RESET_EMAIL_INTERVAL per account; an unknown or disabled address gets nothing.
    A request older than PASSWORD_RESET_REQUEST_MAX_AGE (a job stuck behind an outage) is
    dropped: the person has asked again or given up. One request (one seal) is one token and
    one email however often its job is delivered."""
    email = unseal(sealed_email, max_age_seconds=settings.PASSWORD_RESET_REQUEST_MAX_AGE)
    if email is None:
        return
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None:
        return
    # The account's one email of the interval is claimed by this request (each seal is unique),
    # not counted per attempt: a retry of this job after its transaction failed still sends.
    request_id = hash_secret(sealed_email)[:16]
    interval = settings.PASSWORD_RESET_EMAIL_INTERVAL
    if not ratelimit.claim(f"reset-email:{user.public_id}", owner=request_id, window=interval):
        return
    key = f"password-reset:{user.public_id}:{request_id}"
    with transaction.atomic():
        # A redelivered job whose first run committed (the worker died before acknowledging
        # it) finds this request's email and stops there: a second token would be a live reset
        # token whose link nobody receives. The user row, locked, serialises two deliveries
        # of the message at once.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        if OutboundEmail.objects.filter(key=key).exists():
            return
        raw = new_secret()
        OneTimeToken.objects.create(
            user=user,
            purpose=OneTimeToken.Purpose.PASSWORD_RESET,
            token_hash=hash_secret(raw),
            expires_at=now() + settings.PASSWORD_RESET_TTL,
        )
        email_enqueue(
            key=key,
            to_email=user.email,
            template="password_reset",
            context={"full_name": user.full_name, "token": raw},
            sensitive=True,
        )


def password_reset(*, token: str, new_password: str) -> None:
    """Set a new password with a reset link; the link works once and every session ends."""
    with transaction.atomic():
        spent = consume_one_time_token(token, OneTimeToken.Purpose.PASSWORD_RESET)
        user = spent.user
        check_password_strength(new_password, user, field="newPassword")
        user.set_password(new_password)
        if user.email_verified_at is None:
            user.email_verified_at = now()  # they proved they read this inbox
        user.save(update_fields=["password", "email_verified_at"])
        _spend_reset_links(user)
        _revoke_all_sessions(user, "password_reset")
