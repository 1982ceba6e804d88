#!/usr/bin/env bash
# A Spark standalone cluster on this machine, from the Spark inside the project's pyspark:
# one master and two workers, bound to 127.0.0.1, small memory.
#
#   scripts/cluster.sh start     # prints the master URL, e.g. spark://127.0.0.1:7077
#   scripts/cluster.sh status
#   scripts/cluster.sh stop
#
# Then: ./spark-submit.sh --master spark://127.0.0.1:7077 pipeline --profile cluster
# Settings (environment): CLUSTER_PORT (7077), CLUSTER_UI_PORT (8080), CLUSTER_WORKERS (2),
# CLUSTER_WORKER_CORES (1), CLUSTER_WORKER_MEMORY (1g), CLUSTER_DIR (.cache/cluster: pid
# files, logs, the workers' scratch space).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

port=${CLUSTER_PORT:-7077}
ui_port=${CLUSTER_UI_PORT:-8080}
workers=${CLUSTER_WORKERS:-2}
cores=${CLUSTER_WORKER_CORES:-1}
memory=${CLUSTER_WORKER_MEMORY:-1g}
state=${CLUSTER_DIR:-$here/.cache/cluster}
master_url="spark://127.0.0.1:$port"

# sbin/start-master.sh is not shipped with pyspark; spark-class is, and runs the same classes.
export SPARK_HOME=${SPARK_HOME:-$("$here/.venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-256m}
# The executors run the project's Python, so they import the same pinned packages.
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$here/.venv/bin/python}
export PATH="$here/.venv/bin:$PATH"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

daemon() {  # name, log marker that means "up", class and arguments
  local name=$1 marker=$2; shift 2
  if alive "$state/$name.pid"; then echo "cluster: $name already running (pid $(cat "$state/$name.pid"))"; return; fi
  nohup "$SPARK_HOME/bin/spark-class" "$@" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
  for _ in $(seq 1 240); do
    grep -q "$marker" "$state/$name.log" 2>/dev/null && return
    alive "$state/$name.pid" || { tail -n 20 "$state/$name.log" >&2; echo "cluster: $name died (log $state/$name.log)" >&2; exit 1; }
    sleep 0.5
  done
  echo "cluster: $name not up after 120s (log $state/$name.log)" >&2
  exit 1
}

start() {
  mkdir -p "$state"
  daemon master "I have been elected leader" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port "$ui_port"
  for i in $(seq 1 "$workers"); do
    mkdir -p "$state/worker-$i"
    daemon "worker-$i" "Successfully registered with master" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --cores "$cores" --memory "$memory" --webui-port 0 \
      --work-dir "$state/worker-$i" "$master_url"
  done
  echo "$master_url"
}

stop() {
  local pidfile name
  for pidfile in "$state"/worker-*.pid "$state"/master.pid; do
    [ -f "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 40); do alive "$pidfile" || break; sleep 0.25; done
      alive "$pidfile" && kill -9 "$(cat "$pidfile")"
      echo "cluster: stopped $name"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local pidfile any=1
  for pidfile in "$state"/master.pid "$state"/worker-*.pid; do
    [ -f "$pidfile" ] || continue
    any=0
    if alive "$pidfile"; then echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))"
    else echo "$(basename "$pidfile" .pid): dead"; fi
  done
  [ $any -eq 0 ] || echo "cluster: not started"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
