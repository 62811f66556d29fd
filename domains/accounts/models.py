"""Accounts: users with one role, login sessions (refresh-token families), one-time tokens."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    ATTENDEE = "attendee", "Attendee"
    VENDOR = "vendor", "Vendor"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


def normalize_email(email: str) -> str:
    """Emails are compared case-insensitively: we store them lower-cased and trimmed."""
    return (email or "").strip().lower()


class User(AbstractBaseUser, PermissionsMixin):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ATTENDEE)
    is_active = models.BooleanField(default=True)
    # Django admin access only; our own permissions read `role`.
    is_staff = models.BooleanField(default=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    date_joined = models.DateTimeField(auto_now_add=True)
    # Part of every access token: bumping it (role change, password reset, deactivation)
    # makes every token issued before fail on the next request.
    token_version = models.PositiveIntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs) -> None:
        # One spelling of an address, whoever saves it (the admin, a shell): every look-up
        # compares the normalised address, so one stored otherwise could not log in or be found,
        # and registering it again ran into the case-insensitive unique constraint (a 500).
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def is_staff_member(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)


class AuthSession(models.Model):
    """One login: a family of refresh tokens. Revoking it ends every token of the family."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"Session {self.pk} of user #{self.user_id}"


class RefreshToken(models.Model):
    """A single-use refresh token; only its SHA-256 is stored."""

    session = models.ForeignKey(AuthSession, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Refresh token #{self.pk} of session {self.session_id}"  # never the hash


class OneTimeToken(models.Model):
    """Password reset and email verification links: single use, expiring, hash stored."""

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset"
        EMAIL_VERIFICATION = "email_verification"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_tokens")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} token #{self.pk} of user #{self.user_id}"  # never the hash


class InvoiceParty(models.Model):
    """The buyer as an issued invoice names them, kept when the person's account is erased
    (tax law keeps invoices for years; everything else about the person goes)."""

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="invoice_party")
    name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"invoice party of order {self.order_id}"
