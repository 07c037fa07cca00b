#!/usr/bin/env bash
# What this machine allows `compare-ingest`'s load, each part measured alone.
#
# `../shared/bench/compare-ingest` drives `serve` with `wrk -t2 -c64` on the same cores as
# PostgreSQL. This script measures, on a throwaway cluster with fsync and synchronous_commit on:
#
#   1. the HTTP ceiling: GET /healthz under the same wrk against the same `serve` (no body, no
#      signature, no JSON, no store: what answering a request costs before any of our work);
#   2. the durable ceiling: `capi-connector bench state` (no HTTP at all), 64 concurrent callers of
#      one event each, as wrk's 64 connections make, and batches of 500 from four writers.
#
# Given the peer's rate from a `compare-ingest` run (--peer), it says whether 10x the peer is under
# each ceiling. Each ceiling has the whole machine to itself; the harness needs both at once.
#
#   swift build -c release --product capi-connector
#   scripts/bench_ceilings.sh --peer 8081
#
# Needs root (the cluster runs as the postgres user), the PostgreSQL server and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=.build/release/capi-connector
peer=""
seconds=10
usage() {
  echo "usage: scripts/bench_ceilings.sh [--binary PATH] [--peer EVENTS_PER_SECOND] [--seconds N]" >&2
  exit 64
}
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --peer) peer=${2:?--peer needs events per second}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_ceilings: unknown argument $1" >&2; usage ;;
  esac
done
[[ -z $peer || $peer =~ ^[0-9]+$ ]] || { echo "bench_ceilings: --peer must be whole events per second, such as 8081" >&2; exit 64; }
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "bench_ceilings: --seconds must be a whole number above 0" >&2; exit 64; }
[ -x "$binary" ] || { echo "bench_ceilings: no binary at $binary (swift build -c release --product capi-connector)" >&2; exit 66; }
command -v wrk >/dev/null || { echo "bench_ceilings: wrk is not installed (apt-get install wrk)" >&2; exit 69; }
[ -x /usr/bin/time ] || { echo "bench_ceilings: /usr/bin/time is not installed (apt-get install time)" >&2; exit 69; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$PGBIN" ] || { echo "bench_ceilings: the PostgreSQL server is not installed (apt-get install postgresql)" >&2; exit 69; }
[ "$(id -u)" = 0 ] || { echo "bench_ceilings: run as root: the throwaway cluster runs as the postgres user" >&2; exit 77; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
work=$(mktemp -d /tmp/capi-ceilings.XXXXXX)
pgport=$(free_port)
graphport=$(free_port)
serveport=$(free_port)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/data"
chown -R postgres:postgres "$work"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w \
  -o "-p $pgport -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
state="postgres://postgres@127.0.0.1:$pgport/postgres"

ticks_per_second=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "ceilings: what this machine allows compare-ingest's load, each part alone (fsync on)"

# 1. The HTTP ceiling, against `serve` set up as the harness sets it up.
export META_PIXEL_ID=111122223333 META_ACCESS_TOKEN=bench-token CAPI_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
export CAPI_GRAPH_URL="http://127.0.0.1:$graphport"
"$binary" sandbox --listen "127.0.0.1:$graphport" >"$work/sandbox.log" 2>&1 &
pids+=($!)
"$binary" serve --manifest manifests/meta_conversions_api.yaml --state "$state" --listen "127.0.0.1:$serveport" >"$work/serve.log" 2>&1 &
serve=$!
pids+=("$serve")
for _ in $(seq 150); do curl -sf "127.0.0.1:$serveport/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "127.0.0.1:$serveport/readyz" >/dev/null || { echo "bench_ceilings: serve did not become ready; its log:" >&2; tail -20 "$work/serve.log" >&2; exit 70; }
best_http=0
for round in 1 2 3; do
  before=$(cpu_ticks "$serve")
  /usr/bin/time -f "%U %S" -o "$work/wrk.time" wrk -t2 -c64 -d"${seconds}s" "http://127.0.0.1:$serveport/healthz" >"$work/wrk.txt"
  after=$(cpu_ticks "$serve")
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  rate=$(awk '/Requests\/sec/ {printf "%d", $2}' "$work/wrk.txt")
  [ "$rate" -gt "$best_http" ] && best_http=$rate
  awk -v r="$round" -v rate="$rate" -v n="$requests" -v t=$((after - before)) -v hz="$ticks_per_second" -v s="$seconds" \
    -v wrk="$(awk '{print $1 + $2}' "$work/wrk.time")" 'BEGIN {
      printf "  %-52s %d req/s; serve %.1f µs of CPU a request (%.2f cores); wrk %.2f cores\n",
        "GET /healthz, wrk -t2 -c64 -d" s "s, run " r, rate, t / hz * 1e6 / n, t / hz / s, wrk / s }'
done
kill "$serve"
wait "$serve" 2>/dev/null || true

# 2. The durable ceiling: the same commits with no HTTP in front of them.
"$binary" bench state --state "$state" --events 200000 --prepare-wal >"$work/state.txt" 2>&1 || { cat "$work/state.txt" >&2; exit 70; }
echo "  bench state (the same commits, no HTTP), WAL files prepared:"
grep -E "batches of 500|group commit" "$work/state.txt" | sed 's/^ */    /'
best_group=$(awk '/group commit, 64 callers/ {v = $(NF-5); sub("/s", "", v); v += 0; if (v > m) m = v} END {print m + 0}' "$work/state.txt")
best_batches=$(awk '/batches of 500, 4 writers/ {v = $(NF-5); sub("/s", "", v); print v + 0}' "$work/state.txt")

line() { printf '  %-52s %s\n' "$1" "$2"; }
line "HTTP ceiling (best GET /healthz run)" "$best_http req/s"
line "durable ceiling, 64 single-event callers (best)" "$best_group events/s"
line "durable ceiling, batches of 500, 4 writers" "$best_batches events/s"
if [ -n "$peer" ]; then
  goal=$((peer * 10))
  verdict() { if [ "$1" -lt "$goal" ]; then echo "under 10x the peer"; else echo "at or over 10x the peer"; fi; }
  line "10x the peer's $peer events/s" "$goal events/s"
  line "the HTTP ceiling is" "$(verdict "$best_http")"
  line "the durable ceiling at 64 callers is" "$(verdict "$best_group")"
fi
