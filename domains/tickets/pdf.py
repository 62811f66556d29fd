"""PDF rendering (xhtml2pdf from Django templates) and the document cache.

Documents are cached on disk under MEDIA_ROOT/documents/<kind>/<id>-<fingerprint>.pdf. The
fingerprint covers everything the document shows that can change (ticket secret versions and
statuses, order refunds), so a changed ticket gets a new file: no invalidation step to forget.
Workers render ahead of time (workers/orders.py); a request that finds no file renders it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string


class PdfRenderError(RuntimeError):
    pass


def render_pdf(template: str, context: dict) -> bytes:
    from xhtml2pdf import pisa

    html = render_to_string(template, context)
    out = io.BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if status.err:
        raise PdfRenderError(f"could not render {template}")
    return out.getvalue()


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def _path(kind: str, object_id: str, fp: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "documents" / kind / f"{object_id}-{fp}.pdf"


def cached(kind: str, object_id: str, fp: str, build: Callable[[], bytes]) -> bytes:
    path = _path(kind, object_id, fp)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    content = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a concurrent reader sees the whole file or none.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        # A failed write (disk full, the job's time limit) must not leave its partial file
        # behind: each retry of the job would add another one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return content
