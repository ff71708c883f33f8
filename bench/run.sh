#!/usr/bin/env bash
# Runs the benchmarks recorded in BENCHMARKS.md and prints their tables as markdown on stdout;
# progress goes to stderr.
#
#   bench/run.sh           full run, about 8 minutes after the build (4 of them wait on the
#                          4-per-minute VirusTotal rate limit)
#   bench/run.sh --smoke   every part in a few seconds, for CI; numbers are not meaningful
#
# Every server listens on 127.0.0.1 only, and every upstream of the handler is bench_mocks.
# Needs wrk and jq, which it installs with apt-get when missing. Exits non-zero when a part
# fails or a check inside it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
  "") ;;
  --smoke) MODE=smoke ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

if [[ $MODE == full ]]; then
  WRK_SECONDS=15
  CONNECTIONS=(1 16 256)
  WORKLOAD_INCIDENTS=2000
  RATE_RUNS=("1000 20" "4 20")   # requests per minute, addresses
  BIG_INCIDENT=100000
  STARTUP_RUNS=10
else
  WRK_SECONDS=1
  CONNECTIONS=(1 16)
  WORKLOAD_INCIDENTS=50
  RATE_RUNS=("600 5")
  BIG_INCIDENT=1000
  STARTUP_RUNS=3
fi
VT_DELAY_WORKLOAD_MS=20
VT_DELAY_RATE_MS=200
VT_MAX_IN_FLIGHT=4
WORKSPACE=/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-soc-example/providers/Microsoft.OperationalInsights/workspaces/law-soc-example

WORK=$(mktemp -d)
STARTED_PIDS=()

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }
fail() { echo "bench: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Processes and ports

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints a port in 20000-60999 that nothing listens on.
free_port() {
  local port attempt
  for attempt in $(seq 1 50); do
    port=$((20000 + RANDOM % 41000))
    if ! port_open "$port"; then
      echo "$port"
      return
    fi
  done
  fail "no free port found in 50 attempts"
}

# Waits up to 20 s for 127.0.0.1:PORT to accept connections while PID runs.
wait_for_port() {
  local port=$1 pid=$2 name=$3 attempt
  for attempt in $(seq 1 400); do
    port_open "$port" && return
    kill -0 "$pid" 2>/dev/null || fail "$name exited before listening: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  fail "$name did not listen on port $port within 20 s"
}

# start_example NAME ARGS...: starts target/release/examples/NAME, which prints its port on the
# first line of stdout. Sets STARTED_PORT and STARTED_PID.
start_example() {
  local name=$1 label="$1-${#STARTED_PIDS[@]}" attempt
  shift
  "$EXAMPLES/$name" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
  for attempt in $(seq 1 400); do
    if [[ -s "$WORK/$label.out" ]]; then
      STARTED_PORT=$(head -n1 "$WORK/$label.out")
      wait_for_port "$STARTED_PORT" "$STARTED_PID" "$label"
      return
    fi
    kill -0 "$STARTED_PID" 2>/dev/null || fail "$name exited: $(cat "$WORK/$label.err")"
    sleep 0.05
  done
  fail "$name printed no port within 20 s"
}

# Prints the handler's environment, one VAR=VALUE a line, with every upstream at the mocks on
# port $1. Callers pass it to `env -i`, so no VirusTotal key or Azure endpoint from the caller's
# environment reaches the handler.
handler_env() {
  local mocks="http://127.0.0.1:$1"
  echo "PATH=$PATH"
  echo "SENTINEL_ALLOWED_WORKSPACES=$WORKSPACE"
  echo "IDENTITY_ENDPOINT=$mocks/msi/token"
  echo "IDENTITY_HEADER=bench-identity-header"
  echo "ARM_ENDPOINT=$mocks"
  echo "LOGS_INGESTION_ENDPOINT=$mocks"
  echo "LOGS_INGESTION_DCR_ID=dcr-00000000000000000000000000000000"
  echo "VIRUSTOTAL_BASE_URL=$mocks/api/v3"
  echo "VIRUSTOTAL_MAX_IN_FLIGHT=$VT_MAX_IN_FLIGHT"
}

# start_serve NAME MOCK_PORT [VAR=VALUE]...: starts `serve` with handler_env plus the extra
# variables; its JSON logs go to /dev/null, stderr to $WORK/NAME.err. Sets STARTED_PORT and
# STARTED_PID.
start_serve() {
  local name=$1 mock_port=$2 port
  shift 2
  port=$(free_port)
  local env_vars
  mapfile -t env_vars < <(handler_env "$mock_port")
  env -i "${env_vars[@]}" "$@" FUNCTIONS_CUSTOMHANDLER_PORT="$port" \
    "$BIN" serve >/dev/null 2>"$WORK/$name.err" &
  STARTED_PID=$!
  STARTED_PIDS+=("$STARTED_PID")
  STARTED_PORT=$port
  wait_for_port "$port" "$STARTED_PID" "$name"
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Prints field $2 (VmRSS, VmHWM) of process $1 in MiB.
memory_mib() {
  awk -v field="$2:" '$1 == field { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

mock_count() {
  curl -sf "http://127.0.0.1:$1/__counts" | jq -r ".$2"
}

mock_total() {
  curl -sf "http://127.0.0.1:$1/__counts" \
    | jq '.token + .incident_get + .incident_put + .comment_put + .logs_post + .virustotal + .unexpected'
}

# ---------------------------------------------------------------------------------------------
# Set-up

install_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  [[ ${#missing[@]} -eq 0 ]] && return
  log "installing ${missing[*]} with apt-get"
  apt-get install -y "${missing[@]}" >&2 \
    || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; } \
    || fail "cannot install ${missing[*]}; install them and run again"
}

build() {
  log "building in release (compilation is not part of the timings)"
  cargo build --release --examples --bin sentinel-ip-enrich >&2
  cargo bench --bench pipeline --no-run >&2
  TARGET=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
  BIN=$TARGET/release/sentinel-ip-enrich
  EXAMPLES=$TARGET/release/examples
}

# Samples every 5 s, for at most 40 minutes, the commands using more than 20% of a core, so that
# other work on the machine during the run shows in the report.
start_load_sampler() {
  (
    for _ in $(seq 1 480); do
      top -b -n 2 -d 1 -w 200 \
        | awk '/^top -/ { frame++ } frame == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 20 { print $12 }'
      sleep 4
    done
  ) >"$WORK/busy.txt" 2>/dev/null &
  STARTED_PIDS+=("$!")
}

# Prints the commands seen by start_load_sampler that this script did not start, with the number
# of samples in which each used more than 20% of a core.
print_other_load() {
  local ours='^(sentinel-ip-enr|bench_[a-z]+|pipeline-[0-9a-f]+|wrk|curl|jq|cargo|top|awk|perf)$'
  local others
  others=$({ grep -Ev "$ours" "$WORK/busy.txt" || true; } | sort | uniq -c | sort -rn | awk '{ printf "%s%s (%d)", sep, $2, $1; sep = ", " }')
  echo "Other commands above 20% of a core during the run (samples every 5 s): ${others:-none}."
}

# Prints the "cpu" line of /proc/stat as busy, steal and total jiffies. Steal is time the
# hypervisor gave this VM's CPUs to others, a source of noise that load averages do not show.
cpu_jiffies() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

print_machine() {
  echo "## Machine"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- mode: $MODE"
  echo "- CPU: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- rustc: $(rustc --version)"
  echo
}

# ---------------------------------------------------------------------------------------------
# 1. Handler throughput and latency, and 5. memory under that load

# run_wrk PORT CONNECTIONS OUTPUT: drives POST /EnrichIncident with wrk.
run_wrk() {
  local port=$1 connections=$2 output=$3
  local threads=$((connections < 2 ? 1 : 2))
  WRK_BODY_FILE="$WORK/invocation.json" wrk -t "$threads" -c "$connections" \
    -d "${WRK_SECONDS}s" --timeout 10s --latency -s bench/invoke.lua \
    "http://127.0.0.1:$port/EnrichIncident" >"$output"
}

# wrk_field OUTPUT NAME: prints requests per second (rps), p50 or p99 in ms, total requests,
# bad replies (no "statusCode":200) and error counts (socket errors and non-2xx responses).
wrk_field() {
  awk -v want="$2" '
    function ms(text) {
      if (text ~ /us$/) return substr(text, 1, length(text) - 2) / 1000
      if (text ~ /ms$/) return substr(text, 1, length(text) - 2) + 0
      if (text ~ /s$/) return substr(text, 1, length(text) - 1) * 1000
      return text
    }
    /^Requests\/sec:/ { values["rps"] = $2 }
    $1 == "50%" { values["p50"] = ms($2) }
    $1 == "99%" { values["p99"] = ms($2) }
    / requests in / { values["requests"] = $1 }
    /^bad_replies/ { values["bad"] = $2 }
    /Socket errors:/ { gsub(/,/, ""); values["errors"] += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { values["errors"] += $5 }
    END { value = values[want]; print (value == "" ? 0 : value) }
  ' "$1"
}

# warm_up PORT: sends the sample invocation five times, so every lookup is cached, and keeps
# the last reply in $WORK/reply.json.
warm_up() {
  local port=$1 attempt
  for attempt in 1 2 3 4 5; do
    curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/invocation.json" \
      "http://127.0.0.1:$port/EnrichIncident" >"$WORK/reply.json" \
      || fail "warm-up invocation $attempt failed"
    grep -q '"statusCode":200' "$WORK/reply.json" \
      || fail "warm-up invocation $attempt did not return statusCode 200: $(head -c 600 "$WORK/reply.json")"
  done
}

# Prints the user plus system CPU time of process $1 so far, in clock ticks.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# check_wrk OUTPUT: fails when wrk sent nothing or a reply lacked statusCode 200.
check_wrk() {
  local bad
  bad=$(wrk_field "$1" bad)
  [[ $bad -eq 0 ]] || fail "$bad replies without statusCode 200: $(cat "$1")"
  [[ $(wrk_field "$1" requests) -gt 0 ]] || fail "wrk sent no request: $(cat "$1")"
}

bench_handler() {
  log "part 1: handler throughput against the actix-web baseline"
  start_example bench_mocks --vt-delay-ms 0
  local mock_port=$STARTED_PORT mock_pid=$STARTED_PID
  start_serve handler "$mock_port" VIRUSTOTAL_API_KEY=bench-key VIRUSTOTAL_REQUESTS_PER_MINUTE=60000
  local serve_port=$STARTED_PORT serve_pid=$STARTED_PID

  "$EXAMPLES/bench_incident" --wrap examples/incident.json >"$WORK/invocation.json"
  warm_up "$serve_port"
  local vt_after_warm_up
  vt_after_warm_up=$(mock_count "$mock_port" virustotal)

  start_example bench_baseline --reply-file "$WORK/reply.json"
  local baseline_port=$STARTED_PORT baseline_pid=$STARTED_PID

  local speed_rows=() cost_rows=()
  local connections handler baseline
  local requests_before requests_after serve_ticks mock_ticks
  local tick_us=$((1000000 / $(getconf CLK_TCK)))
  for connections in "${CONNECTIONS[@]}"; do
    handler=$WORK/wrk-handler-$connections.txt
    baseline=$WORK/wrk-baseline-$connections.txt

    requests_before=$(mock_total "$mock_port")
    serve_ticks=$(cpu_ticks "$serve_pid")
    mock_ticks=$(cpu_ticks "$mock_pid")
    run_wrk "$serve_port" "$connections" "$handler"
    serve_ticks=$(($(cpu_ticks "$serve_pid") - serve_ticks))
    mock_ticks=$(($(cpu_ticks "$mock_pid") - mock_ticks))
    requests_after=$(mock_total "$mock_port")
    check_wrk "$handler"

    run_wrk "$baseline_port" "$connections" "$baseline"
    check_wrk "$baseline"

    speed_rows+=("$(awk -v c="$connections" \
      -v hr="$(wrk_field "$handler" rps)" -v h50="$(wrk_field "$handler" p50)" -v h99="$(wrk_field "$handler" p99)" \
      -v br="$(wrk_field "$baseline" rps)" -v b50="$(wrk_field "$baseline" p50)" -v b99="$(wrk_field "$baseline" p99)" \
      'BEGIN { printf "| %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %.3f |", c, hr, h50, h99, br, b50, b99, hr / br }')")
    cost_rows+=("$(awk -v c="$connections" -v n="$(wrk_field "$handler" requests)" \
      -v upstream="$((requests_after - requests_before))" -v serve="$serve_ticks" -v mock="$mock_ticks" \
      -v tick_us="$tick_us" -v errors="$(($(wrk_field "$handler" errors) + $(wrk_field "$baseline" errors)))" \
      'BEGIN { printf "| %d | %d | %.2f | %.0f | %.0f | %d |", c, n, upstream / n, serve * tick_us / n, mock * tick_us / n, errors }')")
  done

  local vt_after_load
  vt_after_load=$(mock_count "$mock_port" virustotal)
  [[ $vt_after_load -eq $vt_after_warm_up ]] || fail "the warm cache still sent VirusTotal requests"
  LOADED_RSS=$(memory_mib "$serve_pid" VmRSS)
  LOADED_HWM=$(memory_mib "$serve_pid" VmHWM)
  stop "$serve_pid"
  stop "$baseline_pid"

  # The same load with logging reduced to warnings, to show what the default info logs cost.
  local quiet_connections=16 quiet=$WORK/wrk-quiet.txt
  start_serve quiet "$mock_port" VIRUSTOTAL_API_KEY=bench-key VIRUSTOTAL_REQUESTS_PER_MINUTE=60000 \
    RUST_LOG=sentinel_ip_enrich=warn
  local quiet_pid=$STARTED_PID
  warm_up "$STARTED_PORT"
  run_wrk "$STARTED_PORT" "$quiet_connections" "$quiet"
  check_wrk "$quiet"
  stop "$quiet_pid"
  stop "$mock_pid"

  echo "## 1. Handler throughput and latency"
  echo
  echo "wrk ${WRK_SECONDS} s per row, POST /EnrichIncident with examples/incident.json as Data.req.Body"
  echo "($(wc -c <"$WORK/invocation.json") bytes), warm cache, mocks responding at once, serve logging at"
  echo "its default level (info) to /dev/null. The baseline returns a saved handler reply ($(wc -c <"$WORK/reply.json") bytes)."
  echo
  echo "| connections | handler req/s | handler p50 ms | handler p99 ms | baseline req/s | baseline p50 ms | baseline p99 ms | handler/baseline req/s |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${speed_rows[@]}"
  echo
  echo "Cost per handler invocation in the same runs (CPU time from /proc/PID/stat; wrk and the kernel's"
  echo "share of the 2 cores is not counted):"
  echo
  echo "| connections | invocations | upstream requests per invocation | handler CPU µs per invocation | mocks CPU µs per invocation | socket errors and non-2xx |"
  echo "|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${cost_rows[@]}"
  echo
  echo "VirusTotal requests during the load: $((vt_after_load - vt_after_warm_up)) (the warm-up made $vt_after_warm_up, one per global address)."
  echo
  echo "Logging: at $quiet_connections connections with RUST_LOG=sentinel_ip_enrich=warn the handler served"
  awk -v r="$(wrk_field "$quiet" rps)" -v p50="$(wrk_field "$quiet" p50)" -v p99="$(wrk_field "$quiet" p99)" \
    'BEGIN { printf "%.0f req/s (p50 %.2f ms, p99 %.2f ms).\n", r, p50, p99 }'
  echo
}

# ---------------------------------------------------------------------------------------------
# 2. Pipeline cost per address (criterion)

bench_pipeline() {
  log "part 2: criterion benchmarks of the pipeline stages"
  echo "## 2. Pipeline cost per address"
  echo
  if [[ $MODE == smoke ]]; then
    cargo bench --bench pipeline -- --test >&2
    echo "Smoke mode: every criterion benchmark ran once (\`--test\`), without timing."
    echo
    return
  fi

  local marker=$WORK/criterion-start
  touch "$marker"
  cargo bench --bench pipeline >&2

  echo "criterion median time per iteration; addresses per second = elements / median."
  echo
  echo "| stage | incident addresses | elements | median per iteration | ns per element | elements per second |"
  echo "|---|---:|---:|---:|---:|---:|"
  local group size dir
  for group in parse_trigger classify lookup_cache_hit enrich_cache_hit; do
    for size in 10 1000 100000; do
      dir=$TARGET/criterion/$group/$size/new
      [[ $dir/estimates.json -nt $marker ]] || fail "criterion wrote no result for $group/$size"
      jq -r -n --arg group "$group" --arg size "$size" \
        --slurpfile benchmark "$dir/benchmark.json" --slurpfile estimates "$dir/estimates.json" '
        ($benchmark[0].throughput.Elements) as $elements
        | ($estimates[0].median.point_estimate) as $ns
        | (if $ns >= 1e6 then "\($ns / 1e6 * 100 | round / 100) ms"
           elif $ns >= 1e3 then "\($ns / 1e3 * 100 | round / 100) µs"
           else "\($ns * 100 | round / 100) ns" end) as $time
        | "| \($group) | \($size) | \($elements) | \($time) | \($ns / $elements * 10 | round / 10) | \($elements / $ns * 1e9 | round) |"'
    done
  done
  echo
}

# ---------------------------------------------------------------------------------------------
# 3. Upstream efficiency on a day-like workload

bench_workload() {
  log "part 3: $WORKLOAD_INCIDENTS incidents with skewed addresses"
  start_example bench_mocks --vt-delay-ms "$VT_DELAY_WORKLOAD_MS"
  local mock_port=$STARTED_PORT mock_pid=$STARTED_PID
  start_serve workload "$mock_port" VIRUSTOTAL_API_KEY=bench-key \
    VIRUSTOTAL_REQUESTS_PER_MINUTE=60000
  local serve_pid=$STARTED_PID

  echo "## 3. Upstream efficiency"
  echo
  echo "Fresh handler (empty cache), VirusTotal mock responding in $VT_DELAY_WORKLOAD_MS ms, rate limit 60000/min."
  echo
  "$EXAMPLES/bench_workload" --handler "http://127.0.0.1:$STARTED_PORT" \
    --mocks "http://127.0.0.1:$mock_port" --incidents "$WORKLOAD_INCIDENTS" \
    --distinct 500 --concurrency 16 || fail "the workload's checks failed"
  echo

  stop "$serve_pid"
  stop "$mock_pid"
}

# ---------------------------------------------------------------------------------------------
# 4. Latency under the VirusTotal rate limit

bench_rate_limit() {
  if [[ $MODE == smoke ]]; then
    log "part 4: enrich under the VirusTotal rate limit"
  else
    log "part 4: enrich under the VirusTotal rate limit (the 4/min run takes about 4 minutes)"
  fi
  start_example bench_mocks --vt-delay-ms "$VT_DELAY_RATE_MS"
  local mock_port=$STARTED_PORT mock_pid=$STARTED_PID

  echo "## 4. Latency under the rate limit"
  echo
  echo "\`sentinel-ip-enrich enrich FILE --json\` (process start included) on an incident of new"
  echo "global addresses, VirusTotal mock responding in $VT_DELAY_RATE_MS ms, VIRUSTOTAL_MAX_IN_FLIGHT=$VT_MAX_IN_FLIGHT."
  echo "Lower limit: governor 0.10's Quota::per_minute(r) allows a burst of r, then one request"
  echo "every 60/r s, so the last of n requests starts at max(0, n - r) * 60/r s and ends one response"
  echo "time later. With $VT_MAX_IN_FLIGHT requests in flight, n requests also take ceil(n/$VT_MAX_IN_FLIGHT) response times."
  echo
  echo "The mock also records when the first and the last VirusTotal request arrived; the expected"
  echo "gap is the lower limit minus one response time. Retries are counted from enrich's warnings."
  echo
  echo "| requests per minute | addresses | wall s | lower limit by rate s | lower limit by in-flight s | wall - lower limit s | first to last request s (expected) | retries |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"

  local run rate addresses index=0
  for run in "${RATE_RUNS[@]}"; do
    read -r rate addresses <<<"$run"
    index=$((index + 1))
    "$EXAMPLES/bench_incident" --addresses "$addresses" --first $((index * 1000)) >"$WORK/rate-$index.json"
    curl -sf -X POST "http://127.0.0.1:$mock_port/__reset" >/dev/null

    local env_vars started ended status=0
    mapfile -t env_vars < <(handler_env "$mock_port")
    started=$(date +%s%N)
    env -i "${env_vars[@]}" VIRUSTOTAL_API_KEY=bench-key VIRUSTOTAL_REQUESTS_PER_MINUTE="$rate" \
      "$BIN" enrich "$WORK/rate-$index.json" --json >"$WORK/rate-$index.out" 2>"$WORK/rate-$index.err" \
      || status=$?
    ended=$(date +%s%N)
    [[ $status -eq 0 ]] || fail "enrich exited with $status: $(cat "$WORK/rate-$index.err")"

    local enriched calls span_ms retries
    enriched=$(jq '.summary.by_status.enriched // 0' "$WORK/rate-$index.out")
    calls=$(mock_count "$mock_port" virustotal)
    span_ms=$(mock_count "$mock_port" virustotal_first_to_last_ms)
    retries=$(grep -c "retrying VirusTotal lookup" "$WORK/rate-$index.err" || true)
    [[ $enriched -eq $addresses ]] || fail "enrich enriched $enriched of $addresses addresses"
    [[ $calls -eq $addresses ]] || fail "enrich made $calls VirusTotal requests for $addresses addresses"

    awk -v rate="$rate" -v n="$addresses" -v delay="$VT_DELAY_RATE_MS" -v inflight="$VT_MAX_IN_FLIGHT" \
      -v wall_ns="$((ended - started))" -v span_ms="$span_ms" -v retries="$retries" 'BEGIN {
        answer = delay / 1000
        waiting = n - rate; if (waiting < 0) waiting = 0
        by_rate = waiting * 60 / rate + answer
        by_in_flight = int((n + inflight - 1) / inflight) * answer
        lower = by_rate > by_in_flight ? by_rate : by_in_flight
        wall = wall_ns / 1e9
        printf "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f (%.2f) | %d |\n", rate, n, wall, by_rate, by_in_flight, wall - lower, span_ms / 1000, lower - answer, retries
      }'
  done
  echo
  stop "$mock_pid"
}

# ---------------------------------------------------------------------------------------------
# 5. Memory and start-up

bench_memory() {
  log "part 5: start-up time and resident memory"
  start_example bench_mocks --vt-delay-ms 0
  local mock_port=$STARTED_PORT mock_pid=$STARTED_PID

  echo "## 5. Memory and start-up"
  echo
  echo "Start-up: from spawning \`serve\` to its port accepting a connection (polled every 1 ms);"
  echo "idle VmRSS read 500 ms later."
  echo
  local env_vars
  mapfile -t env_vars < <(handler_env "$mock_port")
  env -i "${env_vars[@]}" VIRUSTOTAL_API_KEY=bench-key \
    "$EXAMPLES/bench_startup" --bin "$BIN" --runs "$STARTUP_RUNS" || fail "bench_startup failed"
  echo

  "$EXAMPLES/bench_incident" --addresses "$BIG_INCIDENT" --invocation >"$WORK/big.json"
  start_serve big "$mock_port" FEED_PATHS="$PWD/examples/feeds/example-blocklist.txt"
  local serve_port=$STARTED_PORT serve_pid=$STARTED_PID
  sleep 0.5
  local idle_rss idle_hwm seconds
  idle_rss=$(memory_mib "$serve_pid" VmRSS)
  idle_hwm=$(memory_mib "$serve_pid" VmHWM)
  seconds=$(curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/big.json" \
    -o "$WORK/big-reply.json" -w '%{time_total}' "http://127.0.0.1:$serve_port/EnrichIncident") \
    || fail "the $BIG_INCIDENT-address invocation failed"
  grep -q '"statusCode":200' "$WORK/big-reply.json" \
    || fail "the $BIG_INCIDENT-address invocation did not return statusCode 200"

  echo "| serve process | VmRSS MiB | VmHWM MiB |"
  echo "|---|---:|---:|"
  echo "| after the handler load of part 1 (up to ${CONNECTIONS[-1]} connections) | $LOADED_RSS | $LOADED_HWM |"
  echo "| feed provider, idle, before a large incident | $idle_rss | $idle_hwm |"
  echo "| after one $BIG_INCIDENT-address incident ($(wc -c <"$WORK/big.json") bytes, answered in $(printf '%.2f' "$seconds") s) | $(memory_mib "$serve_pid" VmRSS) | $(memory_mib "$serve_pid" VmHWM) |"
  echo

  stop "$serve_pid"
  stop "$mock_pid"
}

# ---------------------------------------------------------------------------------------------

main() {
  install_tools
  build
  local started=$SECONDS jiffies_before
  jiffies_before=$(cpu_jiffies)
  start_load_sampler

  print_machine
  bench_handler
  bench_pipeline
  bench_workload
  bench_rate_limit
  bench_memory

  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Run time without the build: $((SECONDS - started)) s."
  print_other_load
  awk -v before="$jiffies_before" -v after="$(cpu_jiffies)" 'BEGIN {
    split(before, b, " "); split(after, a, " ")
    total = a[3] - b[3]
    printf "CPU time of the whole machine during the run: %.0f%% busy, %.1f%% stolen by the hypervisor.\n",
      100 * (a[1] - b[1]) / total, 100 * (a[2] - b[2]) / total
  }'
  log "done in $((SECONDS - started)) s after the build"
}

main
