#!/usr/bin/env bash
# Gateway benchmark (issue 3; see docs/benchmarks.md). In one go on this machine it measures
#   (a) the engine simulator directly,
#   (b) nginx (Debian's) proxying that same simulator,
#   (c) Gantry's gateway (/openai/{id}/v1) in front of a `sim` worker started with the same flags,
# with wrk for non-streaming chat completions (p50/p99 at concurrency 1, throughput at 32 and 64)
# and the bench module's StreamBench for 64 concurrent SSE streams (time to first chunk and
# inter-chunk gap), and prints one table with the overhead each proxy adds over (a).
#
#   ./gantry bench            (or bench/run.sh)
#
# Everything it starts runs in its own process group and is stopped on exit, however it exits.
# Settings (environment): BENCH_ROUNDS, and per round BENCH_C1_SECONDS, BENCH_THROUGHPUT_SECONDS,
# BENCH_STREAM_SECONDS, BENCH_STREAM_WARMUP_SECONDS; BENCH_WARMUP_SECONDS, BENCH_WARMUP_REQUESTS
# (minimums), BENCH_WARMUP_MAX_SECONDS,
# BENCH_STREAMS, BENCH_STREAM_TOKENS,
# BENCH_TARGETS (default "direct nginx gantry"), BENCH_NO_BUILD=1 (use the jars as they are),
# BENCH_KEEP=1 (keep the temp dir with all logs), BENCH_GATEWAY_WAIT_SECONDS (how long to wait
# for the gateway route to answer 200 before skipping (c)), BENCH_GANTRY_JVM_OPTS (extra JVM
# options for Gantry), BENCH_JFR=/path/to/file.jfr (record a JFR profile of Gantry, written when it
# stops; open it with `jfr print` or JDK Mission Control).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $# -gt 0 ]; then
  case "$1" in
    -h | --help) sed -n '2,/^set -euo/p' bench/run.sh | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench/run.sh [--help]   (settings are environment variables, see --help)" >&2; exit 2 ;;
  esac
fi

ROUNDS=${BENCH_ROUNDS:-3}
C1_SECONDS=${BENCH_C1_SECONDS:-3}
THROUGHPUT_SECONDS=${BENCH_THROUGHPUT_SECONDS:-2}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}
WARMUP_REQUESTS=${BENCH_WARMUP_REQUESTS:-20000}
WARMUP_MAX_SECONDS=${BENCH_WARMUP_MAX_SECONDS:-90}
STREAM_SECONDS=${BENCH_STREAM_SECONDS:-5}
STREAM_WARMUP_SECONDS=${BENCH_STREAM_WARMUP_SECONDS:-2}
STREAMS=${BENCH_STREAMS:-64}
STREAM_TOKENS=${BENCH_STREAM_TOKENS:-60}
TARGETS=${BENCH_TARGETS:-direct nginx gantry}
GATEWAY_WAIT_SECONDS=${BENCH_GATEWAY_WAIT_SECONDS:-30}

MODEL=bench-model
# A fixed, well-formed key (gk_ + 43 base64url characters); the Gantry under test is throwaway.
KEY=gk_gantry-bench-key-not-a-secret-0000000000000
# One simulator configuration serves every measurement: no prefill delay, 20 ms between tokens,
# no queueing in the engine. Non-streaming requests ask for max_tokens=1, so the engine answers
# at once and what is measured is the HTTP path; streams ask for $STREAM_TOKENS tokens (one SSE
# chunk each, plus the role chunk, the finish chunk and [DONE]).
SIM_FLAGS=(--ttft-ms=0 --inter-token-ms=20 --max-concurrency=512)
# The same JVM options for every simulator, including the one Gantry starts as its worker (passed
# as gantry.runtime.local.sim-jvm-options): full JIT rather than Gantry's default C1-only, so the
# engine is as cheap as possible and the proxies' share of the CPU shows.
# A large, pre-touched young generation makes collections rare (and page faults none) in the
# simulators and in the stream client, whose pauses would otherwise show up as inter-chunk gaps of
# every target; a 5-7 s StreamBench run allocates less than its young generation.
SIM_JVM_OPTS=(-XX:+UseSerialGC -Xms512m -Xmx512m -Xmn384m -XX:+AlwaysPreTouch -Xshare:auto)
CLIENT_JVM_OPTS=(-XX:+UseSerialGC -Xms1g -Xmx1g -Xmn768m -XX:+AlwaysPreTouch)
NONSTREAM_BODY="{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}],\"max_tokens\":1}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------------- JDK, tools

java_major() { "$1/bin/java" -version 2>&1 | sed -nE 's/.*version "([0-9]+).*/\1/p' | head -1; }
pick_jdk() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ] && [ "$(java_major "$JAVA_HOME")" -ge 21 ]; then
    return
  fi
  for candidate in /usr/lib/jvm/*; do
    if [ -x "$candidate/bin/javac" ] && [ "$(java_major "$candidate")" -ge 21 ]; then
      JAVA_HOME=$candidate
      return
    fi
  done
  die "needs a JDK 21 or newer (set JAVA_HOME, or install one under /usr/lib/jvm)"
}
pick_jdk
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH:/usr/sbin:/sbin"

ensure_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} with apt-get"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}
ensure_tools

app_jar=app/target/gantry.jar
bench_jar=bench/target/gantry-bench.jar
newer_sources() { # prints something when a source under $1 is newer than $2
  find "$1" -path '*/target' -prune -o \( -name '*.java' -o -name 'pom.xml' -o -name '*.yml' -o -name '*.sql' \) -newer "$2" -print -quit
}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  if [ ! -s "$app_jar" ] || [ -n "$(newer_sources . "$app_jar")" ]; then
    log "building $app_jar"
    ./mvnw -B -q package -DskipTests
    if [ -n "$(newer_sources . "$app_jar")" ]; then
      # When only other modules changed, the jar plugin keeps the old (already repackaged) jar and
      # Spring Boot's repackage leaves it as it is: build the app module again from no jar (a new
      # file, which also leaves any JVM running the old one undisturbed).
      rm -f "$app_jar"
      ./mvnw -B -q -pl app -am package -DskipTests
    fi
    touch "$bench_jar"
  elif [ ! -s "$bench_jar" ] || [ -n "$(newer_sources bench "$bench_jar")" ]; then
    log "building $bench_jar"
    ./mvnw -B -q -pl bench package -DskipTests
    touch "$bench_jar" # the jar plugin leaves an up-to-date jar (and its time) alone
  fi
fi
[ -s "$app_jar" ] || die "$app_jar is missing"
[ -s "$bench_jar" ] || die "$bench_jar is missing"

# ------------------------------------------------------------------------------ processes, cleanup

work=$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench.XXXXXX")
# Gantry's data dir lies inside: as root its engines run as uids of their own, which must traverse it.
chmod 711 "$work"
# Run from copies: a rebuild of app/target/gantry.jar during the run would break the JVMs that have
# it open (classes load lazily from the jar).
jar_built=$(date -u -r "$app_jar" +%Y-%m-%dT%H:%MZ)
cp "$app_jar" "$work/gantry.jar"
cp "$bench_jar" "$work/gantry-bench.jar"
app_jar=$work/gantry.jar
bench_jar=$work/gantry-bench.jar
pgids=()       # process groups started here (each process is started with setsid)
gantry_pid=""

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [ -n "$gantry_pid" ] && kill -0 "$gantry_pid" 2>/dev/null; then
    # A graceful stop lets Gantry stop its own workers; their process group goes next anyway.
    kill -TERM "$gantry_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$gantry_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  local pg
  for pg in "${pgids[@]}"; do kill -TERM -- "-$pg" 2>/dev/null; done
  for _ in $(seq 50); do
    local alive=0
    for pg in "${pgids[@]}"; do pgrep -g "$pg" >/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pg in "${pgids[@]}"; do kill -KILL -- "-$pg" 2>/dev/null; done
  sleep 0.2
  local leftovers=""
  for pg in "${pgids[@]}"; do
    leftovers+=$(pgrep -a -g "$pg")
  done
  if [ -n "$leftovers" ]; then
    log "ERROR: processes survived the cleanup: $leftovers"
    status=1
  else
    log "cleanup: every process this run started has stopped (${#pgids[@]} process groups)"
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ $status -ne 0 ]; then
    log "logs kept in $work"
  else
    rm -rf "$work"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts "$@" in a new session (so in its own process group), output to $work/$1.log.
# Sets $started_pid.
start_group() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.log" 2>&1 </dev/null &
  started_pid=$!
  pgids+=("$started_pid")
  local pgid=""
  for _ in $(seq 50); do # setsid runs just after the fork
    pgid=$(ps -o pgid= -p "$started_pid" | tr -d ' ')
    [ "$pgid" = "$started_pid" ] && return
    [ -z "$pgid" ] && die "$name exited at once: $(tail -5 "$work/$name.log")"
    sleep 0.02
  done
  die "setsid did not give $name its own process group"
}

used_ports=" "
free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 40000))
    case "$used_ports" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports+="$port "
      echo "$port"
      return
    fi
  done
  die "found no free port"
}

# wait_http NAME SECONDS URL [curl args...]: until the URL answers 200
wait_http() {
  local name=$1 seconds=$2 url=$3
  shift 3
  local deadline=$((SECONDS + seconds)) code
  while true; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "$url" || true)
    [ "$code" = 200 ] && return 0
    [ $SECONDS -ge $deadline ] && return 1
    for pg in "${pgids[@]}"; do
      kill -0 "$pg" 2>/dev/null || die "$name: a started process exited; see $work/*.log"
    done
    sleep 0.25
  done
}

# --------------------------------------------------------------------------------------- machine

cores=$(nproc)
busy_before=$(awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat)
sleep 2
busy_pct=$(( ($(awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat) - busy_before) * 100 / (2 * $(getconf CLK_TCK) * cores) ))
log "machine: $cores cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1),"\
" $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
log "java $(java_major "$JAVA_HOME") ($JAVA_HOME), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | sed 's/.*: //')"
if [ "$busy_pct" -gt 10 ]; then
  log "WARNING: the machine is ${busy_pct}% busy before starting: other work will make the numbers noisy"
fi

# ---------------------------------------------------------------------------------- start targets

want() { case " $TARGETS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
sim_port=$(free_port)
nginx_port=$(free_port)
gantry_port=$(free_port)
temporal_port=$(free_port)

start_sim() {
  start_group sim java "${SIM_JVM_OPTS[@]}" -jar "$app_jar" \
    sim --port "$sim_port" --model "$MODEL" "${SIM_FLAGS[@]}"
}

start_nginx() {
  mkdir -p "$work/nginx"
  local user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes $cores;
daemon off;
master_process on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path $work/nginx/client_body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream sim {
    server 127.0.0.1:$sim_port;
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
EOF
  start_group nginx nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
}

start_gantry() {
  local jvm_opts
  jvm_opts=$(IFS=,; echo "${SIM_JVM_OPTS[*]}")
  start_group gantry env GANTRY_API_KEY="$KEY" SERVER_PORT="$gantry_port" \
    GANTRY_TEMPORAL_EMBEDDED_PORT="$temporal_port" GANTRY_DATA_DIR="$work/gantry-data" \
    java ${BENCH_GANTRY_JVM_OPTS:-} ${BENCH_JFR:+-XX:StartFlightRecording=filename=$BENCH_JFR,settings=profile,dumponexit=true} -jar "$app_jar" \
    --gantry.runtime.local.sim-jvm-options="$jvm_opts"
  gantry_pid=$started_pid
}

# Creates the bench deployment and waits for a healthy worker and for the gateway route.
# Sets $deployment_id and $gantry_ready (0/1).
deploy_on_gantry() {
  local auth=(-H "Authorization: Bearer $KEY")
  wait_http gantry 120 "http://127.0.0.1:$gantry_port/healthz" || die "Gantry did not become healthy; see $work/gantry.log"
  local args="" flag
  for flag in "${SIM_FLAGS[@]}"; do args+="${args:+,}\"$flag\""; done
  local body="{\"name\":\"bench\",\"model\":\"$MODEL\",\"framework\":\"sim\",\"min_workers\":1,\"max_workers\":1,\"concurrency\":512,\"framework_args\":[$args]}"
  local created
  created=$(curl -s -X POST "http://127.0.0.1:$gantry_port/api/v1/deployments" "${auth[@]}" \
    -H 'Content-Type: application/json' -d "$body")
  deployment_id=$(grep -o '"id":"[^"]*"' <<<"$created" | head -1 | cut -d'"' -f4)
  [ -n "$deployment_id" ] || die "creating the deployment failed: $created"
  log "gantry: deployment $deployment_id created, waiting for a healthy worker"
  local deadline=$((SECONDS + 120)) dep workers
  while true; do
    dep=$(curl -s "http://127.0.0.1:$gantry_port/api/v1/deployments/$deployment_id" "${auth[@]}")
    workers=$(curl -s "http://127.0.0.1:$gantry_port/api/v1/deployments/$deployment_id/workers" "${auth[@]}")
    if grep -q '"status":"running"' <<<"$dep" && grep -q '"status":"healthy"' <<<"$workers"; then
      break
    fi
    [ $SECONDS -ge $deadline ] && die "no healthy worker after 120 s: $dep $workers"
    sleep 0.5
  done
  local worker_cmd
  worker_cmd=$(pgrep -a -g "$gantry_pid" | grep -v "^$gantry_pid " | grep -m1 ' sim ' || true)
  log "gantry: worker healthy: ${worker_cmd:-"(worker process not found in Gantry's process group)"}"
  gantry_url="http://127.0.0.1:$gantry_port/openai/$deployment_id/v1/chat/completions"
  if wait_http gantry-route "$GATEWAY_WAIT_SECONDS" "$gantry_url" -X POST "${auth[@]}" \
    -H 'Content-Type: application/json' -d "$NONSTREAM_BODY"; then
    gantry_ready=1
  else
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${auth[@]}" -H 'Content-Type: application/json' \
      -d "$NONSTREAM_BODY" "$gantry_url" || true)
    log "WARNING: the gateway route answers HTTP $code, not 200, after ${GATEWAY_WAIT_SECONDS}s: (c) is skipped"
    gantry_ready=0
  fi
}

# ----------------------------------------------------------------------------------- measurements

cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$NONSTREAM_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d" ..
    " errors_status=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
EOF

declare -A R # R[target.metric.round] = one round's value; R[target.metric] = median over the rounds
field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$2"; }

# wrk_once TARGET URL THREADS CONNECTIONS SECONDS: prints wrk's RESULT line
wrk_once() {
  local out line
  out=$(wrk -t"$3" -c"$4" -d"${5}s" --timeout 10s -s "$work/post.lua" "$2")
  echo "$out" >>"$work/$1-wrk.log"
  line=$(grep '^RESULT' <<<"$out") || die "wrk printed no result: $out"
  echo "$line"
}
wrk_errors() { # socket errors and non-2xx answers; a run without a single answer counts as one error
  local errors=$(($(field errors_status "$1") + $(field errors_connect "$1") + $(field errors_read "$1") \
    + $(field errors_write "$1") + $(field errors_timeout "$1")))
  [ "$(field requests "$1")" = 0 ] && errors=$((errors + 1))
  echo "$errors"
}

# stream_once TARGET URL WARMUP_SECONDS SECONDS: prints StreamBench's RESULT line
stream_once() {
  local out line
  out=$(BENCH_KEY=$KEY java "${CLIENT_JVM_OPTS[@]}" -jar "$bench_jar" --url "$2" --model "$MODEL" \
    --streams "$STREAMS" --max-tokens "$STREAM_TOKENS" --warmup-seconds "$3" \
    --duration-seconds "$4" --timeout-seconds 15 --label "$1" || true)
  echo "$out" >>"$work/$1-stream.log"
  line=$(grep '^RESULT' <<<"$out") || die "StreamBench printed no result: $out"
  echo "$line"
}

count_errors() { R[$1.errors]=$((${R[$1.errors]:-0} + $2)); }

# JIT activity: CPU ticks of the C1/C2 compiler threads of the JVMs in the given process groups.
jit_ticks() {
  local pg pid total=0
  for pg in "$@"; do
    for pid in $(pgrep -g "$pg"); do
      total=$((total + $(cat /proc/"$pid"/task/*/stat 2>/dev/null \
        | awk -F') ' '/\(C[12] CompilerThre/ { split($2, f, " "); t += f[12] + f[13] } END { print t + 0 }')))
    done
  done
  echo "$total"
}

# warm_up TARGET URL: 1-second wrk rounds at c=32 until the JIT compilers of the target's JVMs
# have gone quiet (two rounds in a row under 5% of a core), at least $WARMUP_SECONDS rounds and
# $WARMUP_REQUESTS requests, at most $WARMUP_MAX_SECONDS rounds; then rounds of 4 s of streams
# until the compilers are quiet again (at most 2). A target that fails a request here is not
# measured.
warm_up() {
  local target=$1 url=$2 round=0 requests=0 quiet=0 rps line j0 jit streams=0
  local pg=${target_pgid[$target]} quiet_ticks=$(($(getconf CLK_TCK) / 20))
  while true; do
    round=$((round + 1))
    j0=$(jit_ticks "$pg")
    line=$(wrk_once "$target" "$url" 2 32 1)
    jit=$(($(jit_ticks "$pg") - j0))
    count_errors "$target" "$(wrk_errors "$line")"
    [ "${R[$target.errors]:-0}" = 0 ] || return 0
    rps=$(field rps "$line")
    requests=$((requests + $(field requests "$line")))
    if [ "$jit" -le "$quiet_ticks" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    if [ $round -ge "$WARMUP_SECONDS" ] && [ $requests -ge "$WARMUP_REQUESTS" ] && [ $quiet -ge 2 ]; then
      break
    fi
    if [ $round -ge "$WARMUP_MAX_SECONDS" ]; then
      log "  $target: the JIT is still compiling after $round s of warm-up"
      break
    fi
  done
  while [ $streams -lt 2 ]; do
    streams=$((streams + 1))
    j0=$(jit_ticks "$pg")
    line=$(stream_once "$target" "$url" 2 2)
    jit=$(($(jit_ticks "$pg") - j0))
    count_errors "$target" "$(field failed_streams "$line")"
    [ "${R[$target.errors]:-0}" = 0 ] || return 0
    [ "$jit" -le $((quiet_ticks * 4)) ] && break
  done
  log "$target warmed up: $round s of wrk ($requests requests, last second $rps req/s), $((streams * 4)) s of streams"
}

# CPU accounting, to tell a clean run from a noisy one: busy CPU ticks of the whole machine
# (user + nice + system + steal; interrupt time is left out, the loopback traffic itself makes it)
# and the ticks of the processes this run owns (its process groups, plus wrk and StreamBench,
# which are waited-for children of this script).
machine_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; }
own_ticks() {
  local total pid pg
  total=$(awk '{ print $16 + $17 }' "/proc/$$/stat")
  for pg in "${pgids[@]}"; do
    for pid in $(pgrep -g "$pg"); do
      total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}
window_begin() {
  window_busy=$(machine_busy_ticks)
  window_own=$(own_ticks)
  window_ns=$(date +%s%N)
}
window_end() { # adds the window to R[target.foreign_*]
  local target=$1
  R[$target.foreign_ticks]=$((${R[$target.foreign_ticks]:-0} + ($(machine_busy_ticks) - window_busy) - ($(own_ticks) - window_own)))
  R[$target.window_ns]=$((${R[$target.window_ns]:-0} + $(date +%s%N) - window_ns))
  R[$target.foreign_cpu]=$(awk -v f="${R[$target.foreign_ticks]}" -v e="${R[$target.window_ns]}" \
    -v hz="$(getconf CLK_TCK)" -v c="$cores" 'BEGIN { p = f / (e / 1e9 * hz * c) * 100; printf "%.1f", (p < 0 ? 0 : p) }')
}

METRICS=(c1_p50 c1_p99 c32_rps c32_p99 c64_rps c64_p99 ttft_p50_us ttft_p99_us gap_p50_us gap_p99_us)

# measure_c1 ROUND: latency at concurrency 1 for every target, in one-second wrk runs that take
# turns between the targets (each run on a new connection); a target's value for the round is the
# median over its runs. Sub-millisecond latencies on a VM drift with where the hops get scheduled,
# and such a drift can last tens of seconds: taking turns second by second lets every target see
# the same drift.
measure_c1() {
  local round=$1 second entry target line
  declare -A p50s=() p99s=()
  for second in $(seq "$C1_SECONDS"); do
    for entry in "${measured[@]}"; do
      target=${entry%% *}
      window_begin
      line=$(wrk_once "$target" "${entry#* }" 1 1 1)
      window_end "$target"
      count_errors "$target" "$(wrk_errors "$line")"
      p50s[$target]+=" $(field p50_us "$line")"
      p99s[$target]+=" $(field p99_us "$line")"
    done
  done
  for entry in "${measured[@]}"; do
    target=${entry%% *}
    R[$target.c1_p50.$round]=$(median ${p50s[$target]})
    R[$target.c1_p99.$round]=$(median ${p99s[$target]})
  done
}

# measure_round TARGET URL ROUND: throughput and streams for one target
measure_round() {
  local target=$1 url=$2 round=$3 line
  window_begin
  line=$(wrk_once "$target" "$url" 2 32 "$THROUGHPUT_SECONDS")
  count_errors "$target" "$(wrk_errors "$line")"
  R[$target.c32_rps.$round]=$(field rps "$line")
  R[$target.c32_p99.$round]=$(field p99_us "$line")
  line=$(wrk_once "$target" "$url" 2 64 "$THROUGHPUT_SECONDS")
  count_errors "$target" "$(wrk_errors "$line")"
  R[$target.c64_rps.$round]=$(field rps "$line")
  R[$target.c64_p99.$round]=$(field p99_us "$line")
  line=$(stream_once "$target" "$url" "$STREAM_WARMUP_SECONDS" "$STREAM_SECONDS")
  count_errors "$target" "$(field failed_streams "$line")"
  local metric
  for metric in ttft_p50_us ttft_p99_us gap_p50_us gap_p99_us; do
    R[$target.$metric.$round]=$(field "$metric" "$line")
  done
  window_end "$target"
  log "$(printf 'round %d %-6s c=1 p50 %6.3f ms p99 %7.3f ms | c=32 %6.0f/s | c=64 %6.0f/s | streams: TTFT p99 %7.3f ms, gap p99 %7.3f ms' \
    "$round" "$target" "$(bc_div "${R[$target.c1_p50.$round]}" 1000)" "$(bc_div "${R[$target.c1_p99.$round]}" 1000)" \
    "${R[$target.c32_rps.$round]}" "${R[$target.c64_rps.$round]}" \
    "$(bc_div "${R[$target.ttft_p99_us.$round]:-0}" 1000)" "$(bc_div "${R[$target.gap_p99_us.$round]:-0}" 1000)")"
}
bc_div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# ------------------------------------------------------------------------------------- main flow

measured=()       # "target url" of every target that warmed up without a failure
failed_targets=""
declare -A target_pgid
warm() { # warm TARGET URL
  window_begin
  warm_up "$1" "$2"
  window_end "$1"
  if [ "${R[$1.errors]:-0}" = 0 ]; then
    measured+=("$1 $2")
  else
    log "ERROR: ($1) failed ${R[$1.errors]} requests or streams during the warm-up; not measured (see $work/$1-*.log)"
    failed_targets+=" $1"
  fi
}

want gantry && start_gantry # first: it takes longest to start
(want direct || want nginx) && start_sim && target_pgid[direct]=$started_pid && target_pgid[nginx]=$started_pid
want nginx && start_nginx
if want direct || want nginx; then
  wait_http sim 60 "http://127.0.0.1:$sim_port/health" || die "the simulator did not start; see $work/sim.log"
fi
if want nginx; then
  wait_http nginx 30 "http://127.0.0.1:$nginx_port/health" || die "nginx did not start; see $work/nginx.log"
fi
# The simulator warms up while Gantry boots: nothing is measured before every target is warm.
want direct && warm direct "http://127.0.0.1:$sim_port/v1/chat/completions"
want nginx && warm nginx "http://127.0.0.1:$nginx_port/v1/chat/completions"
gantry_ready=0
want gantry && deploy_on_gantry
if [ "$gantry_ready" = 1 ]; then
  target_pgid[gantry]=$gantry_pid # Gantry and its sim worker
  warm gantry "$gantry_url"
fi

# Rounds interleave the targets, so a burst of other work on the machine hits one round of one
# target rather than all of a target's numbers; the table shows the median of the rounds.
for round in $(seq "$ROUNDS"); do
  [ ${#measured[@]} -gt 0 ] && measure_c1 "$round"
  for entry in "${measured[@]}"; do
    measure_round ${entry} "$round"
  done
done
for entry in "${measured[@]}"; do
  target=${entry%% *}
  for metric in "${METRICS[@]}"; do
    values=()
    for round in $(seq "$ROUNDS"); do
      [ -n "${R[$target.$metric.$round]:-}" ] && values+=("${R[$target.$metric.$round]}")
    done
    [ ${#values[@]} -gt 0 ] && R[$target.$metric]=$(median "${values[@]}")
  done
done

# ---------------------------------------------------------------------------------------- report

report() {
  local t m
  # row LABEL METRIC SCALE DECIMALS ADDED: one value per target, then (target - direct) for the proxies
  row() {
    local label=$1 metric=$2 scale=$3 decimals=$4 added=$5 t v d
    printf '%-30s' "$label"
    for t in direct nginx gantry; do
      v=${R[$t.$metric]:-}
      if [ -z "$v" ]; then printf '%12s' "n/a"; else awk -v v="$v" -v s="$scale" -v d="$decimals" 'BEGIN { printf "%12.*f", d, v / s }'; fi
    done
    if [ "$added" = 1 ]; then
      d=${R[direct.$metric]:-}
      for t in nginx gantry; do
        v=${R[$t.$metric]:-}
        if [ -z "$v" ] || [ -z "$d" ]; then printf '%14s' "n/a"; else awk -v v="$v" -v b="$d" -v s="$scale" -v dd="$decimals" 'BEGIN { printf "%+14.*f", dd, (v - b) / s }'; fi
      done
    fi
    echo
  }
  local dirty=""
  [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" + uncommitted changes"
  echo
  echo "Gateway benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $cores cores, java $(java_major "$JAVA_HOME"),"\
" gantry.jar of $jar_built (tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$dirty)"
  echo "sim ${SIM_FLAGS[*]}; non-streaming: max_tokens=1, wrk -c1 (-t1), -c32/-c64 (-t2)"
  echo "streams: $STREAMS concurrent, max_tokens=$STREAM_TOKENS ($((STREAM_TOKENS + 2)) chunks + [DONE])"
  echo "median of $ROUNDS interleaved rounds; per round and target: ${C1_SECONDS} x 1 s at c=1 (taking turns), ${THROUGHPUT_SECONDS} s at c=32 and c=64, ${STREAM_SECONDS} s of streams"
  echo
  printf '%-30s%12s%12s%12s%14s%14s\n' "" "(a) direct" "(b) nginx" "(c) gantry" "nginx added" "gantry added"
  row "c=1 latency p50 (ms)" c1_p50 1000 3 1
  row "c=1 latency p99 (ms)" c1_p99 1000 3 1
  row "c=32 throughput (req/s)" c32_rps 1 0 0
  row "c=64 throughput (req/s)" c64_rps 1 0 0
  row "c=32 latency p99 (ms)" c32_p99 1000 3 1
  row "c=64 latency p99 (ms)" c64_p99 1000 3 1
  row "64 streams: TTFT p50 (ms)" ttft_p50_us 1000 3 1
  row "64 streams: TTFT p99 (ms)" ttft_p99_us 1000 3 1
  row "64 streams: gap p50 (ms)" gap_p50_us 1000 3 1
  row "64 streams: gap p99 (ms)" gap_p99_us 1000 3 1
  row "CPU used by others (%)" foreign_cpu 1 1 0
  echo
  echo "rounds (c=1 p50 ms / c=32 req/s / gap p99 ms):"
  for entry in "${measured[@]}"; do
    t=${entry%% *}
    printf '  %-7s' "$t"
    for round in $(seq "$ROUNDS"); do
      awk -v a="${R[$t.c1_p50.$round]:-0}" -v b="${R[$t.c32_rps.$round]:-0}" -v c="${R[$t.gap_p99_us.$round]:-0}" \
        'BEGIN { printf "  %.3f / %.0f / %.3f", a / 1000, b, c / 1000 }'
    done
    echo
  done
  echo
  for entry in "${measured[@]}"; do
    t=${entry%% *}
    [ "${R[$t.errors]:-0}" != 0 ] && echo "ERRORS: ($t) had ${R[$t.errors]} failed requests or streams (non-2xx, socket errors, incomplete streams): its numbers do not count"
    if awk -v f="${R[$t.foreign_cpu]:-0}" 'BEGIN { exit !(f > 5) }'; then
      echo "NOISY: other processes used ${R[$t.foreign_cpu]}% of the CPU while ($t) was measured; run again on a quiet machine"
    fi
  done
  [ -n "$failed_targets" ] && echo "NOT MEASURED:$failed_targets (failed during the warm-up; see the log above)"
  for t in direct nginx gantry; do
    if [ -z "${R[$t.gap_p99_us]:-}" ] || [ "${R[$t.errors]:-0}" != 0 ]; then
      echo "targets: not evaluated, ($t) has no valid numbers"
      return 0
    fi
  done
  awk -v dn="${R[direct.c1_p50]}" -v nn="${R[nginx.c1_p50]}" -v gn="${R[gantry.c1_p50]}" \
    -v n32="${R[nginx.c32_rps]}" -v g32="${R[gantry.c32_rps]}" \
    -v dg="${R[direct.gap_p99_us]}" -v gg="${R[gantry.gap_p99_us]}" \
    -v dt="${R[direct.ttft_p99_us]}" -v gt="${R[gantry.ttft_p99_us]}" 'BEGIN {
      na = nn - dn; ga = gn - dn
      if (na > 0) { r = ga / na; printf "target  c=1 added p50: gantry %.3f ms / nginx %.3f ms = %.2fx (at most 3x)   %s\n", ga/1000, na/1000, r, (r <= 3 ? "PASS" : "FAIL") }
      else { printf "target  c=1 added p50: gantry %.3f ms, nginx %.3f ms (nginx added <= 0: no ratio)   %s\n", ga/1000, na/1000, (ga <= 0 ? "PASS" : "n/a") }
      t = g32 / n32
      printf "target  c=32 throughput: gantry / nginx = %.2f (at least 0.4, aim 0.6)   %s\n", t, (t >= 0.6 ? "PASS (aim met)" : t >= 0.4 ? "PASS" : "FAIL")
      a = (gg - dg) / 1000
      printf "target  64 streams, added gap p99: %.3f ms (under 1 ms)   %s\n", a, (a < 1 ? "PASS" : "FAIL")
      printf "info    64 streams, added TTFT p99: %.3f ms\n", (gt - dt) / 1000
    }'
}
report | tee "$work/results.txt"
