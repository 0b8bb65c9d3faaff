#!/usr/bin/env bash
# Bounded fuzzing of the network parsers (SIP message, SDP, RTP, the SIP endpoint): a short
# cargo-fuzz run per target; any crash fails. cargo-fuzz needs a nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${SUIFANG_FUZZ_SECONDS:-20}"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz smoke: SKIPPED — no nightly toolchain could be installed (cargo fuzz needs one)" >&2
  exit 0
fi
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
export CARGO_TARGET_DIR="${SUIFANG_FUZZ_TARGET_DIR:-$HOME/.cache/suifang/fuzz-target}"
cd fuzz
for target in sip_message sdp rtp endpoint hl7; do
  echo "fuzz smoke: $target for ${seconds}s"
  cargo +nightly fuzz run --sanitizer none "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 3
done
echo "fuzz smoke: no crashes"
