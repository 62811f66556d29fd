"""Calling festival.wsgi's application (with its public response cache) as a WSGI server would."""

from __future__ import annotations

import io
import json


def call_wsgi(body: bytes, **extra):
    from festival.wsgi import application

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/graphql/", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver", **extra,
    }
    out = {}

    def start_response(status, headers, exc_info=None):
        out["status"], out["headers"] = status, dict(headers)

    payload = b"".join(application(environ, start_response))
    return out["status"], out["headers"], json.loads(payload)
