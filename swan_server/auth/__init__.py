"""Authentication: who a request is (`hook`), the dashboard's login and logout, CSRF tokens.

What each principal may do is decided in `swan_server.services.access`; this package only
turns credentials into a principal."""

from swan_server.auth.hook import (  # noqa: F401
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token,
    register,
    resolve,
)
