#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback, modelgraph servers on different nodes,
# and the checks in check.py: concurrent writes through every node, certification
# conflicts retried, a node killed mid-write and rejoining. Everything it starts lives
# under one temporary directory and is stopped at the end, passed or not.
#
#   bash deploy/galera/run.sh [--writes N]     (N version creates per round, default 300)
#
# Needs: mariadbd and mariadb-install-db (MariaDB 10.6+), Debian's galera-4, rsync (the
# state transfer), python3, and the modelgraph binary ($MODELGRAPH_BIN, or the debug
# build under $CARGO_TARGET_DIR or target/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

provider="${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}"
for need in mariadbd mariadb-install-db mariadb mariadb-admin rsync python3; do
  command -v "$need" >/dev/null || { echo "galera: $need is not installed" >&2; exit 1; }
done
[ -f "$provider" ] || { echo "galera: no Galera provider at $provider (Debian: apt-get install galera-4)" >&2; exit 1; }
if [ -z "${MODELGRAPH_BIN:-}" ]; then
  for candidate in "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/debug/modelgraph}" "$repo/target/debug/modelgraph"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then MODELGRAPH_BIN="$candidate"; break; fi
  done
fi
[ -x "${MODELGRAPH_BIN:-}" ] || { echo "galera: modelgraph binary not found (cargo build, or set MODELGRAPH_BIN)" >&2; exit 1; }
export MODELGRAPH_BIN

# ports: node N (1..3) serves SQL on 23305+N, Galera replication on 24566+N, incremental
# state transfer on 25566+N, full state transfer (rsync) on 26566+N
base="$(mktemp -d /tmp/modelgraph-galera.XXXXXX)"
chmod 755 "$base"
# the nodes run as an ordinary user: as root, the rsync state transfer's daemon drops to
# `nobody` and cannot write the joiner's files
if [ "$(id -u)" = 0 ]; then db_user="${GALERA_USER:-mysql}"; else db_user="$(id -un)"; fi
members="gcomm://127.0.0.1:24567,127.0.0.1:24568,127.0.0.1:24569"

stop_all() {
  local status=$?
  set +e
  # a failed check leaves the nodes' own account of it in CI's log (the folder goes)
  if [ "$status" != 0 ]; then
    for n in 1 2 3; do
      if [ -f "$base/node$n/error.log" ]; then
        echo "== galera: node$n error.log, last 40 lines" >&2
        tail -n 40 "$base/node$n/error.log" >&2
      fi
    done
  fi
  if [ -f "$base/servers.pids" ]; then
    xargs -r kill <"$base/servers.pids" 2>/dev/null
  fi
  for n in 1 2 3; do
    if [ -f "$base/node$n/mariadbd.pid" ]; then
      kill "$(cat "$base/node$n/mariadbd.pid")" 2>/dev/null
    fi
  done
  for _ in $(seq 1 100); do
    pgrep -f "$base/node" >/dev/null || break
    sleep 0.2
  done
  pkill -9 -f "$base/node" 2>/dev/null
  if [ "${GALERA_KEEP:-}" = 1 ]; then echo "galera: kept $base"; else rm -rf "$base"; fi
}
trap stop_all EXIT

config() {
  local n="$1"
  cat >"$base/node$n.cnf" <<CNF
[mysqld]
user=$db_user
datadir=$base/node$n/data
socket=$base/node$n/mariadb.sock
pid-file=$base/node$n/mariadbd.pid
log-error=$base/node$n/error.log
port=$((23305 + n))
bind-address=127.0.0.1
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=2
wsrep_on=ON
wsrep_provider=$provider
wsrep_cluster_name=modelgraph-test
wsrep_cluster_address=$members
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$((24566 + n))
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((24566 + n));ist.recv_addr=127.0.0.1:$((25566 + n));gcache.size=128M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((26566 + n))
CNF
}

# start_node N [--wsrep-new-cluster]: starts node N and waits until it is synced
start_node() {
  local n="$1"
  shift
  mariadbd --defaults-file="$base/node$n.cnf" "$@" >>"$base/node$n/stdout.log" 2>&1 &
  disown
  for _ in $(seq 1 300); do
    if [ "$(sql "$n" "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2)" = Synced ]; then
      return 0
    fi
    sleep 0.2
  done
  echo "galera: node $n did not sync; its log:" >&2
  tail -40 "$base/node$n/error.log" >&2
  exit 1
}

# sql N STATEMENT: one statement on node N, as root over its socket, tab-separated
sql() {
  mariadb --no-defaults -S "$base/node$1/mariadb.sock" -u root -N -B -e "$2"
}

echo "== galera: three nodes under $base"
for n in 1 2 3; do
  mkdir -p "$base/node$n/data"
  config "$n"
  mariadb-install-db --no-defaults --datadir="$base/node$n/data" --user="$db_user" \
    --auth-root-authentication-method=normal >"$base/node$n/install.log" 2>&1
  chown -R "$db_user" "$base/node$n"
done
started=$SECONDS
start_node 1 --wsrep-new-cluster
sql 1 "CREATE USER 'modelgraph'@'127.0.0.1'; GRANT ALL ON *.* TO 'modelgraph'@'127.0.0.1';
       CREATE DATABASE modelgraph CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
start_node 2
start_node 3
echo "== galera: cluster of $(sql 1 "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2) synced in $((SECONDS - started)) s"

python3 "$here/check.py" --base "$base" "$@"
