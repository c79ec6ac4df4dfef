"""A route table for the MLflow face: each handler is mounted under every MLflow prefix."""

from __future__ import annotations

from typing import Callable

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")


class RouteTable:
    def __init__(self):
        self.routes: list[tuple[str, tuple[str, ...], Callable, tuple[str, ...]]] = []

    def route(self, path: str, methods=("POST",), prefixes=API_PREFIXES):
        def decorator(fn):
            self.routes.append((path, tuple(methods), fn, tuple(prefixes)))
            return fn

        return decorator

    def get(self, path, prefixes=API_PREFIXES):
        return self.route(path, ("GET",), prefixes)

    def post(self, path, prefixes=API_PREFIXES):
        return self.route(path, ("POST",), prefixes)

    def register(self, app) -> None:
        for path, methods, fn, prefixes in self.routes:
            for prefix in prefixes:
                app.add_url_rule(
                    prefix + path,
                    endpoint=f"mlflow:{prefix}{path}:{','.join(methods)}",
                    view_func=fn,
                    methods=list(methods),
                )


routes = RouteTable()
