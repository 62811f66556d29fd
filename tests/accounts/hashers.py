"""A password hasher for timing tests: real PBKDF2, with few enough iterations to be quick and
enough to be measured (tests/accounts/test_adversarial_auth.py)."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class MeasurablePBKDF2Hasher(PBKDF2PasswordHasher):
    iterations = 20_000
