from django.contrib import admin
from django.urls import include, path

from festival.health import health
from festival.metrics import metrics
from schema.views import graphql_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", graphql_view(), name="graphql"),
    path("graphql", graphql_view()),
    path("api/health/", health, name="health"),
    path("api/metrics/", metrics, name="metrics"),
    path("", include("domains.wallet.urls")),
    path("", include("schema.orders.urls")),
]

handler400 = "festival.errors.bad_request"
handler403 = "festival.errors.permission_denied"
handler404 = "festival.errors.page_not_found"
handler500 = "festival.errors.server_error"
