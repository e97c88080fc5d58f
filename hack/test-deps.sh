#!/usr/bin/env bash
# Makes sure the database servers the tests start (throwaway instances, see
# internal/testdb) are installed: PostgreSQL 15 and MariaDB. Installs them with apt
# on Debian/Ubuntu when run as root; otherwise says exactly what to install.
set -euo pipefail

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
have_mariadb() { command -v mariadb-install-db >/dev/null && { command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; }; }

missing=()
have_postgres || missing+=(postgresql)
have_mariadb || missing+=(mariadb-server)

if [ ${#missing[@]} -eq 0 ]; then
  echo "test databases: PostgreSQL and MariaDB servers are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "test databases: missing ${missing[*]}." >&2
  echo "Install them (Debian/Ubuntu): sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  echo "The tests start their own throwaway servers from these binaries; nothing needs to be running." >&2
  exit 1
fi

echo "test databases: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
# Keep apt from starting the system-wide services: the tests run their own instances.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgres && have_mariadb || { echo "test databases: install of ${missing[*]} did not provide the server binaries" >&2; exit 1; }
echo "test databases: installed ${missing[*]}"
