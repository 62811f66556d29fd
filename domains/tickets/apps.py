from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "domains.tickets"
    label = "tickets"

    def ready(self):
        from domains.notifications.services import register_attachment_builder
        from domains.tickets import documents

        register_attachment_builder("ticket_pdfs", documents.ticket_pdf_attachments)

        from domains.tickets import signals

        signals.connect()
