#!/usr/bin/env bash
# Runs every dwb check and test, installing what the tests need first (Samba AD DC,
# the OpenLDAP client tools, krb5-user, and libclang + the MIT Kerberos headers that
# the `kerberos` feature builds against, from Debian's packages, when missing).
# Samba tests start real domain controllers on loopback addresses; nothing is skipped.
#
# Everything is built and tested WITH the `kerberos` feature (spelled `dwb/kerberos`
# so that it also works for the whole workspace); clippy also checks the default
# build, which is what the README's first command compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/lab/install.sh
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --features dwb/kerberos -- -D warnings
cargo test --locked --workspace --features dwb/kerberos "$@"
