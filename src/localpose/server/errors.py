"""The service's errors as JSON: the status each error class states, one body shape for all.

Every error the service returns is ``{"error": {"code": ..., "message": ...}}``: library
errors by their class, HTTP-level ones (`ApiError`), validation and unknown routes here;
anything unexpected in `localpose.server.guard`, without a word about the server's internals.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from localpose.errors import BodyTimeoutError, BusyError, InvalidOptionError, LocalposeError

__all__ = [
    "ApiError",
    "BodyTimeoutError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_of",
]

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class ApiError(LocalposeError):
    """An HTTP-level error with its own status (missing upload, auth, wrong media type)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def status_of(exc: LocalposeError) -> int:
    """The HTTP status an error class states (`localpose.errors`), or an ApiError's own."""
    return exc.status if isinstance(exc, ApiError) else exc.http_status


def install_error_handlers(app: FastAPI) -> None:
    """JSON for library errors, bad parameters and HTTP errors."""

    @app.exception_handler(LocalposeError)
    async def localpose_error(_request: Request, exc: LocalposeError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(exc, BusyError) else None
        return error_response(status_of(exc), exc.code, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors()
        )
        return error_response(422, InvalidOptionError.code, problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))
