#!/usr/bin/env bash
# `make run`: Redis and PostgreSQL (reused, started or installed), development keys,
# then both services in the foreground with mail printed to the log. Ctrl-C stops
# the services and whatever this script started.
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$ROOT"

KEYS_DIR="$RUN_DIR/keys"
PIDS=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  stop_started
}
trap cleanup INT TERM EXIT

ensure_keys() {
  # The public key's file stem is its kid: "dev".
  if [ -f "$KEYS_DIR/private/dev.pem" ] && [ -f "$KEYS_DIR/dev.pem" ]; then return; fi
  command -v openssl >/dev/null || { can_apt && apt_install openssl; } \
    || die "openssl is needed to generate development keys"
  log "generating development Ed25519 keys in .run/keys"
  mkdir -p "$KEYS_DIR/private"
  chmod 700 "$KEYS_DIR/private"
  openssl genpkey -algorithm ed25519 -out "$KEYS_DIR/private/dev.pem" 2>/dev/null
  openssl pkey -in "$KEYS_DIR/private/dev.pem" -pubout -out "$KEYS_DIR/dev.pem"
  openssl rand -hex 32 > "$KEYS_DIR/private/code_hash_key"
}

# The web app (web/): built with npm when its sources changed, served from web/dist by
# web/serve.mjs. Optional: without npm the services still run.
WEB_PORT="${WEB_PORT:-5173}"
WEB_READY=""

web_hash() { # of the listed paths under web/
  (cd "$ROOT/web" && find "$@" -type f -not -path '*/node_modules/*' -print0 2>/dev/null \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

prepare_web() {
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    log "npm not found: the web app is not served. Install Node.js 20.19+ with npm and run make run again,"
    log "  or build and serve it by hand: cd web && npm ci && npm run build && node serve.mjs"
    return 0
  fi
  local deps src
  deps="$(web_hash package.json package-lock.json)"
  if [ ! -d web/node_modules ] || [ "$(cat "$RUN_DIR/web-deps.stamp" 2>/dev/null)" != "$deps" ]; then
    log "web: npm ci"
    (cd web && npm ci --no-audit --no-fund --loglevel=error) || { log "web: npm ci failed; the web app is not served"; return 0; }
    echo "$deps" > "$RUN_DIR/web-deps.stamp"
  fi
  src="$(web_hash src public index.html package.json package-lock.json tsconfig.json vite.config.ts)"
  if [ ! -f web/dist/index.html ] || [ "$(cat "$RUN_DIR/web-build.stamp" 2>/dev/null)" != "$src" ]; then
    log "web: building"
    (cd web && npm run --silent build) || { log "web: the build failed; the web app is not served"; return 0; }
    echo "$src" > "$RUN_DIR/web-build.stamp"
  fi
  WEB_READY=1
}

# A browser-reachable URL for a listen address (0.0.0.0 and [::] mean this machine).
http_url() { local a="$1"; a="${a/0.0.0.0/127.0.0.1}"; a="${a/\[::\]/127.0.0.1}"; echo "http://$a"; }

ensure_redis
ensure_postgres
ensure_database
ensure_keys
mkdir -p "$RUN_DIR"
prepare_web

log "building the services"
cargo build --bin verification --bin chat

export REDIS_URL DATABASE_URL
export JWT_PUBLIC_KEYS="$KEYS_DIR/dev.pem"
export RUST_LOG="${RUST_LOG:-info}"
# Unless set (in the environment or .env), allow the web app's origins.
if [ -z "${ALLOWED_ORIGINS+set}" ] && ! grep -qs '^[[:space:]]*\(export[[:space:]]\+\)\?ALLOWED_ORIGINS=' .env; then
  ALLOWED_ORIGINS="http://127.0.0.1:$WEB_PORT,http://localhost:$WEB_PORT"
fi
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-}"

JWT_PRIVATE_KEY="$KEYS_DIR/private/dev.pem" CODE_HASH_KEY="$KEYS_DIR/private/code_hash_key" \
  MAIL_TRANSPORT="${MAIL_TRANSPORT:-log}" LISTEN_ADDR="${VERIFICATION_ADDR:-127.0.0.1:8081}" \
  target/debug/verification &
PIDS+=($!)
# Let the first service apply migrations before the second one starts.
VERIFICATION_PORT="${VERIFICATION_ADDR:-127.0.0.1:8081}"; wait_port 127.0.0.1 "${VERIFICATION_PORT##*:}" || true
LISTEN_ADDR="${CHAT_ADDR:-127.0.0.1:8082}" target/debug/chat &
PIDS+=($!)

if [ -n "$WEB_READY" ] && port_open 127.0.0.1 "$WEB_PORT"; then
  log "port $WEB_PORT is taken: the web app is not served (set WEB_PORT to use another port)"
  WEB_READY=""
elif [ -n "$WEB_READY" ]; then
  VERIFICATION_URL="$(http_url "${VERIFICATION_ADDR:-127.0.0.1:8081}")" CHAT_URL="$(http_url "${CHAT_ADDR:-127.0.0.1:8082}")" \
    node web/serve.mjs --host 127.0.0.1 --port "$WEB_PORT" &
  PIDS+=($!)
fi

log "verification on http://${VERIFICATION_ADDR:-127.0.0.1:8081}, chat on ws://${CHAT_ADDR:-127.0.0.1:8082}/ws/chat/ (Ctrl-C stops)"
if [ -n "$WEB_READY" ]; then
  log "web app on http://127.0.0.1:$WEB_PORT/ (sign in with any address: the code is printed here)"
fi
# Exit when either service exits (or on Ctrl-C, through the trap).
wait -n "${PIDS[@]}"
