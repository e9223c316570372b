#!/usr/bin/env bash
# Runs every dwb check and test, installing what the tests need first (Samba AD DC
# and the OpenLDAP client tools, from Debian's packages, when missing). Samba tests
# start real domain controllers on loopback addresses; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/lab/install.sh
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace "$@"
