"""The outermost layer of the service: checks every request before a route sees it.

`ServiceGuard` (ASGI middleware) refuses a Host header that does not name this server (DNS
rebinding), a WebSocket from another origin, and an API key in the URL; gives a request body
that stalls a JSON 408; adds security headers to every response; and answers anything
unexpected with a JSON 500. `GuardedHttpProtocol` (uvicorn's httptools protocol) drops a
connection whose request headers do not arrive in time, and answers malformed requests in JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers

from localpose.server.errors import BodyTimeoutError, error_body
from localpose.server.options import ServerOptions

__all__ = ["CSP", "MAX_HEADER_BYTES", "ServiceGuard", "allowed_hosts", "guarded_protocol"]

_log = logging.getLogger("localpose.server")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""What the WebUI needs: its own scripts, styles and API, blob: for results and the camera."""
_DOCS_CSP = "frame-ancestors 'none'"  # the OpenAPI pages load their own assets
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def allowed_hosts(options: ServerOptions) -> frozenset[str] | None:
    """Host names requests may carry (None: any): --allowed-hosts, else the bind address
    (a loopback bind also answers to localhost, 127.0.0.1 and ::1; 0.0.0.0 to any name)."""
    if options.allowed_hosts:
        hosts = {h.strip().lower() for h in options.allowed_hosts}
        return None if "*" in hosts else frozenset(hosts)
    host = options.host.lower()
    if host in _ANY_ADDRESS:
        return None
    if host in _LOOPBACK or host.startswith("127."):
        return _LOOPBACK | {host}
    return frozenset({host})


def _host_name(value: str) -> str:
    """The name part of a Host header ("[::1]:8080" -> "::1", "example:80" -> "example")."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class ServiceGuard:
    """ASGI middleware around the whole application (see the module docstring); `key_accepted`
    (options, headers) says whether an /api/ request carries the API key."""

    def __init__(self, app: Any, options: ServerOptions, key_accepted: Any) -> None:
        self.app, self.options, self.key_accepted = app, options, key_accepted
        self.hosts = allowed_hosts(options)
        self.origins = frozenset(o.rstrip("/").lower() for o in options.cors_origins)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if scope["type"] == "websocket":
            if refusal is not None:
                await _deny_websocket(scope, send, *refusal)
                return
            await self.app(scope, receive, send)
            return
        if refusal is not None:
            await _send_json(send, *refusal, headers=self._headers(scope))
            return
        await self._http(scope, receive, send)

    def _refusal(self, scope: dict[str, Any]) -> tuple[int, str, str] | None:
        host = _header(scope, b"host")
        if self.hosts is not None and (host is None or _host_name(host) not in self.hosts):
            return 400, "invalid_host", "the Host header does not name this server (see --allowed-hosts)"
        query = scope.get("query_string", b"").decode("latin-1")
        if any(key == "api_key" for key, _ in parse_qsl(query, keep_blank_values=True)):
            return 400, "api_key_in_url", "send the API key in the X-API-Key header, never in the URL"
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and not self._same_origin(origin, host):
                return 403, "invalid_origin", "WebSocket connections are accepted from this server's pages"
        elif (
            scope.get("path", "").startswith("/api/")
            and scope.get("method") != "OPTIONS"
            and not self.key_accepted(self.options, Headers(scope=scope))
        ):
            return 401, "unauthorized", "this server needs an API key (X-API-Key header)"
        return None

    def _same_origin(self, origin: str, host: str | None) -> bool:
        origin = origin.rstrip("/").lower()
        return origin in self.origins or (host is not None and urlsplit(origin).netloc == host.lower())

    def _headers(self, scope: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        path = scope.get("path", "")
        csp = _DOCS_CSP if path.startswith(("/docs", "/redoc")) else CSP
        return [*_SECURITY_HEADERS, (b"content-security-policy", csp.encode())]

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        extra = self._headers(scope)
        started = False
        body_done = False
        timeout = self.options.body_timeout_s

        async def guarded_receive() -> dict[str, Any]:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                raise BodyTimeoutError(
                    f"no request body data for {timeout:g} s; the request was dropped"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def secured_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {key.lower() for key, _ in message.get("headers", ())}
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), *(h for h in extra if h[0] not in present)],
                }
            await send(message)

        try:
            await self.app(scope, guarded_receive, secured_send)
        except BodyTimeoutError as exc:
            if not started:
                await _send_json(send, 408, exc.code, str(exc), headers=extra)
        except Exception:
            _log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                message = "the server failed on this request (see its log)"
                await _send_json(send, 500, "internal_error", message, headers=extra)


async def _send_json(
    send: Any,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] = (),
    kind: str = "http.response",
) -> None:
    """A JSON error response as ASGI messages (`kind` "websocket.http.response" for a refused
    WebSocket handshake)."""
    body = json.dumps(error_body(code, message)).encode()
    length = str(len(body)).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", length), *headers]
    await send({"type": f"{kind}.start", "status": status, "headers": head})
    await send({"type": f"{kind}.body", "body": body})


async def _deny_websocket(scope: dict[str, Any], send: Any, status: int, code: str, message: str) -> None:
    """Refuse a WebSocket handshake: a JSON HTTP response where the server allows one, else a close."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await _send_json(send, status, code, message, kind="websocket.http.response")
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": code})


MAX_HEADER_BYTES = 64 * 1024
"""Request line and headers of one request; more is a 431."""


def guarded_protocol(header_timeout_s: float) -> type | str:
    """uvicorn's httptools protocol, with a deadline and a size limit on request headers and
    JSON errors instead of plain text ("auto", uvicorn's choice, where httptools is missing)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # uvicorn without its "standard" extras
        return "auto"

    class GuardedHttpProtocol(HttpToolsProtocol):
        """Drops a request whose headers take longer than the deadline (JSON 408) or pass
        `MAX_HEADER_BYTES` (JSON 431)."""

        _header_timer: asyncio.TimerHandle | None = None
        _header_bytes = 0

        def data_received(self, data: bytes) -> None:
            waiting = self._header_timer is not None
            super().data_received(data)
            if waiting and self._header_timer is not None:  # the headers are still incomplete
                self._header_bytes += len(data)
                if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                    self._cancel_header_timer()
                    message = f"the request headers are over {MAX_HEADER_BYTES} bytes"
                    self._write_json(431, "headers_too_large", message)

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()  # a connection that never sends a request is dropped too

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                message = f"the request headers did not arrive within {header_timeout_s:g} s"
                self._write_json(408, "header_timeout", message)

        def send_400_response(self, msg: str) -> None:
            self._write_json(400, "bad_request", msg)

        def _write_json(self, status: int, code: str, message: str) -> None:
            body = json.dumps(error_body(code, message)).encode()
            reason = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[
                status
            ]
            head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
            head += [b"%s: %s\r\n" % (k, v) for k, v in self.server_state.default_headers]
            head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body)]
            head += [b"%s: %s\r\n" % header for header in _SECURITY_HEADERS]
            self.transport.write(b"".join([*head, b"connection: close\r\n\r\n", body]))
            self.transport.close()

    return GuardedHttpProtocol
