#!/usr/bin/env bash
# Makes the realistic call recordings of `suifang bench transcribe` from the scripts in
# tests/fixtures/transcribe/bench/*.script (apt-get install -y espeak-ng sox bc).
#
#   scripts/make-bench-corpus.sh OUTDIR [NAME.script…]     (default: every script)
#
# For each NAME.script it writes OUTDIR/NAME.wav and OUTDIR/NAME.turns ("channel start_s end_s
# reference" per turn, the reference `bench transcribe` scores against). The recordings look
# like suifang's own: stereo, agent left, patient right, 8 kHz 16-bit PCM, and each side went
# through the phone path: band-limited to 300–3400 Hz, line noise (the patient's PSTN side is
# noisier than the nurse's headset), G.711 mu-law encoded and decoded. Turn-taking: each channel
# is silent (only its noise) while the other side speaks and during the scripted pauses.
#
# Idempotent and reproducible: a file is regenerated only when its script, this generator or
# the espeak-ng/sox versions changed (OUTDIR/NAME.stamp); espeak-ng and sox are deterministic,
# and the noise uses sox's fixed seed (-R). The WAVs are a few MB each and stay out of git.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: make-bench-corpus.sh OUTDIR [NAME.script…]}"
shift
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=("$repo"/tests/fixtures/transcribe/bench/*.script)
for tool in espeak-ng sox soxi bc sha256sum; do
  command -v "$tool" >/dev/null || {
    echo "make-bench-corpus: $tool is needed (apt-get install -y espeak-ng sox bc)" >&2
    exit 1
  }
done
mkdir -p "$out"
RATE=8000
tools="$(espeak-ng --version | head -n1); $(sox --version 2>&1 | head -n1)"
self="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

# voice WHO LANG: espeak-ng voice and words per minute of each side.
voice() {
  case "$2:$1" in
    en:agent) echo "en-us+f3 155" ;;
    en:patient) echo "en-gb+m3 145" ;;
    zh:agent) echo "cmn-latn-pinyin+f3 135" ;;
    zh:patient) echo "cmn-latn-pinyin 125" ;;
  esac
}

# make SCRIPT: one recording.
make() {
  local script="$1" name lang stamp tmp
  name="$(basename "$script" .script)"
  lang="${name%%_*}"
  stamp="$(cat "$script" | sha256sum | cut -d' ' -f1) $self $tools"
  if [ -s "$out/$name.wav" ] && [ -s "$out/$name.turns" ] &&
    [ "$(cat "$out/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  echo "make-bench-corpus: $out/$name.wav" >&2
  tmp="$(mktemp -d)"
  local t=0 i=0 left=() right=() turns="$tmp/turns"
  : > "$turns"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; esac
    local who="${line%% *}" rest="${line#* }" piece
    i=$((i + 1))
    piece="$tmp/$i.wav"
    if [ "$who" = pause ]; then
      sox -n -r $RATE -c 1 -b 16 "$piece" trim 0 "$rest"
      left+=("$piece")
      right+=("$piece")
    else
      local reference="$rest" spoken="$rest" v wpm level
      case "$rest" in *' | '*) reference="${rest%% | *}" spoken="${rest#* | }" ;; esac
      read -r v wpm <<< "$(voice "$who" "$lang")"
      [ -n "$v" ] || { echo "make-bench-corpus: $script: unknown speaker '$who'" >&2; exit 1; }
      # the nurse's headset is louder than the patient's phone
      level=-4; [ "$who" = patient ] && level=-9
      espeak-ng -v "$v" -s "$wpm" -w "$tmp/$i.raw.wav" "$spoken"
      sox -G "$tmp/$i.raw.wav" -r $RATE -c 1 -b 16 "$piece" sinc 300-3400 norm "$level"
      sox -n -r $RATE -c 1 -b 16 "$tmp/$i.quiet.wav" trim 0 "$(soxi -D "$piece")"
      printf '%s %.2f %.2f %s\n' "$who" "$t" "$(echo "$t + $(soxi -D "$piece")" | bc -l)" \
        "$reference" >> "$turns"
      if [ "$who" = agent ]; then
        left+=("$piece")
        right+=("$tmp/$i.quiet.wav")
      else
        left+=("$tmp/$i.quiet.wav")
        right+=("$piece")
      fi
    fi
    t="$(echo "$t + $(soxi -D "$piece")" | bc -l)"
  done < "$script"
  sox "${left[@]}" "$tmp/left.wav"
  sox "${right[@]}" "$tmp/right.wav"
  local len
  len="$(soxi -D "$tmp/left.wav")"
  # line noise, then the G.711 round trip of each leg
  sox -R -n -r $RATE -c 1 -b 16 "$tmp/noise_l.wav" synth "$len" whitenoise vol 0.0015
  sox -R -n -r $RATE -c 1 -b 16 "$tmp/noise_r.wav" synth "$len" pinknoise vol 0.004 sinc 300-3400
  for side in l r; do
    local src="$tmp/left.wav"
    [ $side = r ] && src="$tmp/right.wav"
    sox -m "$src" "$tmp/noise_$side.wav" -e u-law "$tmp/$side.ulaw.wav"
    sox "$tmp/$side.ulaw.wav" -e signed-integer -b 16 "$tmp/$side.pcm.wav"
  done
  sox -M "$tmp/l.pcm.wav" "$tmp/r.pcm.wav" -b 16 "$tmp/$name.wav"
  mv "$tmp/$name.wav" "$out/$name.wav"
  mv "$turns" "$out/$name.turns"
  echo "$stamp" > "$out/$name.stamp"
  rm -rf "$tmp"
}

for s in "${scripts[@]}"; do
  make "$s"
done
