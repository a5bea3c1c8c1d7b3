"""answers - what a route of the simulator answers, shared by every module.

Response (status, body, headers) and STREAMED (a route that wrote its answer
itself), JSON encoded as FastAPI encodes it, the API's error answers in the
shape the control API chose ({"detail": ...} or the {"error": {...}}
envelope), ControlError (a malformed control request), and route matching.
"""

import json
from urllib.parse import unquote

# Default message, envelope code and envelope type per HTTP status.
STATUS_ERRORS = {
    400: ("Bad request", "BAD_REQUEST", "invalid_request_error"),
    401: ("Invalid or missing API key", "UNAUTHORIZED", "authentication_error"),
    402: ("Insufficient balance", "INSUFFICIENT_BALANCE", "payment_required"),
    403: ("Forbidden", "FORBIDDEN", "permission_error"),
    404: ("Not Found", "NOT_FOUND", "not_found"),
    405: ("Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"),
    408: ("Request timeout", "REQUEST_TIMEOUT", "api_error"),
    409: ("Conflict", "CONFLICT", "conflict"),
    422: ("Validation error", "VALIDATION_ERROR", "validation_error"),
    429: ("Rate limit exceeded", "RATE_LIMIT_EXCEEDED", "rate_limit_error"),
    500: ("Internal server error", "INTERNAL_ERROR", "api_error"),
    502: ("Carrier error", "CARRIER_ERROR", "carrier_error"),
    503: ("Service unavailable", "SERVICE_UNAVAILABLE", "api_error"),
    504: ("Gateway timeout", "GATEWAY_TIMEOUT", "api_error"),
}


def dumps(obj):
    """dumps encodes JSON compactly, as FastAPI does."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Response:
    """Response is what a route answers: status, JSON or raw body, extra headers."""

    def __init__(self, status, body=None, raw=None, content_type="application/json",
                 headers=None):
        self.status = status
        if raw is not None:
            self.body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        elif body is not None:
            self.body = dumps(body)
        else:
            self.body = b""
        self.content_type = content_type
        self.headers = list((headers or {}).items())


STREAMED = object()  # a route that wrote its answer itself (SSE) returns this


class ControlError(Exception):
    """ControlError rejects a malformed control API request (answered 400)."""


def status_error_defaults(status):
    """status_error_defaults: (message, envelope code, envelope type) of a status."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ("Server error", "INTERNAL_ERROR", "api_error")
    return ("Request failed", "ERROR", "invalid_request_error")


def error_locked(sim, status, message=None, code=None):
    """error_locked answers an HTTPException in the current error shape; the
    caller holds sim.lock."""
    default_message, default_code, default_type = status_error_defaults(status)
    message = default_message if message is None else message
    if sim.error_shape == "envelope":
        body = {"error": {"message": message, "code": code or default_code,
                          "type": default_type}}
    else:
        body = {"detail": message}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(status, body, headers=headers)


def error(sim, status, message=None, code=None):
    """error is error_locked for callers that do not hold sim.lock."""
    with sim.lock:
        return error_locked(sim, status, message, code)


def validation(sim, errors):
    """validation answers 422 with FastAPI-style errors in the current error shape."""
    with sim.lock:
        shape = sim.error_shape
    if shape == "envelope":
        details = [{"field": ".".join(str(p) for p in e["loc"][1:]) or e["loc"][0],
                    "message": e["msg"], "type": e["type"]} for e in errors]
        body = {"error": {"message": "Validation error", "code": "VALIDATION_ERROR",
                          "type": "validation_error", "details": details}}
    else:
        body = {"detail": errors}
    return Response(422, body)


def match_route(routes, method, path):
    """match_route finds a route of a table whose entries start with (method,
    compiled path regex); returns (route, params) for a full match, (None,
    allowed methods) when only the path matches, or (None, None)."""
    allowed = []
    for route in routes:
        match = route[1].fullmatch(path)
        if match:
            if route[0] == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
            allowed.append(route[0])
    return None, (allowed or None)
