from tests.schema.conftest import festival  # noqa: F401
