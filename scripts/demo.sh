#!/usr/bin/env bash
# One command: install what is needed, build, and run suifang with demo data on embedded SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/suifang/target}"
cargo build --release
exec "$CARGO_TARGET_DIR/release/suifang" demo "$@"
