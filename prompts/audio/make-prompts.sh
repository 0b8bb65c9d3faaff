#!/usr/bin/env bash
# Regenerates the shipped audio prompts with espeak-ng and sox (Debian packages of the same
# names). Real deployments replace these files with recordings by a person; any format
# symphonia decodes works (WAV, MP3, OGG, FLAC). Names are referenced from [sip] in the config.
set -euo pipefail
cd "$(dirname "$0")"
say() { # file text
  espeak-ng -v cmn -s 170 -w /tmp/suifang-prompt.wav "$2"
  sox /tmp/suifang-prompt.wav -r 8000 -c 1 -b 16 "$1" norm -3
}
say consent.wav "您好，本次通话将被录音。"
say voicemail.wav "护士暂时无法接听，请在提示音后留言。"
# Hold music: a gentle two-tone arpeggio, FLAC to exercise a non-WAV decoder.
sox -n -r 8000 -c 1 -b 16 hold.flac synth 0.4 sine 523 synth 0.4 sine 659 : synth 0.4 sine 784 : synth 0.4 sine 659 vol 0.3 repeat 3
# The short beep before a voicemail.
sox -n -r 8000 -c 1 -b 16 beep.wav synth 0.4 sine 1000 vol 0.5
rm -f /tmp/suifang-prompt.wav
