#!/usr/bin/env bash
# `make api-check`: Schemathesis against both running services, from the
# /openapi.json each serves.
#
# Installs Schemathesis into a virtualenv of its own (.run/schemathesis), builds
# both services, starts them on free ports with a fresh database, their own Redis
# key prefix, fresh keys and a file: mail transport; signs in for real (send, the
# code from the mailed .eml, confirm) to get a bearer token; then runs Schemathesis
# against each description with a bounded number of examples per operation and
# the checks below, and stops everything it started.
#
# The per-client limits stay on (their 429s, with Retry-After, are in the
# descriptions and are checked like any other answer) except the per-IP send
# limit, raised so that sends to new addresses keep reaching the code path.
# Logout ends the login whose token the run uses, so it runs last, on a login
# of its own.
#
# Environment: API_CHECK_MAX_EXAMPLES (default 100), API_CHECK_SEED (a number, for
# a reproducible run), DATABASE_URL / REDIS_URL (the servers to use; made
# reachable like `make test` does), API_CHECK_KEEP=1 keeps the temp dir (logs,
# mails, reports).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=services.sh
source "$ROOT/scripts/services.sh"
cd "$ROOT"

SCHEMATHESIS_VERSION="4.32.5"
VENV="$RUN_DIR/schemathesis"
MAX_EXAMPLES="${API_CHECK_MAX_EXAMPLES:-100}"
# Every answer conforms (status, content type, body, documented headers), none is a
# 5xx, a method a path lacks is 405 with the right Allow, and the bearer routes
# refuse a request without the token. Not run: positive_data_acceptance (a wrong
# code, a direct room of others, a socket request without the upgrade headers are
# valid requests the service rightly refuses) and negative_data_rejection (the
# service trims whitespace around emails and names that the schemas do not allow).
CHECKS="${API_CHECK_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance,ignored_auth}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/chatverify-api-check.XXXXXX")"
PIDS=()
DB_NAME=""
DB_ADMIN_URL=""
REDIS_KEY_PREFIX="api-check:$$:$RANDOM:"

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
  if [ "${API_CHECK_KEEP:-}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, seconds, pid
  local url="$1" deadline=$((SECONDS + $2)) pid="$3"
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "the process behind $url exited; see $TMP/*.log"
    [ "$SECONDS" -lt "$deadline" ] || die "$url did not answer within $2 s"
    sleep 0.2
  done
}

# A value out of a JSON document on stdin: json_field access_token
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Signs in as $1 for real: send, the code from the newest mailed .eml, confirm.
sign_in() {
  local email="$1" code="" deadline=$((SECONDS + 15))
  curl -fsS -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"email\": \"$email\"}" "$VERIFICATION_URL/v1/verification/send"
  while [ -z "$code" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "no code was mailed to $email; see $TMP/verification.log"
    sleep 0.2
    code="$(grep -l -i "^To: .*$email" "$TMP/mail"/*.eml 2>/dev/null | xargs -r ls -t | head -n 1 \
      | xargs -r sed -n 's/^Subject: \([0-9]\{6\}\) is your verification code.*/\1/p' | head -n 1 || true)"
  done
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"email\": \"$email\", \"code\": \"$code\"}" "$VERIFICATION_URL/v1/verification/confirm" \
    | json_field access_token
}

# schemathesis against one description; the rest of the arguments go to `st run`.
check() {
  local name="$1" url="$2"; shift 2
  log "schemathesis: $name"
  local seed=()
  [ -n "${API_CHECK_SEED:-}" ] && seed=(--seed "$API_CHECK_SEED")
  # From the temp dir: Schemathesis keeps its example database in ./.schemathesis.
  (cd "$TMP" && "$VENV/bin/st" run "$url/openapi.json" \
    --checks "$CHECKS" \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --workers 2 \
    --request-timeout 10 \
    --suppress-health-check too_slow,filter_too_much \
    --report junit,har --report-dir "$TMP/reports/$name" \
    "${seed[@]}" "$@")
  local status=$?
  statuses "$TMP/reports/$name"
  return "$status"
}

# What the run's requests were answered with, per operation: shows that the
# authenticated routes were reached and which errors were seen.
statuses() {
  python3 - "$1" <<'PY' || true
import collections, glob, json, re, sys
counts = collections.defaultdict(collections.Counter)
for har in glob.glob(sys.argv[1] + "/*.har") + glob.glob(sys.argv[1] + "/*har*.json"):
    for entry in json.load(open(har))["log"]["entries"]:
        path = re.sub(r"^https?://[^/]+", "", entry["request"]["url"]).split("?")[0]
        path = re.sub(r"^/v1/rooms/[^/]+/", "/v1/rooms/{room}/", path)
        path = re.sub(r"^/ws/chat/[^/]+/$", "/ws/chat/{room}/", path)
        counts[entry["request"]["method"] + " " + path][entry["response"]["status"]] += 1
for op in sorted(counts):
    print("   %-40s %s" % (op, "  ".join("%s×%d" % kv for kv in sorted(counts[op].items()))))
PY
}

# ---- tools -----------------------------------------------------------------------------
command -v python3 >/dev/null || { can_apt && apt_install python3; } || die "python3 is needed"
python3 -c 'import venv, ensurepip' 2>/dev/null || { can_apt && apt_install python3-venv; } \
  || die "python3's venv module is needed (Debian/Ubuntu: apt-get install python3-venv)"
command -v curl >/dev/null || { can_apt && apt_install curl; } || die "curl is needed"
command -v openssl >/dev/null || { can_apt && apt_install openssl; } || die "openssl is needed"
if [ "$("$VENV/bin/st" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1)" != "$SCHEMATHESIS_VERSION" ]; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into .run/schemathesis"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

log "building the services"
cargo build --locked --bin verification --bin chat

# ---- backing services, database, keys ---------------------------------------------------
ensure_redis
ensure_postgres
command -v psql >/dev/null || { can_apt && apt_install postgresql-client; } || die "psql is needed"
DB_NAME="chatverify_api_check_$$_$RANDOM"
DB_ADMIN_URL="${DATABASE_URL%/*}/postgres"
psql "$DB_ADMIN_URL" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null

mkdir -p "$TMP/keys/private" "$TMP/mail"
chmod 700 "$TMP/keys/private"
# The public key's file stem is its kid.
openssl genpkey -algorithm ed25519 -out "$TMP/keys/private/api-check.pem" 2>/dev/null
openssl pkey -in "$TMP/keys/private/api-check.pem" -pubout -out "$TMP/keys/api-check.pem"

VERIFICATION_PORT="$(free_port)"
CHAT_PORT="$(free_port)"
while [ "$CHAT_PORT" = "$VERIFICATION_PORT" ]; do CHAT_PORT="$(free_port)"; done
VERIFICATION_URL="http://127.0.0.1:$VERIFICATION_PORT"
CHAT_URL="http://127.0.0.1:$CHAT_PORT"

export REDIS_URL REDIS_KEY_PREFIX
export DATABASE_URL="${DATABASE_URL%/*}/$DB_NAME"
export JWT_PUBLIC_KEYS="$TMP/keys/api-check.pem"
export RUST_LOG="${RUST_LOG:-warn}"

log "starting verification on 127.0.0.1:$VERIFICATION_PORT, chat on 127.0.0.1:$CHAT_PORT (logs in $TMP)"
JWT_PRIVATE_KEY="$TMP/keys/private/api-check.pem" MAIL_TRANSPORT="file:$TMP/mail" \
  SEND_LIMIT_PER_IP=100000 LISTEN_ADDR="127.0.0.1:$VERIFICATION_PORT" \
  target/debug/verification >"$TMP/verification.log" 2>&1 &
PIDS+=($!)
wait_http "$VERIFICATION_URL/readyz" 60 "${PIDS[-1]}"
LISTEN_ADDR="127.0.0.1:$CHAT_PORT" target/debug/chat >"$TMP/chat.log" 2>&1 &
PIDS+=($!)
wait_http "$CHAT_URL/readyz" 60 "${PIDS[-1]}"

TOKEN="$(sign_in "schemathesis@example.com")"
LOGOUT_TOKEN="$(sign_in "schemathesis-logout@example.com")"

# ---- the checks ---------------------------------------------------------------------------
failed=()
check verification "$VERIFICATION_URL" -H "Authorization: Bearer $TOKEN" \
  --exclude-path /v1/logout || failed+=(verification)
check chat "$CHAT_URL" -H "Authorization: Bearer $TOKEN" || failed+=(chat)
check verification-logout "$VERIFICATION_URL" -H "Authorization: Bearer $LOGOUT_TOKEN" \
  --include-path /v1/logout || failed+=(verification-logout)

if [ "${#failed[@]}" -gt 0 ]; then
  for f in verification chat; do
    printf '\n----- last lines of %s.log -----\n' "$f" >&2
    tail -n 15 "$TMP/$f.log" >&2 || true
  done
  die "schemathesis found failures in: ${failed[*]}"
fi
log "schemathesis: both descriptions hold"
