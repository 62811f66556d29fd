"""QR images with segno (SVG text, PNG bytes)."""

from __future__ import annotations

import io

import segno


def qr_svg(code: str, *, scale: int = 4) -> str:
    out = io.BytesIO()
    segno.make(code, error="m", micro=False).save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")


def qr_png(code: str, *, scale: int = 6) -> bytes:
    out = io.BytesIO()
    segno.make(code, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


def qr_png_data_uri(code: str, *, scale: int = 6) -> str:
    return segno.make(code, error="m", micro=False).png_data_uri(scale=scale, border=2)
