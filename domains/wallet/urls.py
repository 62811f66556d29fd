from django.urls import path

from domains.wallet import views

app_name = "wallet"

urlpatterns = [
    path("api/wallet/passes/<str:token>.pkpass", views.pkpass_download, name="pkpass-download"),
    # Apple's PassKit web service; webServiceURL in pass.json is PUBLIC_API_URL + /api/wallet/passkit.
    path("api/wallet/passkit/v1/devices/<str:device_id>/registrations/<str:pass_type_id>/<str:serial>",
         views.passkit_registration, name="passkit-registration"),
    path("api/wallet/passkit/v1/devices/<str:device_id>/registrations/<str:pass_type_id>",
         views.passkit_serials, name="passkit-serials"),
    path("api/wallet/passkit/v1/passes/<str:pass_type_id>/<str:serial>", views.passkit_latest_pass,
         name="passkit-pass"),
    path("api/wallet/passkit/v1/log", views.passkit_log, name="passkit-log"),
]
