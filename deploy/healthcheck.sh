#!/bin/bash
# healthcheck [PATH] - exit 0 when GET http://127.0.0.1:<port>PATH answers 200.
#
# Baked into the runtime image as /usr/local/bin/healthcheck so that container
# engines (compose) can probe the services without curl in the image: it only
# needs bash's /dev/tcp. The port is taken from LISTEN_ADDR (set in the image)
# unless HEALTHCHECK_PORT is given. PATH defaults to /readyz.
set -euo pipefail

path="${1:-/readyz}"
port="${HEALTHCHECK_PORT:-${LISTEN_ADDR:?LISTEN_ADDR or HEALTHCHECK_PORT must be set}}"
port="${port##*:}"

exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3
# Read the rest (the server closes after it: Connection: close) rather than reset.
while IFS= read -r -t 2 _ <&3; do :; done
exec 3<&-
[[ "$status" =~ ^HTTP/1\.[01]\ 200 ]]
