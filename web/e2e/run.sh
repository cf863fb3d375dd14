#!/usr/bin/env bash
# `make e2e`: the web client against both real services in a real browser.
#
# Installs what it needs (Debian's chromium when missing and running as root; the web
# app's npm packages with `npm ci`, playwright-core among them and no browser download),
# checks that the generated wire types match docs/api/ (`npm run gen:check`, no network),
# runs the client's unit tests, builds the app and the services, then starts on free
# ports, with a fresh database, its own Redis key prefix, fresh keys and a file: mail
# transport: verification, chat and the static server of web/dist. Then runs
# e2e/chat.e2e.mjs (two browser contexts chatting, one dropping offline) and stops
# everything it started. Screenshots go to web/test-results/ (git-ignored).
#
# Environment: CHROMIUM (default /usr/bin/chromium), DATABASE_URL / REDIS_URL (the
# servers to use; made reachable like `make test` does), E2E_KEEP=1 keeps the temp dir.
set -euo pipefail

WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../../scripts/services.sh
source "$WEB/../scripts/services.sh"
cd "$ROOT"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/chatverify-e2e.XXXXXX")"
PIDS=()
DB_NAME=""
DB_ADMIN_URL=""
REDIS_KEY_PREFIX="e2e:$$:$RANDOM:"

cleanup() {
  local status=$?
  trap - INT TERM EXIT
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  if [ -n "$DB_NAME" ]; then
    psql "$DB_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_KEY_PREFIX}*" 2>/dev/null \
      | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  fi
  stop_started
  if [ "${E2E_KEEP:-}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_http() { # url, seconds, pid
  local url="$1" deadline=$((SECONDS + $2)) pid="$3"
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "the process behind $url exited; see $TMP/*.log"
    [ "$SECONDS" -lt "$deadline" ] || die "$url did not answer within $2 s"
    sleep 0.2
  done
}

# ---- tools -----------------------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
  if can_apt; then
    apt_install chromium
  else
    die "chromium is missing at $CHROMIUM: install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM"
  fi
fi
[ -x "$CHROMIUM" ] || die "no chromium at $CHROMIUM"
command -v npm >/dev/null || die "npm is needed (Node.js 20.19 or newer)"
command -v curl >/dev/null || { can_apt && apt_install curl; } || die "curl is needed"
command -v openssl >/dev/null || { can_apt && apt_install openssl; } || die "openssl is needed"

log "web: npm ci"
(cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
log "web: the generated wire types match docs/api/ (npm run gen:check)"
(cd "$WEB" && npm run --silent gen:check)
log "web: unit tests (vitest)"
(cd "$WEB" && npx vitest run)
log "web: build"
(cd "$WEB" && npm run --silent build)

log "building the services"
cargo build --locked --bin verification --bin chat

# ---- backing services, database, keys ---------------------------------------------------
ensure_redis
ensure_postgres
command -v psql >/dev/null || { can_apt && apt_install postgresql-client; } || die "psql is needed"
DB_NAME="chatverify_e2e_$$_$RANDOM"
DB_ADMIN_URL="${DATABASE_URL%/*}/postgres"
psql "$DB_ADMIN_URL" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
E2E_DATABASE_URL="${DATABASE_URL%/*}/$DB_NAME"

mkdir -p "$TMP/keys/private" "$TMP/mail"
chmod 700 "$TMP/keys/private"
# The public key's file stem is its kid.
openssl genpkey -algorithm ed25519 -out "$TMP/keys/private/e2e.pem" 2>/dev/null
openssl pkey -in "$TMP/keys/private/e2e.pem" -pubout -out "$TMP/keys/e2e.pem"

VERIFICATION_PORT="$(free_port)"
CHAT_PORT="$(free_port)"
WEB_PORT="$(free_port)"
while [ "$CHAT_PORT" = "$VERIFICATION_PORT" ]; do CHAT_PORT="$(free_port)"; done
while [ "$WEB_PORT" = "$VERIFICATION_PORT" ] || [ "$WEB_PORT" = "$CHAT_PORT" ]; do WEB_PORT="$(free_port)"; done
WEB_URL="http://127.0.0.1:$WEB_PORT"

export REDIS_URL REDIS_KEY_PREFIX
export DATABASE_URL="$E2E_DATABASE_URL"
export JWT_PUBLIC_KEYS="$TMP/keys/e2e.pem"
export ALLOWED_ORIGINS="$WEB_URL"
export RUST_LOG="${RUST_LOG:-info}"

log "starting verification on 127.0.0.1:$VERIFICATION_PORT, chat on 127.0.0.1:$CHAT_PORT (logs in $TMP)"
# Codes live 15 s here, so the browser test can watch one expire.
export CODE_TTL="${E2E_CODE_TTL:-15}"
JWT_PRIVATE_KEY="$TMP/keys/private/e2e.pem" MAIL_TRANSPORT="file:$TMP/mail" \
  LISTEN_ADDR="127.0.0.1:$VERIFICATION_PORT" target/debug/verification >"$TMP/verification.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$VERIFICATION_PORT/readyz" 60 "${PIDS[-1]}"
# A generous chat rate: the history test sends a page and a half of messages quickly.
# A message limit other than the contract's default: the app must take it from GET /v1/limits.
CHAT_RATE=200 CHAT_BURST=200 MAX_MESSAGE_CHARS=500 LISTEN_ADDR="127.0.0.1:$CHAT_PORT" target/debug/chat >"$TMP/chat.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$CHAT_PORT/readyz" 60 "${PIDS[-1]}"

VERIFICATION_URL="http://127.0.0.1:$VERIFICATION_PORT" CHAT_URL="http://127.0.0.1:$CHAT_PORT" \
  node "$WEB/serve.mjs" --port "$WEB_PORT" --dir "$WEB/dist" >"$TMP/web.log" 2>&1 &
PIDS+=($!)
wait_http "$WEB_URL/config.json" 20 "${PIDS[-1]}"

# ---- the browser test ---------------------------------------------------------------------
log "running the browser test against $WEB_URL"
set +e
WEB_URL="$WEB_URL" MAIL_DIR="$TMP/mail" CHROMIUM="$CHROMIUM" RESULTS_DIR="$WEB/test-results" \
  node "$WEB/e2e/chat.e2e.mjs"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  for f in verification chat web; do
    printf '\n----- last lines of %s.log -----\n' "$f" >&2
    tail -n 15 "$TMP/$f.log" >&2 || true
  done
fi
exit "$status"
