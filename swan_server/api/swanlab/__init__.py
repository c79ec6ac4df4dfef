"""The SwanLab face: the routes the unmodified `swanlab` SDK (0.8 – 0.10) calls, under `/api`.

Handlers are thin: they parse the wire request, call `SwanLabService`, and answer in SwanLab's
format (`{code, message}` errors, standard reason phrases). See docs/SWANLAB-PROTOCOL.md."""

from swan_server.api.swanlab import (  # noqa: F401
    experiments, files, house, legacy, login, metrics, openapi, projects,
)
from swan_server.api.swanlab.common import bp
from swan_server.api.swanlab.web import web


def register(app) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(web)  # the web links the SDK prints, outside /api
    detector = app.extensions["swan"].crash_detector
    if detector is not None:
        detector.start()
