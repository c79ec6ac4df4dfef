#!/bin/sh
# Swan's container entrypoint. The image runs it as ENTRYPOINT; CI runs the same script on the
# host with the environment a container would get (there is no Docker engine there).
#
#   entrypoint.sh                 -> swan server (configured by SWAN_* variables)
#   entrypoint.sh server [opts]   -> swan server [opts]
#   entrypoint.sh gc --older-than 30d, export P DIR, import swan DIR, db upgrade, users ... -> swan ...
#   entrypoint.sh sh -c '...'     -> any other program
#
# Configuration is the environment: SWAN_HOME (/data in the image), SWAN_BACKEND_STORE_URI,
# SWAN_ARTIFACTS_DESTINATION, SWAN_HOST, SWAN_PORT, SWAN_WORKERS, SWAN_THREADS, SWAN_LOG_FORMAT,
# SWAN_ACCESS_LOG, and boto3's AWS_* (AWS_ENDPOINT_URL for MinIO and other S3-compatible stores).
# Any of SWAN_BACKEND_STORE_URI, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY may instead be given as
# a file (Docker secrets): NAME_FILE=/run/secrets/... .
# SWAN_WAIT_FOR_DB (seconds, default 30) waits for a database that starts with the container.
set -eu

# SWAN_BIN: the command that runs `swan` (split on spaces), e.g. "python -m swan_client.cli".
SWAN="${SWAN_BIN:-swan}"

for name in SWAN_BACKEND_STORE_URI AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  file_var="${name}_FILE"
  eval "file=\${$file_var:-}"
  if [ -n "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "swan-entrypoint: cannot read $file_var=$file" >&2
      exit 1
    fi
    eval "export $name=\"\$(cat \"\$file\")\""
    unset "$file_var"
  fi
done

export SWAN_HOME="${SWAN_HOME:-/data}"
export SWAN_HOST="${SWAN_HOST:-0.0.0.0}"
export SWAN_PORT="${SWAN_PORT:-5000}"

if ! mkdir -p "$SWAN_HOME" 2>/dev/null || [ ! -w "$SWAN_HOME" ]; then
  echo "swan-entrypoint: SWAN_HOME=$SWAN_HOME is not writable by user $(id -u) (mount a volume owned by it)" >&2
  exit 1
fi

if [ "$#" -eq 0 ]; then
  set -- server
fi

case "$1" in
  server)
    shift
    # A database started beside Swan (compose) may need a few seconds; `swan server` then
    # upgrades the schema itself and fails with one clear line if the database is still away.
    wait_for="${SWAN_WAIT_FOR_DB:-30}"
    if [ -n "${SWAN_BACKEND_STORE_URI:-}" ] && [ "$wait_for" -gt 0 ]; then
      deadline=$(( $(date +%s) + wait_for ))
      until $SWAN db upgrade >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
          break
        fi
        sleep 1
      done
    fi
    exec $SWAN server "$@"
    ;;
  gc|export|import|db|users|keys)
    exec $SWAN "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
