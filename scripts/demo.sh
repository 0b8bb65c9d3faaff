#!/usr/bin/env bash
# One command: install what is needed, build, fetch the whisper models, and run suifang with
# demo data on embedded SQLite (prints the URL and the demo logins).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/suifang/target}"
cargo build --release --locked
SUIFANG_BIN="$CARGO_TARGET_DIR/release/suifang" scripts/fetch-models.sh tiny.en base
exec "$CARGO_TARGET_DIR/release/suifang" demo "$@"
