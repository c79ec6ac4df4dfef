"""Domain errors shared by every face.

Services raise `SwanError` with an MLflow-style error code; each face turns it into its own wire
format (MLflow JSON, SwanLab `{code, message}`, ...). The code → HTTP status table follows MLflow's.
"""

from __future__ import annotations

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
BAD_REQUEST = "BAD_REQUEST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
INTERNAL_ERROR = "INTERNAL_ERROR"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"

HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    RESOURCE_CONFLICT: 409,
    REQUEST_LIMIT_EXCEEDED: 429,
    INTERNAL_ERROR: 500,
    NOT_IMPLEMENTED: 501,
    TEMPORARILY_UNAVAILABLE: 503,
    PAYLOAD_TOO_LARGE: 413,
}


class SwanError(Exception):
    def __init__(self, message: str, error_code: str = INVALID_PARAMETER_VALUE):
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 400)


def invalid(message: str) -> SwanError:
    return SwanError(message, INVALID_PARAMETER_VALUE)


def not_found(message: str) -> SwanError:
    return SwanError(message, RESOURCE_DOES_NOT_EXIST)


def already_exists(message: str) -> SwanError:
    return SwanError(message, RESOURCE_ALREADY_EXISTS)
