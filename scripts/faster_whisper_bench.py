#!/usr/bin/env python3
"""Transcribes stereo call recordings with faster-whisper, channel by channel, for
`suifang bench transcribe` (src/transcribe/bench.rs). Prints one JSON object per file:
{"file", "duration_s", "wall_s", "cpu_s", "channels": [text_left, text_right]}.
Model loading is outside the timed part. Needs `pip install faster-whisper`."""
import argparse
import json
import resource
import sys
import time

from faster_whisper import WhisperModel, decode_audio


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="CTranslate2 model directory")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compute-type", default="int8")
    p.add_argument("--language", default="zh")
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--vad", action="store_true", help="use faster-whisper's Silero VAD filter")
    p.add_argument("--repeat", type=int, default=1, help="runs per file; the fastest is kept")
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    model = WhisperModel(a.model, device="cpu", compute_type=a.compute_type,
                         cpu_threads=a.threads, num_workers=1)
    prompt = "以下是普通话的句子。" if a.language == "zh" else None
    for f in a.files:
        best = None
        for _ in range(max(1, a.repeat)):
            wall0, cpu0 = time.perf_counter(), cpu_seconds()
            channels = decode_audio(f, split_stereo=True)
            texts = []
            for samples in channels:
                segments, _info = model.transcribe(samples, language=a.language,
                                                   beam_size=a.beam, initial_prompt=prompt,
                                                   vad_filter=a.vad)
                texts.append(" ".join(s.text.strip() for s in segments))
            run = {
                "file": f,
                "duration_s": len(channels[0]) / 16000.0,
                "wall_s": time.perf_counter() - wall0,
                "cpu_s": cpu_seconds() - cpu0,
                "channels": texts,
            }
            if best is None or run["wall_s"] < best["wall_s"]:
                best = run
        print(json.dumps(best, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
