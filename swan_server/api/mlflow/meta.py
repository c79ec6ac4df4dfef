"""Capability and version routes the MLflow client probes."""

from __future__ import annotations

from flask import Response

from swan_server import MLFLOW_COMPAT_VERSION
from swan_server.api.common import json_response
from swan_server.api.mlflow.routes import routes

SERVER_INFO_PREFIXES = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")


@routes.route("/server-info", methods=("GET",), prefixes=SERVER_INFO_PREFIXES)
def server_info():
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            # Transfers stream through the server; presigned/multipart arrive with S3 support.
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {},
        }
    )


@routes.route("/version", methods=("GET",), prefixes=("",))
def version():
    return Response(MLFLOW_COMPAT_VERSION, mimetype="text/plain")
