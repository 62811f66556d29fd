import pytest

from tests.sales.conftest import fake_gateway, festival, make_type  # noqa: F401 - fixtures


@pytest.fixture
def read_cache(settings):
    """The public read cache and entry-rule cache on (the suite runs with them off)."""
    from domains.common import readcache
    from schema import response_cache

    settings.PUBLIC_READ_CACHE_SECONDS = 5
    settings.PUBLIC_READ_MAX_STALE_MS = 0  # every write shows at once (test_read_coalescing.py: bounded)
    settings.ENTRY_RULE_CACHE_SECONDS = 60
    readcache.clear()
    response_cache.clear()
    yield
    readcache.clear()
    response_cache.clear()
