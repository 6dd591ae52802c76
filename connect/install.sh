#!/usr/bin/env bash
# Everything the downstream (Kafka Connect → PostgreSQL) tests need, installed by the project:
#   - Kafka Connect standalone and the Debezium JDBC sink: jars from Maven Central into
#     connect/cache (resolved again whenever a pom changes);
#   - PostgreSQL's server binaries: Debian's `postgresql` package, only if they are missing.
# Idempotent: a second run does nothing. Called by `make install`.
set -euo pipefail
cd "$(dirname "$0")"

stamp=cache/.poms.sha256
wanted=$(cat pom.xml worker/pom.xml jdbc-sink/pom.xml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  command -v mvn >/dev/null 2>&1 || { echo "connect/install.sh: Maven (mvn) is needed: apt-get install maven" >&2; exit 1; }
  # A changed pom may drop jars: start from an empty cache rather than mixing versions.
  rm -rf cache
  mvn -B -q -Dstyle.color=never -f pom.xml dependency:copy-dependencies
  echo "$wanted" > "$stamp"
  echo "connect/install.sh: Kafka Connect and the Debezium JDBC sink are in connect/cache"
fi

have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1
}
if ! have_postgres; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "connect/install.sh: PostgreSQL is missing; as root: apt-get install postgresql" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  echo "connect/install.sh: installed PostgreSQL from Debian's postgresql package"
fi
