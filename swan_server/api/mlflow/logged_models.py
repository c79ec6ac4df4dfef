"""MLflow 3 logged models.

MLflow 3 clients search a run's logged-model outputs on every `list_artifacts` and
`download_artifacts`, so the search route must answer even before models are stored."""

from __future__ import annotations

from swan_server.api.common import json_response
from swan_server.api.mlflow.routes import routes
from swan_server.api.mlflow.wire import RequestData


@routes.post("/logged-models/search")
def search_logged_models():
    RequestData.current()  # validates the body
    return json_response({})
