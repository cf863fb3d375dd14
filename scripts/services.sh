#!/usr/bin/env bash
# Makes Redis and PostgreSQL reachable for development, tests and CI:
#   1. use what answers at REDIS_URL / DATABASE_URL (defaults: 127.0.0.1:6379 / :5432);
#   2. else start a project-local instance from installed binaries (data under .run/);
#   3. else install the packages with apt-get (root on Debian/Ubuntu);
#   4. else say exactly what to install.
# Sourced by scripts/run.sh; run directly it just ensures both are up.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$ROOT/.run"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/chatverify}"
# Started by this script (and so stopped by scripts/run.sh on exit).
STARTED_REDIS=""
STARTED_POSTGRES=""

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# host and port out of a URL like scheme://user:pass@host:port/db
url_host() { local r="${1#*://}"; r="${r##*@}"; r="${r%%/*}"; r="${r%%\?*}"; echo "${r%%:*}"; }
url_port() { local r="${1#*://}"; r="${r##*@}"; r="${r%%/*}"; r="${r%%\?*}"; [[ "$r" == *:* ]] && echo "${r##*:}" || echo "$2"; }
url_db() { local r="${1#*://}"; r="${r#*/}"; echo "${r%%\?*}"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 100); do port_open "$1" "$2" && return 0; sleep 0.1; done
  return 1
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  log "installing $* with apt-get"
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  local host port
  case "$REDIS_URL" in
    redis+cluster://*|rediss+cluster://*)
      # A cluster is the operator's (or scripts/redis-cluster.sh's): only checked.
      local first="${REDIS_URL#*://}"; first="${first##*@}"; first="${first%%,*}"
      port_open "${first%%:*}" "${first##*:}" || die "the Redis Cluster seed $first is not reachable"
      log "Redis Cluster seed $first is reachable"; return ;;
  esac
  host="$(url_host "$REDIS_URL")"; port="$(url_port "$REDIS_URL" 6379)"
  if port_open "$host" "$port"; then log "Redis is reachable at $host:$port"; return; fi
  case "$host" in 127.0.0.1|localhost) ;; *) die "Redis at $REDIS_URL is not reachable (and is not local, so not started here)";; esac
  if ! command -v redis-server >/dev/null; then
    can_apt || die "Redis is not reachable at $host:$port and redis-server is not installed: install it (Debian/Ubuntu: sudo apt-get install redis-server) or set REDIS_URL"
    apt_install redis-server
  fi
  mkdir -p "$RUN_DIR/redis"
  log "starting a local Redis on 127.0.0.1:$port (data in .run/redis)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$RUN_DIR/redis" --pidfile "$RUN_DIR/redis/redis.pid" --logfile "$RUN_DIR/redis/redis.log" >/dev/null
  wait_port 127.0.0.1 "$port" || die "Redis did not start; see .run/redis/redis.log"
  STARTED_REDIS="$RUN_DIR/redis/redis.pid"
}

pg_bin() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then echo "$found"; return; fi
  command -v initdb >/dev/null && dirname "$(command -v initdb)"
}

# initdb and the server refuse to run as root: use the postgres system user then.
as_pg_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown -R postgres: "$RUN_DIR/postgres"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_postgres() {
  local host port bin data
  host="$(url_host "$DATABASE_URL")"; port="$(url_port "$DATABASE_URL" 5432)"
  if port_open "$host" "$port"; then log "PostgreSQL is reachable at $host:$port"; return; fi
  case "$host" in 127.0.0.1|localhost) ;; *) die "PostgreSQL at $DATABASE_URL is not reachable (and is not local, so not started here)";; esac
  bin="$(pg_bin || true)"
  if [ -z "$bin" ]; then
    can_apt || die "PostgreSQL is not reachable at $host:$port and is not installed: install it (Debian/Ubuntu: sudo apt-get install postgresql) or set DATABASE_URL"
    apt_install postgresql
    bin="$(pg_bin)"
  fi
  data="$RUN_DIR/postgres/data"
  mkdir -p "$RUN_DIR/postgres"
  chmod 755 "$RUN_DIR" "$RUN_DIR/postgres"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initializing a local PostgreSQL cluster in .run/postgres"
    as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  log "starting the local PostgreSQL on 127.0.0.1:$port"
  as_pg_user "$bin/pg_ctl" -D "$data" -l "$RUN_DIR/postgres/postgres.log" -w \
    -o "-p $port -k $RUN_DIR/postgres -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "PostgreSQL did not start; see .run/postgres/postgres.log"
  STARTED_POSTGRES="$bin/pg_ctl -D $data"
}

# Creates the database named in DATABASE_URL when it does not exist yet.
ensure_database() {
  local db admin
  db="$(url_db "$DATABASE_URL")"
  admin="${DATABASE_URL%/*}/postgres"
  command -v psql >/dev/null || { can_apt && apt_install postgresql-client; } \
    || die "psql is needed to create the database: install postgresql-client"
  if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    log "creating database $db"
    psql "$admin" -qc "CREATE DATABASE \"$db\"" >/dev/null
  fi
}

stop_started() {
  if [ -n "$STARTED_REDIS" ] && [ -f "$STARTED_REDIS" ]; then
    log "stopping the local Redis"; kill "$(cat "$STARTED_REDIS")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_POSTGRES" ]; then
    log "stopping the local PostgreSQL"; as_pg_user $STARTED_POSTGRES -m fast stop >/dev/null 2>&1 || true
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_redis
  ensure_postgres
  ensure_database
fi
