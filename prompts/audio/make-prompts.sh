#!/usr/bin/env bash
# Regenerates the shipped audio prompts with espeak-ng and sox (Debian packages of the same
# names). Real deployments replace these files with recordings by a person; any format
# symphonia decodes works (WAV, MP3, OGG, FLAC). Names are referenced from [sip] in the config.
#
# Mandarin is spoken by espeak-ng's `cmn-latn-pinyin` voice from pinyin with tone numbers: its
# `cmn` voice cannot pronounce most Chinese characters (it spells them out as "Chinese letter"),
# which made the consent announcement unintelligible to patients and to whisper alike.
set -euo pipefail
cd "$(dirname "$0")"
say() { # file pinyin (the characters are in the comment above each call)
  espeak-ng -v cmn-latn-pinyin+f3 -s 140 -w /tmp/suifang-prompt.wav "$2"
  sox /tmp/suifang-prompt.wav -r 8000 -c 1 -b 16 "$1" norm -3
}
# 您好，本次通话将被录音。
say consent.wav "nin2 hao3, ben3 ci4 tong1 hua4 jiang1 bei4 lu4 yin1."
# 护士暂时无法接听，请在提示音后留言。
say voicemail.wav "hu4 shi5 zan4 shi2 wu2 fa3 jie1 ting1, qing3 zai4 ti2 shi4 yin1 hou4 liu2 yan2."
# Hold music: a gentle two-tone arpeggio, FLAC to exercise a non-WAV decoder.
sox -n -r 8000 -c 1 -b 16 hold.flac synth 0.4 sine 523 synth 0.4 sine 659 : synth 0.4 sine 784 : synth 0.4 sine 659 vol 0.3 repeat 3
# The short beep before a voicemail.
sox -n -r 8000 -c 1 -b 16 beep.wav synth 0.4 sine 1000 vol 0.5
rm -f /tmp/suifang-prompt.wav
