#!/bin/sh
# Installs what the tests need (Debian/Ubuntu), only when something is missing.
# Idempotent and quiet; tests/run.sh runs it before building, and the test
# harness runs it again before the first DC starts. Needs root (or sudo) the
# first time on a fresh machine.
#
# - The Samba AD DC lab: samba-ad-dc & co., ldap-utils, openssl.
# - Kerberos tests: krb5-user (kinit, klist: tickets from the lab DC's KDC).
# - Building dwb with `--features kerberos` (what tests/run.sh builds): ldap3's
#   GSSAPI support generates its libgssapi bindings with bindgen, which loads
#   libclang (libclang-dev) and reads the MIT Kerberos headers and
#   mit-krb5-gssapi.pc (libkrb5-dev, found through pkg-config).
# - The package test: systemd (systemd-analyze verify), cargo-deb.
set -eu

missing=""
for tool in samba samba-tool ldapsearch ldapadd openssl; do
    if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ]; then
        missing="$missing $tool"
    fi
done
# samba-ad-provision is only a Recommends of samba-ad-dc, but provisioning
# fails without the setup files it ships.
if ! [ -d /usr/share/samba/setup ]; then
    missing="$missing samba-ad-provision"
fi
for tool in kinit klist pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if ! pkg-config --exists mit-krb5-gssapi 2>/dev/null; then
    missing="$missing libkrb5-dev"
fi
# bindgen needs libclang and clang's own headers (stddef.h): libclang-dev brings both.
if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q 'ok installed' \
        || missing="$missing libclang-dev"
elif ! ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1; then
    missing="$missing libclang"
fi
# The package test (tests/service.rs): systemd-analyze verifies the units
# (package systemd); cargo-deb builds the package (from crates.io, below).
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd-analyze"
if ! cargo deb --version >/dev/null 2>&1; then
    echo "dwb test lab: installing cargo-deb (cargo install cargo-deb --locked)" >&2
    log=$(mktemp)
    # Its own temporary target dir: not dwb's (CARGO_TARGET_DIR), whose lock a
    # running build may hold.
    if ! (unset CARGO_TARGET_DIR; cargo install cargo-deb --locked) >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "dwb test lab: installing cargo-deb failed" >&2
        exit 1
    fi
    rm -f "$log"
fi
[ -z "$missing" ] && exit 0

packages="samba-ad-dc samba-ad-provision ldb-tools ldap-utils python3-samba openssl \
krb5-user libkrb5-dev libclang-dev pkg-config systemd"
echo "dwb test lab: installing packages (missing:$missing)" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    echo "dwb test lab: need root to install packages; run: apt-get install $packages" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# shellcheck disable=SC2086 # the package list is meant to split
if ! { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $packages; } \
        >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "dwb test lab: package installation failed" >&2
    exit 1
fi
rm -f "$log"
