"""Users, API keys and sessions: how a request proves who it is."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from swan_server.entities import ROLES, User
from swan_server.errors import RESOURCE_ALREADY_EXISTS, UNAUTHENTICATED, SwanError, invalid
from swan_server.store.sql.base import now_ms

ADMIN_USER = "admin"
SESSION_DAYS = 30
KEY_PREFIX = "swan_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


class IdentityService:
    def __init__(self, store, limiter=None):
        self.store = store
        # services.login_limit.LoginLimiter: failed logins per client address and user name.
        self.limiter = limiter

    def create_user(self, name: str, role: str = "member", display_name: str | None = None) -> tuple[User, str]:
        """Create a user with a fresh API key; returns (user, plain key)."""
        if role not in ROLES:
            raise invalid(f"Invalid role '{role}'. Valid roles are {list(ROLES)}")
        if not name or not all(c.isalnum() or c in "-_." for c in name) or len(name) > 64:
            raise invalid(f"Invalid user name '{name}': use letters, digits, '-', '_' or '.' (at most 64)")
        user = self.store.create_user(name, role, display_name)
        return user, self.add_key(user)

    def add_key(self, user: User, description: str | None = None, key: str | None = None) -> str:
        key = key or new_api_key()
        self.store.add_api_key(user.id, hash_secret(key), key[: len(KEY_PREFIX) + 6], description)
        return key

    def authenticate_key(self, key: str | None, user_name: str | None = None) -> User:
        """The active user owning `key` (and named `user_name`, for HTTP Basic auth), or 401.

        Failed attempts count against the caller's address and the user name; too many within
        the window is a 429 before the key is even looked at."""
        from swan_server.services.access import current_client

        scopes = self.limiter.scopes(current_client(), user_name) if self.limiter else []
        if self.limiter:
            self.limiter.check(scopes)
        if not key or not key.strip():
            raise SwanError("Missing API key", UNAUTHENTICATED)
        # Keys are looked up by their SHA-256 digest, never compared as plain text, so response
        # timing reveals nothing usable about a stored key; names compare in constant time.
        user = self.store.user_by_key_hash(hash_secret(key.strip()))
        ok = user is not None and not user.disabled
        if ok and user_name is not None:
            ok = hmac.compare_digest(user.name.encode("utf-8", "surrogatepass"),
                                     user_name.encode("utf-8", "surrogatepass"))
        if not ok:
            if self.limiter:
                self.limiter.failed(scopes)
            raise SwanError("Invalid user name or API key" if user_name is not None else "Invalid API key",
                            UNAUTHENTICATED)
        return user

    def login(self, key: str | None) -> tuple[str, int, User]:
        """Exchange an API key for a session id; returns (sid, expires_ms, user)."""
        user = self.authenticate_key(key)
        sid = secrets.token_urlsafe(32)
        expires = now_ms() + SESSION_DAYS * 86_400_000
        self.store.create_session(hash_secret(sid), user.id, expires)
        return sid, expires, user

    def session_user(self, sid: str | None) -> User:
        if not sid:
            raise SwanError("Not logged in", UNAUTHENTICATED)
        user = self.store.user_by_session(hash_secret(sid))
        if user is None or user.disabled:
            raise SwanError("Session expired or invalid; log in again", UNAUTHENTICATED)
        return user

    def ensure_admin(self, home: Path) -> str | None:
        """Make sure the `admin` user exists with a usable key.

        The key comes from SWAN_ADMIN_API_KEY when set; otherwise one is generated once and kept
        in $SWAN_HOME/admin_api_key (mode 0600). Returns the key when it was generated now, so the
        caller can print it once."""
        env_key = os.environ.get("SWAN_ADMIN_API_KEY")
        admin = self.store.get_user(ADMIN_USER)
        if admin is None:
            try:
                admin = self.store.create_user(ADMIN_USER, "admin", "Administrator")
            except SwanError as exc:  # another server starting on the same database made it first
                admin = self.store.get_user(ADMIN_USER)
                if exc.error_code != RESOURCE_ALREADY_EXISTS or admin is None:
                    raise
        if env_key:
            if self.store.user_by_key_hash(hash_secret(env_key)) is None:
                self.add_key(admin, "from SWAN_ADMIN_API_KEY", env_key)
            return None
        key_file = home / "admin_api_key"
        if key_file.exists():
            key = key_file.read_text().strip()
            if key and self.store.user_by_key_hash(hash_secret(key)) is not None:
                return None
        key = self.add_key(admin, "generated at first start")
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        os.chmod(key_file, 0o600)
        return key
