#!/usr/bin/env bash
# Replays slices of the bundled traces against a fresh Gantry, one slice per run, the way
# docs/benchmarks.md "Replay (issue 8)" did: a scale-to-zero sim deployment (min 0, max 8,
# concurrency 16, idle 5 s, wait 60 s; sim --startup-seconds=1 --ttft-ms=50 --inter-token-ms=5)
# replayed at 10x. Prints each run's table, and after it three predictions of its worker-seconds:
# the what-if over the trace (engine model) with the run's mean cold start, the same with the cold
# start model the run fitted to its workers (base + per boot in progress), and the run's own
# calibrated what-if (its measured request times and fitted cold starts, under its settings),
# which the replay prints itself next to the measured worker-seconds.
#
#   bench/replay-slices.sh [--jar app/target/gantry.jar] [--out DIR] [--max-tokens-cap N] \
#     code:0 code:20 conv:0 ...
#
# Each SLICE is TRACE:FROM_MINUTE (20 trace minutes each). --max-tokens-cap caps every request's
# generated tokens (in the replay and the prediction alike): at 10x the conversation trace streams
# more tokens per second than two cores can relay. Needs ports 18481 and 17481 free.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=app/target/gantry.jar
out=$(mktemp -d /tmp/gantry-replays.XXXXXX)
slices=()
cap=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --max-tokens-cap) cap=(--max-tokens-cap "$2"); shift 2 ;;
    *) slices+=("$1"); shift ;;
  esac
done
[ ${#slices[@]} -gt 0 ] || slices=(code:0 code:20 conv:0 conv:20)
mkdir -p "$out"
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
key=gk_$(head -c32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
for slice in "${slices[@]}"; do
  trace=${slice%%:*}; from=${slice##*:}
  data=$(mktemp -d /tmp/gantry-replay-data.XXXXXX); chmod 711 "$data"
  SERVER_PORT=18481 GANTRY_TEMPORAL_EMBEDDED_PORT=17481 GANTRY_DATA_DIR=$data GANTRY_API_KEY=$key \
    "$java" -jar "$jar" > "$out/gantry-$trace-$from.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do curl -sf localhost:18481/healthz > /dev/null 2>&1 && break; sleep 1; done
  dep=$(curl -s -X POST localhost:18481/api/v1/deployments -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d '{"name":"replay","model":"sim-replay","framework":"sim","min_workers":0,"max_workers":8,"concurrency":16,"idle_timeout_seconds":5,"wait_time_seconds":60,"framework_args":["--startup-seconds=1","--ttft-ms=50","--inter-token-ms=5"]}' \
    | sed -E 's/.*"id":"(dep_[a-z0-9]+)".*/\1/')
  for _ in $(seq 1 60); do
    curl -s localhost:18481/api/v1/deployments/"$dep" -H "Authorization: Bearer $key" | grep -q '"status":"running"' && break
    sleep 1
  done
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  GANTRY_API_KEY=$key ./gantry replay --url http://localhost:18481 --deployment "$dep" --trace "$trace" \
    --speed 10 --from-minute "$from" --minutes 20 --engine-ttft-ms 50 --engine-inter-token-ms 5 "${cap[@]}" \
    > "$out/replay-$trace-$from.out" 2> "$out/replay-$trace-$from.err" || true
  echo "== $trace from minute $from (load before: $load) =="
  grep -v REPLAY_RESULT "$out/replay-$trace-$from.out" || true
  cold=$(sed -nE 's/.*created to healthy: mean ([0-9.]+) s.*/\1/p' "$out/replay-$trace-$from.out")
  if [ -n "$cold" ]; then
    ./gantry replay --what-if --trace "$trace" --speed 10 --from-minute "$from" --minutes 20 \
      --cold-start-seconds "$cold" "${cap[@]}" | grep -v WHATIF_RESULT | tail -1 | sed 's/^/what-if with the measured cold start: /'
  fi
  # The fitted model as --what-if options, e.g. "--cold-start-seconds 1.2 --cold-start-per-boot-seconds 0.4".
  read -r -a model <<< "$(sed -nE 's/^what-if cold start model: .*; in --what-if: (.*)$/\1/p' "$out/replay-$trace-$from.out")"
  if [ ${#model[@]} -gt 0 ]; then
    ./gantry replay --what-if --trace "$trace" --speed 10 --from-minute "$from" --minutes 20 \
      "${model[@]}" "${cap[@]}" | grep -v WHATIF_RESULT | tail -1 | sed "s/^/what-if with the fitted cold start model (${model[*]}): /"
  fi
  grep "^what-if for this run's settings" "$out/replay-$trace-$from.out" || true
  kill "$pid"; wait "$pid" 2> /dev/null || true
  rm -rf "$data"
done
echo "outputs in $out"
