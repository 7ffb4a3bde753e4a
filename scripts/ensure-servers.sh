#!/usr/bin/env bash
# Make sure the servers the end-to-end tests and benchmarks run are installed
# (Debian bookworm packages): Prosody (+ prosody-modules for mod_privilege),
# ejabberd, InspIRCd, Atheme, ngircd, PostgreSQL 15, biboumi, openssl.
#
# Idempotent: does nothing when everything is there. Otherwise, as root, installs
# the missing set with apt-get without starting any daemon (policy-rc.d); as
# another user, prints the command to run and exits 1. Exits non-zero whenever
# something is still missing at the end. ENSURE_SERVERS_FORCE=1 runs the
# install even when everything is present (to test this script).
set -euo pipefail

PACKAGES=(prosody prosody-modules ejabberd inspircd atheme-services ngircd postgresql-15 biboumi openssl)

# check NAME TEST...: report whether the component is usable.
missing=()
check() {
  local name=$1
  shift
  if ! "$@" >/dev/null 2>&1; then
    missing+=("$name")
  fi
}

have_bin() {
  # Server binaries live in /usr/sbin, which a non-root PATH may lack.
  PATH="$PATH:/usr/sbin:/sbin" command -v "$1"
}

have_ejabberd_libs() {
  compgen -G '/usr/lib/*/ejabberd-[0-9]*/ebin/ejabberd.app' || compgen -G '/usr/lib/erlang/lib/ejabberd-[0-9]*/ebin/ejabberd.app'
}

run_checks() {
  missing=()
  check prosody have_bin prosody
  check prosodyctl have_bin prosodyctl
  check 'prosody-modules (mod_privilege)' test -f /usr/lib/prosody/modules/mod_privilege/mod_privilege.lua
  check 'erl (ejabberd)' have_bin erl
  check 'ejabberd Erlang libs' have_ejabberd_libs
  check inspircd have_bin inspircd
  check 'inspircd ssl_gnutls module' test -f /usr/lib/inspircd/modules/m_ssl_gnutls.so
  check atheme-services have_bin atheme-services
  check ngircd have_bin ngircd
  check 'postgresql-15 (initdb)' test -x /usr/lib/postgresql/15/bin/initdb
  check 'postgresql-15 (postgres)' test -x /usr/lib/postgresql/15/bin/postgres
  check biboumi have_bin biboumi
  check openssl have_bin openssl
}

run_checks
if [ ${#missing[@]} -eq 0 ] && [ "${ENSURE_SERVERS_FORCE:-0}" != 1 ]; then
  echo "ensure-servers: all test servers present"
  exit 0
fi

echo "ensure-servers: missing: ${missing[*]:-(none; forced)}" >&2
INSTALL_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-upgrade ${PACKAGES[*]}"

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
ensure-servers: not root, cannot install. Run as root (no daemon will be started
if /usr/sbin/policy-rc.d exits 101 meanwhile):

  printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  $INSTALL_CMD
  rm -f /usr/sbin/policy-rc.d
EOF
  exit 1
fi

# Keep package scripts from starting prosody/ejabberd/inspircd/ngircd/postgres
# services: invoke-rc.d asks /usr/sbin/policy-rc.d, exit 101 = "not allowed".
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
if [ -e "$POLICY" ]; then
  POLICY_BACKUP=$(mktemp)
  cp -p "$POLICY" "$POLICY_BACKUP"
fi
restore_policy() {
  if [ -n "$POLICY_BACKUP" ]; then
    cp -p "$POLICY_BACKUP" "$POLICY" && rm -f "$POLICY_BACKUP"
  else
    rm -f "$POLICY"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' > "$POLICY"
chmod +x "$POLICY"

export DEBIAN_FRONTEND=noninteractive
# --no-upgrade: install what is missing, leave installed packages as they are.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
echo "ensure-servers: installing ${PACKAGES[*]}" >&2
if ! apt-get "${APT_OPTS[@]}" update; then
  echo "ensure-servers: ERROR: apt-get update failed" >&2
  exit 1
fi
if ! apt-get "${APT_OPTS[@]}" install -y --no-upgrade "${PACKAGES[@]}"; then
  echo "ensure-servers: ERROR: apt-get install ${PACKAGES[*]} failed" >&2
  exit 1
fi

run_checks
if [ ${#missing[@]} -ne 0 ]; then
  echo "ensure-servers: ERROR: still missing after install: ${missing[*]}" >&2
  exit 1
fi
echo "ensure-servers: all test servers installed"
