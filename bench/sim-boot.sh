#!/usr/bin/env bash
# How long `sim` engines take to boot when N start at once, with and without the ahead-of-time
# cache Gantry builds for them (docs/benchmarks.md "Engine boot"). Takes the simulator's jars out
# of the platform's fat jar as Gantry does, trains the cache once (dev.gantry.sim.SimTraining
# under -XX:AOTCacheOutput, JDK 25+), then for each round starts N engines together with the
# workers' JVM options and prints when each answered /health.
#
#   bench/sim-boot.sh [--jar app/target/gantry.jar] [--workers 8] [--rounds 2]
set -euo pipefail
cd "$(dirname "$0")/.."
jar=app/target/gantry.jar
workers=8
rounds=2
while [ $# -gt 0 ]; do
  case "$1" in
    --jar) jar=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
java=$java_home/bin/java
dir=$(mktemp -d /tmp/gantry-sim-boot.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
(cd "$dir" && "$java_home/bin/jar" xf "$(realpath "$OLDPWD/$jar")" BOOT-INF/lib)
mv "$dir"/BOOT-INF/lib/* "$dir"/
simjar=$(ls "$dir"/engine-sim-*.jar)
options=(-XX:+UseSerialGC -Xmx192m -XX:TieredStopAtLevel=1)
start=$(date +%s%N)
"$java" "${options[@]}" -XX:AOTCacheOutput="$dir/sim.aot" -cp "$simjar" dev.gantry.sim.SimTraining \
  > "$dir/training.log" 2>&1
echo "cache trained in $(( ($(date +%s%N) - start) / 1000000 )) ms ($(du -h "$dir/sim.aot" | cut -f1))"

boot() { # label, extra JVM options...
  local label=$1; shift
  pids=()
  local t0; t0=$(date +%s%N)
  for i in $(seq 1 "$workers"); do
    "$java" "${options[@]}" "$@" -cp "$simjar" dev.gantry.sim.SimMain --host 127.0.0.1 \
      --port $((19400 + i)) --model boot --startup-seconds=0 > "$dir/sim-$i.log" 2>&1 &
    pids+=($!)
  done
  local last=0
  for i in $(seq 1 "$workers"); do
    until curl -sf -o /dev/null "http://127.0.0.1:$((19400 + i))/health"; do sleep 0.02; done
    last=$(( ($(date +%s%N) - t0) / 1000000 ))
  done
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  pids=()
  echo "$label: $workers engines at once, all healthy after $last ms"
}
for r in $(seq 1 "$rounds"); do
  boot "round $r without the cache" -Xshare:auto
  boot "round $r with the cache   " -XX:AOTCache="$dir/sim.aot"
done
