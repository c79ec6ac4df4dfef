# Swan tracking server. Data (SQLite database and artifacts) lives in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SWAN_HOME=/data \
    SWAN_HOST=0.0.0.0 \
    SWAN_PORT=5000

WORKDIR /src
COPY pyproject.toml README.md ./
COPY swan_server ./swan_server
COPY swan_client ./swan_client
COPY importers ./importers
RUN pip install --no-cache-dir '.[postgres,mysql]' \
    && useradd --system --uid 10001 --home /data swan \
    && mkdir -p /data && chown swan /data

USER swan
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health').status == 200 else 1)"
CMD ["swan", "server", "--host", "0.0.0.0"]
