"""A GraphQL client that goes through the real ASGI application (festival.asgi) over HTTP
semantics (httpx's ASGI transport), in the test's own thread so the `db` fixture's
transaction is visible to the request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from asgiref.sync import async_to_sync
from django.core import signals
from django.db import close_old_connections


@dataclass
class GraphQLResponse:
    status_code: int
    body: dict
    headers: httpx.Headers

    @property
    def data(self) -> dict | None:
        return self.body.get("data")

    @property
    def errors(self) -> list | None:
        return self.body.get("errors")

    def payload(self, field: str) -> dict:
        """The mutation payload, asserting there were no top-level errors."""
        assert not self.errors, self.errors
        return self.data[field]

    def error_codes(self, field: str) -> list[str]:
        return [e["code"] for e in self.payload(field)["errors"]]


class GraphQLClient:
    def __init__(self, path: str = "/graphql/"):
        from festival.asgi import application

        self.application = application
        self.path = path
        self.token: str | None = None
        self.client_ip = "127.0.0.1"

    def authenticate(self, token: str | None) -> GraphQLClient:
        self.token = token
        return self

    def post_raw(self, body: bytes | str, *, content_type: str = "application/json", headers: dict | None = None, method: str = "POST", path: str | None = None) -> httpx.Response:
        all_headers = {"content-type": content_type, **(headers or {})}
        if self.token and "authorization" not in {k.lower() for k in all_headers}:
            all_headers["Authorization"] = f"Bearer {self.token}"

        async def send():
            transport = httpx.ASGITransport(app=self.application, client=(self.client_ip, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                if method == "GET":
                    return await client.get(path or self.path, params=body if isinstance(body, dict) else None, headers=all_headers)
                return await client.request(method, path or self.path, content=body, headers=all_headers)

        # Django closes "old" connections around each request; inside a test transaction
        # that would throw the transaction away (the test client disconnects it too).
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            return async_to_sync(send)()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    def execute(self, query: str, variables: dict[str, Any] | None = None, *, operation_name: str | None = None, headers: dict | None = None) -> GraphQLResponse:
        body = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        response = self.post_raw(json.dumps(body), headers=headers)
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"raw": response.text}
        return GraphQLResponse(response.status_code, parsed, response.headers)

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        return self.post_raw(b"", method="GET", path=path, headers=headers)
