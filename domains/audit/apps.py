from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "domains.audit"
    label = "audit"

    def ready(self):
        from domains.notifications.services import register_attachment_builder
        from domains.tickets import documents

        # One ticket's PDF (resends go to each holder with only their tickets).
        register_attachment_builder(
            "single_ticket_pdf",
            lambda ticket_ref: (
                [(d[0], d[1], "application/pdf")] if (d := documents.single_ticket_pdf(ticket_ref)) else []
            ),
        )
