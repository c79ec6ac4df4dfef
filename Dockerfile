# Swan tracking server.
#
#   docker build -t swan .
#   docker run -p 5000:5000 -v swan-data:/data swan          # SQLite + artifacts in the /data volume
#   docker compose up                                         # Swan + PostgreSQL + MinIO (docker-compose.yml)
#
# Stage 1 builds the dashboard (ui/, Vite) when the tree has one; stage 2 builds Swan's wheel with
# the built UI beside it; stage 3 installs the wheel into a slim image that runs as a non-root user.
# Configuration is the environment (see docker/entrypoint.sh and the README's table).

FROM node:20-slim AS ui
WORKDIR /build
# `ui*` may match nothing yet; pyproject.toml keeps the COPY valid either way.
COPY pyproject.toml ui* ./ui/
RUN if [ -f ui/package.json ]; then \
        cd ui && npm ci --no-audit --no-fund && npm run build; \
    else \
        mkdir -p ui/dist; \
    fi

FROM python:3.11-slim AS wheel
WORKDIR /src
# setup.py's build hook ships ui/dist inside the package (swan_server/ui_dist); with no
# ui/package.json here it packages the dist built above and never needs npm.
COPY pyproject.toml setup.py README.md ./
COPY swan_server ./swan_server
COPY swan_client ./swan_client
COPY importers ./importers
COPY --from=ui /build/ui/dist ./ui/dist
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && mkdir -p /opt/swan-ui && cp -r ui/dist/. /opt/swan-ui/

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SWAN_HOME=/data \
    SWAN_HOST=0.0.0.0 \
    SWAN_PORT=5000 \
    SWAN_UI_DIR=/opt/swan-ui
# (SWAN_UI_DIR: the same dashboard, also outside the package, for the server's ui_dir())
COPY --from=wheel /wheels /wheels
COPY --from=wheel /opt/swan-ui /opt/swan-ui
RUN pip install --no-cache-dir "$(ls /wheels/*.whl)[postgres,mysql]" \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home swan \
    && mkdir -p /data && chown swan:swan /data
COPY docker/entrypoint.sh /usr/local/bin/swan-entrypoint
USER 10001:10001
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SWAN_PORT', '5000'), timeout=4).status == 200 else 1)"
ENTRYPOINT ["swan-entrypoint"]
CMD ["server"]
