#!/usr/bin/env bash
# The local stack used by tests, benchmarks and the README's "cloud" demo, all on
# 127.0.0.1, all state under $EDGEFLAG_STACK_DIR (default: <repo>/target/stack).
#
#   infra/local/stack.sh start  [garage|nginx|moto|all]   start (idempotent) and wait until ready
#   infra/local/stack.sh stop   [garage|nginx|moto|all]   stop by pid file
#   infra/local/stack.sh status [garage|nginx|moto|all]   what runs, where; exit 1 if something is down
#   infra/local/stack.sh env                              shell exports: eval "$(infra/local/stack.sh env)"
#   infra/local/stack.sh check                            end-to-end smoke test (S3 PUT, web/CDN GET, ETag, 304)
#   infra/local/stack.sh reset                            stop all and delete the state directory
#
# Components:
#   garage  Garage single node: S3 API, anonymous web endpoint, bucket `edgeflag`, one key
#   nginx   caching reverse proxy in front of Garage's web endpoint (the CDN stand-in)
#   moto    moto_server, an AWS S3 mock that enforces conditional PUT (412)
#
# Ports (override with the env vars): see `defaults` below and infra/README.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# ---------------------------------------------------------------- defaults ----
STACK_DIR="${EDGEFLAG_STACK_DIR:-$REPO_ROOT/target/stack}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd)"

GARAGE_S3_PORT="${EDGEFLAG_GARAGE_S3_PORT:-39000}"
GARAGE_RPC_PORT="${EDGEFLAG_GARAGE_RPC_PORT:-39001}"
GARAGE_WEB_PORT="${EDGEFLAG_GARAGE_WEB_PORT:-39002}"
GARAGE_ADMIN_PORT="${EDGEFLAG_GARAGE_ADMIN_PORT:-39003}"
CDN_PORT="${EDGEFLAG_CDN_PORT:-39080}"
MOTO_PORT="${EDGEFLAG_MOTO_PORT:-39050}"
# 0 (default): current.efr is revalidated at the origin on every request, as its
# `max-age=0, must-revalidate` asks. N > 0: nginx keeps it N seconds, then
# revalidates by ETag (a micro-cache; clients may see a new version N s late).
CDN_CURRENT_TTL="${EDGEFLAG_CDN_CURRENT_TTL:-0}"
CDN_WORKERS="${EDGEFLAG_CDN_WORKERS:-auto}"
READY_TIMEOUT="${EDGEFLAG_STACK_TIMEOUT:-60}"

BUCKET=edgeflag
KEY_NAME=edgeflag-local
REGION=us-east-1
HOST=127.0.0.1

GARAGE_DIR="$STACK_DIR/garage"
NGINX_DIR="$STACK_DIR/nginx"
MOTO_DIR="$STACK_DIR/moto"

# ---------------------------------------------------------------- helpers -----
say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

find_bin() { # name, extra candidates...
  local name=$1 c
  shift
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  for c in "$@"; do [ -x "$c" ] && { echo "$c"; return 0; }; done
  return 1
}
garage_bin() {
  [ -n "${GARAGE_BIN:-}" ] && { echo "$GARAGE_BIN"; return 0; }
  find_bin garage "$HOME/.cargo/bin/garage" \
    || die "garage not found (install: cargo install garage --locked; or set GARAGE_BIN)"
}
nginx_bin() {
  [ -n "${NGINX_BIN:-}" ] && { echo "$NGINX_BIN"; return 0; }
  find_bin nginx /usr/sbin/nginx /usr/local/sbin/nginx \
    || die "nginx not found (install: apt-get install -y nginx; or set NGINX_BIN)"
}
moto_bin() {
  [ -n "${MOTO_BIN:-}" ] && { echo "$MOTO_BIN"; return 0; }
  find_bin moto_server || die "moto_server not found (install: pip install 'moto[server]'; or set MOTO_BIN)"
}

pid_alive() { # pidfile
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

wait_until() { # description, logfile, pidfile, command...
  local what=$1 log=$2 pidfile=$3 deadline=$((SECONDS + READY_TIMEOUT))
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pidfile"; then
      say "$what exited during start-up; last lines of $log:"
      tail -n 30 "$log" >&2 || true
      die "$what failed to start"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$what not ready after ${READY_TIMEOUT}s; last lines of $log:"
      tail -n 30 "$log" >&2 || true
      die "$what did not become ready (timeout ${READY_TIMEOUT}s, EDGEFLAG_STACK_TIMEOUT to change)"
    fi
    sleep 0.2
  done
}

ensure_port_free() { # port, what
  if port_open "$1"; then
    die "port $1 (for $2) is already taken by another process; set the matching EDGEFLAG_*_PORT"
  fi
}

spawn() { # pidfile, logfile, command... — background, detached from this shell's job control
  local pidfile=$1 log=$2
  shift 2
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" >>"$log" 2>&1 </dev/null 9>&- &
  else
    nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
  fi
  echo $! >"$pidfile"
}

stop_pidfile() { # what, pidfile, signal, grace seconds
  local what=$1 pidfile=$2 sig=${3:-TERM} grace=${4:-10} pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    say "$what: not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 $((grace * 5))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$what (pid $pid) still running after ${grace}s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "$what: stopped (pid $pid)"
}

rand_hex() { # bytes
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# ---------------------------------------------------------------- garage ------
GARAGE_CONF="$GARAGE_DIR/garage.toml"
GARAGE_PID="$GARAGE_DIR/garage.pid"
GARAGE_LOG="$GARAGE_DIR/garage.log"
GARAGE_SECRETS="$GARAGE_DIR/secrets.env"

garage_secrets() {
  # Generated once per state directory and kept with the data they protect.
  if [ ! -s "$GARAGE_SECRETS" ]; then
    umask 077
    {
      echo "GARAGE_RPC_SECRET=$(rand_hex 32)"
      echo "GARAGE_ADMIN_TOKEN=$(rand_hex 32)"
      echo "GARAGE_KEY_ID=GK$(rand_hex 12)"
      echo "GARAGE_SECRET_KEY=$(rand_hex 32)"
    } >"$GARAGE_SECRETS"
  fi
  # shellcheck disable=SC1090
  . "$GARAGE_SECRETS"
}

garage_config() {
  garage_secrets
  mkdir -p "$GARAGE_DIR/meta" "$GARAGE_DIR/data"
  umask 077
  cat >"$GARAGE_CONF" <<EOF
# generated by infra/local/stack.sh — edits are overwritten on every start
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
metadata_fsync = false
data_fsync = false
replication_factor = 1

rpc_bind_addr = "$HOST:$GARAGE_RPC_PORT"
rpc_public_addr = "$HOST:$GARAGE_RPC_PORT"
rpc_secret = "$GARAGE_RPC_SECRET"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "$HOST:$GARAGE_S3_PORT"

[s3_web]
bind_addr = "$HOST:$GARAGE_WEB_PORT"
# The web endpoint picks the bucket from the Host header (port stripped): the host
# minus root_domain, else the whole host, looked up among global bucket aliases.
# Aliases cannot look like IP addresses, so "127.0.0.1" minus ".0.0.1" = "127" is an
# alias of the bucket: http://127.0.0.1:$GARAGE_WEB_PORT/<key> reads it without DNS.
# Aliases "localhost" and "$BUCKET" make Host: localhost / Host: $BUCKET work too.
root_domain = ".0.0.1"

[admin]
api_bind_addr = "$HOST:$GARAGE_ADMIN_PORT"
admin_token = "$GARAGE_ADMIN_TOKEN"
metrics_token = "$GARAGE_ADMIN_TOKEN"
EOF
}

garage_cli() { "$(garage_bin)" -c "$GARAGE_CONF" "$@"; }

garage_setup() {
  local node_id layout_version
  node_id="$(garage_cli node id -q 2>/dev/null | cut -d@ -f1)"
  [ -n "$node_id" ] || die "garage: cannot read the node id (see $GARAGE_LOG)"

  # layout: one node, zone dc1, applied once
  local layout
  layout="$(garage_cli layout show 2>&1)" || die "garage: layout show failed: $layout"
  if ! grep -q "${node_id:0:16}" <<<"$layout"; then
    say "garage: assigning layout to node ${node_id:0:16}"
    garage_cli layout assign -z dc1 -c 1G "$node_id" >/dev/null
    layout_version="$(garage_cli layout show 2>/dev/null \
      | sed -n 's/.*[Cc]urrent cluster layout version: *\([0-9]*\).*/\1/p' | head -n1)"
    garage_cli layout apply --version "$(( ${layout_version:-0} + 1 ))" >/dev/null
  fi
  wait_until "garage (cluster health)" "$GARAGE_LOG" "$GARAGE_PID" garage_cli health -q

  # bucket, key, permissions, website access, aliases
  if ! garage_cli bucket info "$BUCKET" >/dev/null 2>&1; then
    garage_cli bucket create "$BUCKET" >/dev/null
    say "garage: created bucket $BUCKET"
  fi
  if ! garage_cli key info "$GARAGE_KEY_ID" >/dev/null 2>&1; then
    garage_cli key import --yes -n "$KEY_NAME" "$GARAGE_KEY_ID" "$GARAGE_SECRET_KEY" >/dev/null
    say "garage: imported key $GARAGE_KEY_ID ($KEY_NAME)"
  fi
  garage_cli bucket allow --read --write --owner "$BUCKET" --key "$GARAGE_KEY_ID" >/dev/null
  garage_cli bucket website --allow "$BUCKET" >/dev/null
  local alias
  for alias in 127 localhost; do
    if ! garage_cli bucket info "$alias" >/dev/null 2>&1; then
      garage_cli bucket alias "$BUCKET" "$alias" >/dev/null
    fi
  done
}

garage_ready() { port_open "$GARAGE_S3_PORT" && port_open "$GARAGE_WEB_PORT" && garage_cli health -q; }

start_garage() {
  mkdir -p "$GARAGE_DIR"
  if pid_alive "$GARAGE_PID"; then
    garage_secrets
    say "garage: already running (pid $(cat "$GARAGE_PID"))"
  else
    garage_bin >/dev/null
    local p
    for p in "$GARAGE_S3_PORT" "$GARAGE_RPC_PORT" "$GARAGE_WEB_PORT" "$GARAGE_ADMIN_PORT"; do
      ensure_port_free "$p" garage
    done
    garage_config
    say "garage: starting (s3 :$GARAGE_S3_PORT, web :$GARAGE_WEB_PORT, rpc :$GARAGE_RPC_PORT, admin :$GARAGE_ADMIN_PORT)"
    RUST_LOG="${GARAGE_LOG_LEVEL:-garage=warn,garage_api_common=warn,garage_web=warn}" \
      spawn "$GARAGE_PID" "$GARAGE_LOG" "$(garage_bin)" -c "$GARAGE_CONF" server
    wait_until "garage (rpc)" "$GARAGE_LOG" "$GARAGE_PID" garage_cli status
  fi
  garage_setup
  wait_until "garage" "$GARAGE_LOG" "$GARAGE_PID" garage_ready
  say "garage: ready"
}

# Garage's graceful shutdown waits for open keep-alive connections (nginx holds some);
# its sqlite metadata is crash-safe, so it gets 3 s before KILL.
stop_garage() { stop_pidfile garage "$GARAGE_PID" TERM 3; }

# ---------------------------------------------------------------- nginx -------
NGINX_CONF="$NGINX_DIR/nginx.conf"
NGINX_PID="$NGINX_DIR/nginx.pid"
NGINX_LOG="$NGINX_DIR/error.log"

nginx_config() {
  mkdir -p "$NGINX_DIR/cache" "$NGINX_DIR/tmp"
  local user_line="" current_rules
  # As root, workers would run as `nobody` and could not write the cache under our
  # directory; run them as the invoking user instead.
  if [ "$(id -u)" = 0 ]; then user_line="user $(id -un) $(id -gn);"; fi
  if [ "$CDN_CURRENT_TTL" -gt 0 ] 2>/dev/null; then
    current_rules="
            # micro-cache (EDGEFLAG_CDN_CURRENT_TTL=$CDN_CURRENT_TTL): keep it ${CDN_CURRENT_TTL}s, then
            # revalidate with If-None-Match (proxy_cache_revalidate); while one request
            # revalidates, others get the cached copy (use_stale updating)
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_valid 200 ${CDN_CURRENT_TTL}s;
            proxy_pass http://garage_web;"
  else
    current_rules="
            include $NGINX_DIR/passthrough.conf;"
  fi
  cat >"$NGINX_DIR/passthrough.conf" <<EOF
# Objects the origin marks max-age=0 / no-cache. nginx never stores those (a zero
# max-age makes a response uncacheable), and on a cache-enabled location it strips
# the client's If-None-Match and answers uncacheable responses with 200 — so a poll
# would never get its 304. Here they bypass the cache and the conditional headers go
# to the origin, which answers 304 itself: revalidated by ETag on every request.
proxy_cache_bypass 1;
proxy_no_cache 1;
proxy_set_header Host $BUCKET;
proxy_set_header Connection "";
proxy_set_header If-None-Match \$http_if_none_match;
proxy_set_header If-Modified-Since \$http_if_modified_since;
proxy_pass http://garage_web;
EOF
  cat >"$NGINX_CONF" <<EOF
# generated by infra/local/stack.sh — edits are overwritten on every start
$user_line
daemon off;
worker_processes $CDN_WORKERS;
pid $NGINX_PID;
error_log $NGINX_LOG warn;

events { worker_connections 4096; }

http {
    default_type application/octet-stream;
    log_format cdn '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                   'cache=\$upstream_cache_status upstream=\$upstream_status rt=\$request_time';
    access_log $NGINX_DIR/access.log cdn buffer=64k flush=1s;
    server_tokens off;
    tcp_nodelay on;
    keepalive_requests 100000;

    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path       $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path     $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path       $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path        $NGINX_DIR/tmp/scgi;

    proxy_cache_path $NGINX_DIR/cache levels=1:2 keys_zone=edgeflag:10m max_size=1g
                     inactive=30d use_temp_path=off;

    upstream garage_web {
        server $HOST:$GARAGE_WEB_PORT;
        keepalive 64;
    }

    server {
        listen $HOST:$CDN_PORT;
        server_name _;

        # the web endpoint finds the bucket by Host (a global alias of it)
        proxy_set_header Host $BUCKET;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout 2s;
        proxy_read_timeout 10s;

        # cache: honour the origin's Cache-Control (immutable versions are kept a
        # year; nothing without a freshness lifetime, e.g. 404s, is stored)
        proxy_cache edgeflag;
        proxy_cache_revalidate on;
        proxy_cache_lock on;
        proxy_cache_lock_timeout 5s;
        proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;

        # CORS, as \`edgeflag serve\` and the CloudFront response headers policy
        proxy_hide_header Access-Control-Allow-Origin;
        proxy_hide_header Access-Control-Expose-Headers;
        add_header Access-Control-Allow-Origin "*" always;
        add_header Access-Control-Expose-Headers "ETag, Link, Retry-After" always;
        add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;
        add_header Access-Control-Allow-Headers "If-None-Match, If-Modified-Since" always;
        add_header Access-Control-Max-Age 86400 always;
        add_header X-Cache-Status \$upstream_cache_status always;
        if (\$request_method = OPTIONS) { return 204; }

        location ~ /current\.efr\$ {$current_rules
        }
        location ~ /(manifest\.json|audit/[^/]+\.json)\$ {
            include $NGINX_DIR/passthrough.conf;
        }
        location / {
            proxy_pass http://garage_web;
        }
    }
}
EOF
}

nginx_ready() { port_open "$CDN_PORT"; }

start_nginx() {
  mkdir -p "$NGINX_DIR"
  if pid_alive "$NGINX_PID"; then
    say "nginx: already running (pid $(cat "$NGINX_PID"))"
    return 0
  fi
  local bin
  bin="$(nginx_bin)"
  ensure_port_free "$CDN_PORT" nginx
  nginx_config
  "$bin" -t -q -p "$NGINX_DIR/" -e "$NGINX_LOG" -c "$NGINX_CONF" \
    || die "nginx: configuration test failed ($NGINX_CONF)"
  say "nginx: starting (:$CDN_PORT -> garage web :$GARAGE_WEB_PORT, current.efr ttl ${CDN_CURRENT_TTL}s)"
  spawn "$NGINX_PID.master" "$NGINX_DIR/stdout.log" "$bin" -p "$NGINX_DIR/" -e "$NGINX_LOG" -c "$NGINX_CONF"
  # nginx (re)writes $NGINX_PID itself, truncating it first: watch the spawned
  # master's pid instead until nginx answers, so that window is not a "crash".
  wait_until nginx "$NGINX_LOG" "$NGINX_PID.master" nginx_ready
  cp "$NGINX_PID.master" "$NGINX_PID" && rm -f "$NGINX_PID.master"
  if ! port_open "$GARAGE_WEB_PORT"; then
    say "nginx: warning: its origin (garage web :$GARAGE_WEB_PORT) is not up"
  fi
  say "nginx: ready"
}

stop_nginx() { stop_pidfile nginx "$NGINX_PID" QUIT; }

# ---------------------------------------------------------------- moto --------
MOTO_PID="$MOTO_DIR/moto.pid"
MOTO_LOG="$MOTO_DIR/moto.log"

moto_ready() { curl -fsS -o /dev/null "http://$HOST:$MOTO_PORT/moto-api/data.json"; }

start_moto() {
  mkdir -p "$MOTO_DIR"
  if pid_alive "$MOTO_PID"; then
    say "moto: already running (pid $(cat "$MOTO_PID"))"
    return 0
  fi
  local bin
  bin="$(moto_bin)"
  ensure_port_free "$MOTO_PORT" moto
  say "moto: starting (:$MOTO_PORT)"
  spawn "$MOTO_PID" "$MOTO_LOG" "$bin" -H "$HOST" -p "$MOTO_PORT"
  wait_until moto "$MOTO_LOG" "$MOTO_PID" moto_ready
  # moto keeps everything in memory: (re)create the bucket after each start
  curl -fsS -o /dev/null -X PUT "http://$HOST:$MOTO_PORT/$BUCKET" \
    || die "moto: cannot create bucket $BUCKET"
  say "moto: ready (bucket $BUCKET)"
}

stop_moto() { stop_pidfile moto "$MOTO_PID" TERM; }

# ---------------------------------------------------------------- commands ----
status_one() { # name pidfile ports...
  local name=$1 pidfile=$2 p state=up
  shift 2
  if pid_alive "$pidfile"; then
    for p in "$@"; do port_open "$p" || state="starting (port $p closed)"; done
    printf '%-7s %-8s pid %-7s ports %s\n' "$name" "$state" "$(cat "$pidfile")" "$*"
    [ "$state" = up ]
  else
    printf '%-7s %-8s %-11s ports %s\n' "$name" down "" "$*"
    return 1
  fi
}

cmd_status() {
  local rc=0 c
  echo "state dir: $STACK_DIR"
  for c in "$@"; do
    case $c in
      garage) status_one garage "$GARAGE_PID" "$GARAGE_S3_PORT" "$GARAGE_WEB_PORT" "$GARAGE_RPC_PORT" "$GARAGE_ADMIN_PORT" || rc=1 ;;
      nginx) status_one nginx "$NGINX_PID" "$CDN_PORT" || rc=1 ;;
      moto) status_one moto "$MOTO_PID" "$MOTO_PORT" || rc=1 ;;
    esac
  done
  return $rc
}

cmd_env() {
  [ -s "$GARAGE_SECRETS" ] || die "no Garage credentials in $GARAGE_DIR yet: run '$0 start' first"
  garage_secrets
  cat <<EOF
export EDGEFLAG_STACK_DIR='$STACK_DIR'
export EDGEFLAG_S3_ENDPOINT='http://$HOST:$GARAGE_S3_PORT'
export EDGEFLAG_S3_BUCKET='$BUCKET'
export AWS_ACCESS_KEY_ID='$GARAGE_KEY_ID'
export AWS_SECRET_ACCESS_KEY='$GARAGE_SECRET_KEY'
export AWS_REGION='$REGION'
export AWS_DEFAULT_REGION='$REGION'
export AWS_EC2_METADATA_DISABLED=true
export EDGEFLAG_GARAGE_WEB_URL='http://$HOST:$GARAGE_WEB_PORT'
export EDGEFLAG_CDN_URL='http://$HOST:$CDN_PORT'
export EDGEFLAG_MOTO_ENDPOINT='http://$HOST:$MOTO_PORT'
EOF
}

cmd_check() {
  garage_secrets
  local py
  py="$(find_bin python3)" || die "check needs python3 with boto3 (installed with moto[server])"
  EDGEFLAG_S3_ENDPOINT="http://$HOST:$GARAGE_S3_PORT" \
    EDGEFLAG_MOTO_ENDPOINT="http://$HOST:$MOTO_PORT" \
    EDGEFLAG_GARAGE_WEB_URL="http://$HOST:$GARAGE_WEB_PORT" \
    EDGEFLAG_CDN_URL="http://$HOST:$CDN_PORT" \
    EDGEFLAG_CDN_CURRENT_TTL="$CDN_CURRENT_TTL" \
    AWS_ACCESS_KEY_ID="$GARAGE_KEY_ID" AWS_SECRET_ACCESS_KEY="$GARAGE_SECRET_KEY" \
    AWS_REGION="$REGION" EDGEFLAG_S3_BUCKET="$BUCKET" \
    "$py" "$REPO_ROOT/infra/local/check.py"
}

components() { # expands "all" / empty into the list
  if [ $# -eq 0 ] || [ "$1" = all ]; then
    echo garage nginx moto
    return
  fi
  local c
  for c in "$@"; do
    case $c in
      garage | nginx | moto) echo "$c" ;;
      *) die "unknown component '$c' (garage|nginx|moto|all)" ;;
    esac
  done
}

with_lock() { # serialise concurrent start/stop on one state directory
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$STACK_DIR/.lock"
    flock -w "$READY_TIMEOUT" 9 || die "another stack.sh holds $STACK_DIR/.lock"
  fi
}

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  local c list
  case $cmd in
    start)
      with_lock
      list="$(components "$@")"
      for c in $list; do "start_$c"; done
      ;;
    stop)
      with_lock
      list="$(components "$@")"
      # reverse order: nginx before its origin
      for c in $(echo "$list" | tr ' ' '\n' | tac); do "stop_$c"; done
      ;;
    restart)
      "$0" stop "$@"
      "$0" start "$@"
      ;;
    status) cmd_status $(components "$@") ;;
    env) cmd_env ;;
    check) cmd_check ;;
    reset)
      "$0" stop all
      rm -rf "$STACK_DIR"
      say "removed $STACK_DIR"
      ;;
    -h | --help | help) usage 0 ;;
    *) usage 2 ;;
  esac
}

main "$@"
