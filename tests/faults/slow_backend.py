"""An outbox email backend that takes SLOW_EMAIL_SECONDS to send (the provider is slow), and
first drops a marker file so a test knows a worker is in the middle of a send."""

from __future__ import annotations

import os
import time
import uuid

from django.conf import settings

from workers.email_backends import OutboxBackend


class SlowOutboxBackend(OutboxBackend):
    def send_messages(self, email_messages):
        marker_dir = settings.EMAIL_OUTBOX_DIR.parent / "sending"
        marker_dir.mkdir(parents=True, exist_ok=True)
        (marker_dir / f"{os.getpid()}-{uuid.uuid4().hex}").write_text("sending")
        time.sleep(float(os.environ.get("SLOW_EMAIL_SECONDS", "0")))
        return super().send_messages(email_messages)
