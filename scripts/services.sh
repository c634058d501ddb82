#!/usr/bin/env bash
# Start PostgreSQL and Redis on loopback when their ports do not answer; do nothing when they do.
# Needs root and Debian packages (postgresql, redis-server), installed here when missing.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_ready=0
need_pkg() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$apt_ready" = 0 ]; then apt-get update -qq && apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

if ! port_open 5432; then
  echo "services: PostgreSQL not answering on 127.0.0.1:5432, starting it"
  need_pkg pg_ctlcluster postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  grep -q "^host all all 127.0.0.1/32 trust" "$hba" \
    || sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do port_open 5432 && break; sleep 0.5; done
  # trust auth on loopback and a root role with a test database, as on the python-svc machines
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='root'\"" | grep -q 1 \
    || su postgres -c "psql -qc 'CREATE ROLE root SUPERUSER LOGIN'"
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
    || su postgres -c "psql -qc 'CREATE DATABASE test OWNER root'"
fi

if ! port_open 6379; then
  echo "services: Redis not answering on 127.0.0.1:6379, starting it"
  need_pkg redis-server redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do port_open 6379 && break; sleep 0.2; done
fi

port_open 5432 || { echo "services: PostgreSQL still not answering on 127.0.0.1:5432" >&2; exit 1; }
port_open 6379 || { echo "services: Redis still not answering on 127.0.0.1:6379" >&2; exit 1; }
