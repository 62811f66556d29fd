from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "domains.orders"
    label = "orders"

    def ready(self):
        from domains.notifications.services import register_attachment_builder
        from domains.orders import documents

        register_attachment_builder("invoice_pdf", documents.invoice_pdf_attachments)
