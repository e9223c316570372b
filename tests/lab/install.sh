#!/bin/sh
# Installs what the Samba AD DC test lab needs (Debian/Ubuntu), only when a
# tool is missing. Idempotent and quiet; the test harness runs it before the
# first DC starts. Needs root (or sudo) the first time on a fresh machine.
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
[ -z "$missing" ] && exit 0

echo "dwb test lab: installing Samba AD DC packages (missing:$missing)" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    echo "dwb test lab: need root to install samba-ad-dc; run: apt-get install samba-ad-dc samba-ad-provision ldb-tools ldap-utils python3-samba openssl" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends \
        samba-ad-dc samba-ad-provision ldb-tools ldap-utils python3-samba openssl; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "dwb test lab: package installation failed" >&2
    exit 1
fi
rm -f "$log"
