#!/usr/bin/env bash
# The one test command of this repository:
#
#   scripts/test.sh [extra cargo test args...]
#
# Installs (if missing) and starts loopback stand-ins for S3 (moto, s3s-fs),
# Azure Blob (Azurite) and GCS (fake-gcs-server), points the test suite at
# them through SE2_TEST_* variables, runs `cargo test --release --locked`,
# checks docker-compose.yml, and stops the servers on any exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

log() { printf '[%s] test: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "installing test servers (scripts/servers.sh install)"
scripts/servers.sh install

if ! command -v docker-compose >/dev/null 2>&1; then
    log "docker-compose missing; installing the Debian package"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; } \
        >/tmp/se2-apt-docker-compose.log 2>&1; then
        tail -n 30 /tmp/se2-apt-docker-compose.log >&2
        log "ERROR: could not install docker-compose with apt-get (log above)"
        exit 1
    fi
fi
log "checking docker-compose.yml (docker-compose config -q)"
docker-compose -f "$REPO/docker-compose.yml" config -q

STATE=$(mktemp -d "${TMPDIR:-/tmp}/se2-test.XXXXXX")
CARGO_PID=
# shellcheck disable=SC2329  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $CARGO_PID ]] && kill -0 "$CARGO_PID" 2>/dev/null; then
        log "stopping cargo test"
        kill -TERM -- "-$CARGO_PID" 2>/dev/null || kill -TERM "$CARGO_PID" 2>/dev/null || true
    fi
    log "stopping test servers"
    "$REPO/scripts/servers.sh" stop "$STATE" || true
    if [[ $rc == 0 || -z ${SE2_KEEP_STATE:-} ]]; then
        rm -rf "$STATE"
    else
        log "server logs kept in $STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting test servers in $STATE"
scripts/servers.sh start "$STATE"
# shellcheck disable=SC1091
source "$STATE/env"
export SE2_TEST_REQUIRE_SERVERS=1
log "servers: $SE2_TEST_SERVERS"

log "running: cargo test --release --locked $*"
# cargo runs in its own process group, in the background, so that a signal to
# this script stops it (and its test binaries) and the servers at once.
status=0
setsid cargo test --release --locked "$@" &
CARGO_PID=$!
wait "$CARGO_PID" || status=$?
CARGO_PID=
log "cargo test finished with exit status $status"
exit "$status"
