#!/usr/bin/env bash
# Benchmarks the gateway's fan-out on this machine and prints a result table.
#
# Two scenarios, each against a fresh gateway:
#   load: N lite WebSocket clients connect first, then the fake CT log grows at a set rate and
#         the gateway relays its 1044 fixture entries to every client. Reports delivery latency
#         (from data.seen, stamped by ingest), throughput, missing messages, gateway CPU seconds
#         and peak RSS. Repeated --rounds times.
#   idle: M idle lite WebSocket clients; reports gateway RSS before and after, per connection.
#
# Everything runs on 127.0.0.1 and stops by itself. The load generator shares the machine's CPUs
# with the server, so the numbers are a lower bound of what the gateway does alone.
#
# Usage: scripts/bench-fanout.sh [--mode standalone|nats] [--clients N] [--rate N] [--rounds N]
#                                [--idle-clients N] [--skip-idle] [--skip-load] [--skip-build]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=standalone
clients=1000
rate=1000
rounds=3
idle_clients=20000
connects_per_sec=1000
run_load=1
run_idle=1
build=1

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --mode) mode=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --idle-clients) idle_clients=$2; shift 2 ;;
        --connects-per-sec) connects_per_sec=$2; shift 2 ;;
        --skip-load) run_load=0; shift ;;
        --skip-idle) run_idle=0; shift ;;
        --skip-build) build=0; shift ;;
        -h|--help) usage 0 ;;
        *) echo "error: unknown option $1" >&2; usage 2 ;;
    esac
done
case "$mode" in
    standalone|nats) ;;
    *) echo "error: --mode must be standalone or nats, got $mode" >&2; exit 2 ;;
esac
if [ "$rate" -lt 10 ]; then
    echo "error: --rate must be at least 10 certificates per second, got $rate" >&2
    exit 2
fi

# Entries the fake log serves: 20 in the live log and 1024 in the navigli log.
readonly FIXTURE_ENTRIES=1044
# The fake log grows every GROWTH_INTERVAL_MS by rate/10 entries per log.
readonly GROWTH_INTERVAL_MS=100
readonly INGEST_ARGS=(--ct-log-backfill-entries 100000 --ct-log-poll-interval-ms 100)

target_dir=${CARGO_TARGET_DIR:-$root/target}
bin="$target_dir/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-fanout.XXXXXX")
clock_ticks=$(getconf CLK_TCK)
pids=()

log() { printf '==> %s\n' "$*" >&2; }

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Forgets a PID that was stopped and waited for, so cleanup does not signal a reused PID.
forget_pid() {
    local keep=() pid
    for pid in "${pids[@]}"; do
        [ "$pid" = "$1" ] || keep+=("$pid")
    done
    pids=("${keep[@]}")
}

stop_process() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

# wait_for_line FILE TEXT TIMEOUT_SECS: waits until FILE has a line containing TEXT.
wait_for_line() {
    local file=$1 text=$2 deadline=$((SECONDS + $3))
    until grep -qF -- "$text" "$file" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: no line with '$text' in $file within $3 s; its last lines:" >&2
            tail -n 20 "$file" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# CPU seconds (user + system) of a process so far.
cpu_seconds() {
    # Fields after the ")" that ends the command name: state is 1, utime 12, stime 13.
    sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$clock_ticks" '{ printf "%.2f", ($12 + $13) / hz }'
}

# A /proc/PID/status memory field (VmRSS, VmHWM) in KiB.
memory_kib() {
    awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"
}

# start_fake_log PORT STEP: starts the fake log on PORT (0: any) growing by STEP entries per
# interval (0: never), writing $work/log_list.json. Sets fake_pid and fake_port.
start_fake_log() {
    local out="$work/fake-log.$RANDOM.log"
    "$bin/fake-ct-log" --log-list-out "$work/log_list.json" --port "$1" --initial-size 0 \
        --step "$2" --interval-ms "$GROWTH_INTERVAL_MS" --start-on-sigusr1 >"$out" 2>&1 &
    fake_pid=$!
    pids+=("$fake_pid")
    wait_for_line "$out" "base_url=" 20
    fake_port=$(sed -n 's/^base_url=http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
}

start_nats_server() {
    local nats_server=${CERTSTREAM_TEST_NATS_SERVER:-}
    if [ -z "$nats_server" ]; then
        nats_server=$(command -v nats-server || echo "$root/.tools/venv/bin/nats-server")
    fi
    if [ ! -x "$nats_server" ]; then
        echo "error: nats-server not found: run scripts/test.sh, which installs it into .tools/venv," \
            "or set CERTSTREAM_TEST_NATS_SERVER" >&2
        exit 1
    fi
    mkdir -p "$work/nats/ports"
    "$nats_server" --jetstream --addr 127.0.0.1 --port -1 --http_port 0 \
        --store_dir "$work/nats/store" --ports_file_dir "$work/nats/ports" \
        >"$work/nats/server.log" 2>&1 &
    nats_pid=$!
    pids+=("$nats_pid")
    local deadline=$((SECONDS + 20))
    until nats_url=$(cat "$work"/nats/ports/*.ports 2>/dev/null |
        sed -n 's/.*"nats":\["\([^"]*\)".*/\1/p') && [ -n "$nats_url" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: nats-server wrote no ports file within 20 s" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# Starts the server under test against the paused fake log: `certstream-gateway --standalone`,
# or nats-server, a decoder, ingest and the gateway as separate processes. Sets gateway_pid,
# gateway_address and server_pids (every process of the server).
start_server() {
    local out="$work/gateway.$RANDOM.log"
    local common=(--host 127.0.0.1 --port 0 --metrics-port 0)
    if [ "$mode" = standalone ]; then
        "$bin/certstream-gateway" --standalone "${common[@]}" --log-list "$work/log_list.json" \
            "${INGEST_ARGS[@]}" >"$out" 2>&1 &
        gateway_pid=$!
        pids+=("$gateway_pid")
        server_pids=("$gateway_pid")
    else
        start_nats_server
        local bus=(--nats-url "$nats_url" --host 127.0.0.1 --metrics-port 0)
        "$bin/certstream-decoder" "${bus[@]}" >"$work/decoder.log" 2>&1 &
        decoder_pid=$!
        pids+=("$decoder_pid")
        wait_for_line "$work/decoder.log" "Decoder started" 30
        "$bin/certstream-gateway" "${bus[@]}" --port 0 >"$out" 2>&1 &
        gateway_pid=$!
        pids+=("$gateway_pid")
        "$bin/certstream-ingest" "${bus[@]}" --log-list "$work/log_list.json" \
            --ct-log-state-file "$work/nats/state.$RANDOM.json" "${INGEST_ARGS[@]}" \
            >"$work/ingest.log" 2>&1 &
        ingest_pid=$!
        pids+=("$ingest_pid")
        server_pids=("$gateway_pid" "$decoder_pid" "$ingest_pid" "$nats_pid")
    fi
    wait_for_line "$out" "Gateway listening" 30
    gateway_address=$(grep -F "Gateway listening" "$out" | sed 's/.*addr=\([^ ]*\).*/\1/' | head -n 1)
}

stop_server() {
    local pid
    for pid in "${server_pids[@]}"; do
        stop_process "$pid"
    done
}

# Sum of a Prometheus counter or gauge over all its label sets, from the gateway's /metrics.
metric_sum() {
    curl -fsS --max-time 5 "http://$gateway_address/metrics" |
        awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $2 } END { printf "%d", sum }'
}

if [ "$build" = 1 ]; then
    log "Building release binaries"
    cargo build --release --bins -p certstream-gateway -p certstream-ingest -p certstream-decoder \
        -p certstream-tests
fi
if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time is missing: install the time package (apt-get install time)" >&2
    exit 1
fi
for binary in certstream-gateway certstream-ingest certstream-decoder fake-ct-log certstream-loadgen; do
    if [ ! -x "$bin/$binary" ]; then
        echo "error: $bin/$binary is missing: build without --skip-build or set CARGO_TARGET_DIR" >&2
        exit 1
    fi
done

# Both the gateway and the load generator need one file descriptor per connection.
hard_limit=$(ulimit -Hn)
if [ "$hard_limit" != unlimited ]; then
    ulimit -n "$hard_limit"
fi

results="$work/results.tsv"
: >"$results"

# One load round: the fake log starts paused so that every client is connected before the first
# entry is served, then SIGUSR1 makes it grow at $rate entries per second.
run_load_round() {
    local round=$1
    start_fake_log 0 $((rate * GROWTH_INTERVAL_MS / 1000))
    start_server
    sleep 2
    local idle_rss_kib
    idle_rss_kib=$(memory_kib "$gateway_pid" VmRSS)

    local report="$work/loadgen.$round.json" loadgen_log="$work/loadgen.$round.log"
    # Bound: the ramp-up at $connects_per_sec plus the fixture at $rate per second plus 60 s.
    local duration=$((clients / connects_per_sec + FIXTURE_ENTRIES / rate + 60))
    /usr/bin/time -f "%U %S" -o "$work/loadgen.$round.time" \
        "$bin/certstream-loadgen" --target "$gateway_address" --clients "$clients" \
        --connects-per-sec "$connects_per_sec" --duration-secs "$duration" \
        --stop-after-messages "$FIXTURE_ENTRIES" --json-out "$report" \
        >"$work/loadgen.$round.txt" 2>"$loadgen_log" &
    local loadgen_pid=$!
    pids+=("$loadgen_pid")
    wait_for_line "$loadgen_log" "Connected " $((duration + 5))

    # Other work on the machine competes for the same CPUs: record the 1-minute load average.
    local load_average
    load_average=$(cut -d ' ' -f 1 /proc/loadavg)
    local cpu_before=() pid
    for pid in "${server_pids[@]}"; do
        cpu_before+=("$(cpu_seconds "$pid")")
    done
    local started=$EPOCHREALTIME
    kill -USR1 "$fake_pid"

    wait "$loadgen_pid" || true
    forget_pid "$loadgen_pid"
    local elapsed
    elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    local cpu_used=() index=0
    for pid in "${server_pids[@]}"; do
        cpu_used+=("$(awk -v a="${cpu_before[$index]}" -v b="$(cpu_seconds "$pid")" \
            'BEGIN { printf "%.2f", b - a }')")
        index=$((index + 1))
    done
    local peak_rss_kib dropped
    peak_rss_kib=$(memory_kib "$gateway_pid" VmHWM)
    dropped=$(metric_sum certstream_gateway_messages_dropped_total)
    cat "$work/loadgen.$round.txt" >&2
    printf 'load\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$report" "$elapsed" \
        "${cpu_used[*]}" "$idle_rss_kib" "$peak_rss_kib" "$dropped" \
        "$(cat "$work/loadgen.$round.time")" "$load_average" >>"$results"

    stop_server
    stop_process "$fake_pid"
}

# Idle connections: as many clients as the open file limit allows. The gateway and the load
# generator each need one descriptor per connection plus a margin for their own files.
run_idle() {
    if [ "$hard_limit" != unlimited ] && [ "$idle_clients" -gt $((hard_limit - 64)) ]; then
        log "NOTE: the open file limit is $hard_limit, so the gateway can hold at most about" \
            "$((hard_limit - 64)) connections; measuring that many instead of $idle_clients"
        idle_clients=$((hard_limit - 64))
    fi

    start_fake_log 0 0
    start_server
    sleep 3
    local rss_before
    rss_before=$(memory_kib "$gateway_pid" VmRSS)

    local ramp=$((idle_clients / connects_per_sec + 1))
    "$bin/certstream-loadgen" --target "$gateway_address" --clients "$idle_clients" \
        --connects-per-sec "$connects_per_sec" --duration-secs $((ramp + 20)) \
        --json-out "$work/idle.json" >"$work/idle.txt" 2>"$work/idle.log" &
    local loadgen_pid=$!
    pids+=("$loadgen_pid")
    wait_for_line "$work/idle.log" "Connected " $((ramp + 30))
    # Let the connection tasks settle before sampling.
    sleep 5
    local rss_after clients_gauge
    rss_after=$(memory_kib "$gateway_pid" VmRSS)
    clients_gauge=$(metric_sum certstream_gateway_clients)
    wait "$loadgen_pid" || true
    forget_pid "$loadgen_pid"
    cat "$work/idle.txt" >&2
    printf 'idle\t%s\t%s\t%s\t%s\t%s\n' "$idle_clients" "$rss_before" "$rss_after" \
        "$clients_gauge" "$work/idle.json" >>"$results"
    stop_server
    stop_process "$fake_pid"
}

if [ "$run_load" = 1 ]; then
    for round in $(seq 1 "$rounds"); do
        log "Load round $round of $rounds: $clients lite WebSocket clients, $rate certificates/s ($mode)"
        run_load_round "$round"
    done
fi
if [ "$run_idle" = 1 ]; then
    log "Idle connections: $idle_clients lite WebSocket clients ($mode)"
    run_idle
fi

python3 - "$results" "$mode" "$clients" "$rate" "$(nproc)" <<'EOF'
import json
import sys

results, mode, clients, rate, cpus = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(results)]

print(f"\nFan-out benchmark: mode {mode}, {cpus} CPUs shared by server and load generator")
load = [row for row in rows if row[0] == "load"]
if load:
    print(f"\nLoad: {clients} lite WebSocket clients, fake log at {rate} certificates/s, "
          "1044 entries per round")
    header = ("round", "connected", "messages", "missing", "disconn", "msg/s", "p50 ms",
              "p90 ms", "p99 ms", "max ms", "spread p99 ms", "server CPU s", "CPU %", "idle RSS MB",
              "peak RSS MB", "dropped", "loadgen CPU s", "load avg")
    print("  ".join(header))
    for (_, round_, report, elapsed, cpu, idle_rss, peak_rss, dropped, loadgen_time,
         load_average) in load:
        summary = json.load(open(report))
        latency = summary["latency"] or {}
        spread = summary["fanout_spread"] or {}
        per_client = summary["per_client"] or {}
        server_cpu = [float(x) for x in cpu.split()]
        user, system = (float(x) for x in loadgen_time.split())
        cells = (
            round_, summary["clients_connected"], summary["messages"], per_client.get("messages_missing", "-"),
            summary["disconnects"], f'{summary["messages_per_sec"] or 0:.0f}',
            *(f'{latency.get(key, 0):.1f}' for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
            f'{spread.get("p99_ms", 0):.1f}',
            "+".join(f"{x:.2f}" for x in server_cpu),
            f"{100 * sum(server_cpu) / float(elapsed):.0f}",
            f"{int(idle_rss) / 1024:.1f}", f"{int(peak_rss) / 1024:.1f}", dropped,
            f"{user + system:.2f}", load_average,
        )
        print("  ".join(str(cell) for cell in cells))
    if mode == "nats":
        print("server CPU s: gateway+decoder+ingest+nats-server")
for _, requested, before, after, gauge, report in (row for row in rows if row[0] == "idle"):
    connected = json.load(open(report))["clients_connected"]
    growth = int(after) - int(before)
    print(f"\nIdle: {connected} of {requested} lite WebSocket clients connected "
          f"(gateway gauge {gauge})")
    print(f"gateway RSS {int(before) / 1024:.1f} MB before, {int(after) / 1024:.1f} MB after: "
          f"{growth / max(connected, 1):.2f} KB per connection")
EOF
log "Logs and reports: $work"
