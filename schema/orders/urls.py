from django.urls import path

from schema.orders import rest

urlpatterns = [
    path("api/payments/webhook/stripe/", rest.stripe_webhook, name="stripe-webhook"),
    path("api/downloads/<str:token>/", rest.download, name="download"),
]
