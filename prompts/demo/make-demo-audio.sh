#!/usr/bin/env bash
# Regenerates what the demo's simulated patient says (`suifang sim-patient`, started by
# `suifang demo`) with espeak-ng and sox. Mandarin is read from pinyin with tone numbers by the
# `cmn-latn-pinyin` voice: the `cmn` voice cannot pronounce most characters. 8 kHz mono, as a
# phone sends it.
set -euo pipefail
cd "$(dirname "$0")"
# 喂，你好。我是王建国。最近还可以，就是走路的时候有点喘，体重七十二公斤。
espeak-ng -v cmn-latn-pinyin -s 130 -w /tmp/suifang-patient.wav \
  "wei2, ni3 hao3. wo3 shi4 wang2 jian4 guo2. zui4 jin4 hai2 ke3 yi3, jiu4 shi4 zou3 lu4 de5 shi2 hou4 you3 dian3 chuan3, ti3 zhong4 qi1 shi2 er4 gong1 jin1."
sox /tmp/suifang-patient.wav -r 8000 -c 1 -b 16 patient-zh.wav norm -3 pad 0.3 0.5
rm -f /tmp/suifang-patient.wav
