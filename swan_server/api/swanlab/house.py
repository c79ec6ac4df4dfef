"""Metric reads of SwanLab's query client `swanlab.Api()` (protocol §2.11): keys, summaries,
sampled lines and statistics, the CSV export (a token, its download URL, the download itself),
the deprecated column list, console logs, and media (items per key and step, their signed
download URLs, the download itself)."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from swan_server.api.mlflow.artifacts import file_response
from swan_server.api.swanlab.common import base_url, bp, json_body, reply, swanlab, user
from swan_server.api.swanlab.openapi import int_arg
from swan_server.errors import invalid


def _kind(kind: str) -> str:
    if kind not in ("scalar", "media"):
        raise invalid(f"Invalid metric type {kind!r}: scalar or media")
    return kind


@bp.post("/house/metrics/summaries")
def metric_summaries():
    return reply(swanlab().metric_reads.summaries(user(), json_body()))


@bp.post("/house/metrics/<kind>/keys")
def metric_keys(kind):
    return reply(swanlab().metric_reads.keys(user(), _kind(kind), json_body()))


@bp.post("/house/metrics/<kind>/availability")
def metric_availability(kind):
    return reply(swanlab().metric_reads.availability(user(), _kind(kind), json_body()))


@bp.post("/house/metrics/scalar")
def scalar_lines():
    return reply(swanlab().metric_reads.scalar_lines(user(), json_body()))


@bp.post("/house/metrics/scalar/value")
def scalar_values():
    return reply(swanlab().metric_reads.scalar_values(user(), json_body()))


@bp.post("/house/metrics/scalar/export")
def scalar_export():
    return reply(swanlab().metric_reads.export(user(), json_body()))


@bp.post("/files/presigned/get")
def files_presigned_get():
    return reply(swanlab().metric_reads.presigned_files(user(), json_body(), base_url()))


@bp.get("/swan/export/<token>")
def export_download(token):
    rows = swanlab().metric_reads.export_csv(user(), token)
    return Response(stream_with_context(rows), mimetype="text/csv")


@bp.post("/house/metrics/media")
def media_at_step():
    return reply(swanlab().metric_reads.media(user(), json_body()))


@bp.post("/house/metrics/f_media")
def media_all_steps():
    return reply(swanlab().metric_reads.media_all(user(), json_body()))


@bp.post("/resources/presigned/get")
def media_presigned_get():
    return reply(swanlab().metric_reads.media_urls(user(), json_body(), base_url()))


@bp.get("/swan/media/<token>")
def signed_download(token):
    """A download URL handed out by `/resources/presigned/get` for the local artifact folder: no
    credentials, the token's signature is checked instead (presign.DirectUploads.open_signed)."""
    chunks, size, path = swanlab().uploads.open_signed(token)
    resp = file_response(chunks, size, path)
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


@bp.get("/experiment/<cuid>/column")
def experiment_columns(cuid):
    return reply(swanlab().metric_reads.columns(
        user(), cuid, int_arg("page", 1), int_arg("size", 20), request.args.get("search"),
        request.args.get("class"), request.args.get("type")))


@bp.get("/house/metrics/log")
def metric_logs():
    return reply(swanlab().metric_reads.logs(
        user(), request.args.get("projectId"), request.args.get("experimentId"), int_arg("size", 1000),
        int_arg("epoch", 0), request.args.get("level") or "INFO"))
