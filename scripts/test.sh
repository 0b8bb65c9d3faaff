#!/usr/bin/env bash
# One command: install what is needed, then format check, lints, and every test (unit tests and
# integration tests against the real binary and real peers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A persistent target dir outside the checkout: builds of webrtc and whisper.cpp are slow.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/suifang/target}"
export CARGO_TERM_COLOR=never
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked --all-targets 2>&1 | tee /tmp/suifang-test.log
# doc tests are part of "every test" too
cargo test --locked --doc
