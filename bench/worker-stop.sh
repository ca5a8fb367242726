#!/usr/bin/env bash
# How long after its idle deadline a reaped worker stops, on a fresh Gantry with its embedded
# defaults (docs/benchmarks.md "Third round"): a scale-to-zero sim deployment (idle 5 s) gets one
# request per round; 9 s later the workers listing's stopped_at is compared with the request's end
# plus the idle timeout. Every reap bills that overhead.
#
#   bench/worker-stop.sh [--jar app/target/gantry.jar] [--rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
jar=app/target/gantry.jar
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
key=gk_$(head -c32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
data=$(mktemp -d /tmp/gantry-stop-data.XXXXXX); chmod 711 "$data"
log=$(mktemp /tmp/gantry-stop.XXXXXX.log)
SERVER_PORT=18493 GANTRY_TEMPORAL_EMBEDDED_PORT=17493 GANTRY_DATA_DIR=$data GANTRY_API_KEY=$key \
  "$java" -jar "$jar" > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true; wait $pid 2> /dev/null || true; rm -rf "$data"' EXIT
api=localhost:18493
for _ in $(seq 1 120); do curl -sf $api/healthz > /dev/null 2>&1 && break; sleep 1; done
dep=$(curl -s -X POST $api/api/v1/deployments -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d '{"name":"stop","model":"sim-stop","framework":"sim","min_workers":0,"max_workers":2,"concurrency":16,"idle_timeout_seconds":5,"wait_time_seconds":60,"framework_args":["--startup-seconds=1","--ttft-ms=50","--inter-token-ms=5"]}' \
  | sed -E 's/.*"id":"(dep_[a-z0-9]+)".*/\1/')
for _ in $(seq 1 60); do
  curl -s $api/api/v1/deployments/"$dep" -H "Authorization: Bearer $key" | grep -q '"status":"running"' && break
  sleep 1
done
for _ in $(seq 1 "$rounds"); do
  curl -s -o /dev/null $api/openai/"$dep"/v1/chat/completions -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d '{"model":"sim-stop","messages":[{"role":"user","content":"hi"}],"max_tokens":10}'
  ended=$(date -u +%s.%N)
  sleep 9
  curl -s $api/api/v1/deployments/"$dep"/workers -H "Authorization: Bearer $key" |
    python3 -c '
import datetime, json, sys
ended = float(sys.argv[1])
def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
for w in json.load(sys.stdin):
    if w.get("stopped_at") and at(w["stopped_at"]) > ended - 1:
        stopped = at(w["stopped_at"])
        print("worker %s: stopped %.2f s after its idle deadline (alive %.2f s)"
              % (w["id"], stopped - ended - 5, stopped - at(w["created_at"])))
' "$ended"
done
