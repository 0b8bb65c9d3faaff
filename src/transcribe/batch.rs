//! How a channel's speech reaches whisper: its speech regions joined with short pauses into one
//! buffer, that buffer cut at region boundaries into windows of at most 30 s, each window given
//! an encoder context sized to its length, and whisper's token times mapped back from the
//! buffer to the recording.
//!
//! whisper's encoder always works on a fixed context (1500 positions = 30 s), and its cost is
//! proportional to that context, not to the audio in it: a 6 s answer in a full window pays for
//! 30 s. whisper.cpp can run the encoder on a shorter context (`audio_ctx`); [`Window::audio_ctx`]
//! sizes it to the window, so the encoder's work follows the amount of speech. Pure functions,
//! unit-tested; the engine does the whisper calls.

use std::ops::Range;

use super::audio::SAMPLE_RATE;

/// Silence put between joined speech regions, so whisper ends a segment there.
pub(crate) const JOIN_GAP_MS: u32 = 300;

/// Longest window given to whisper in one go (its own window is 30 s; a little is kept free
/// so that the end of the last word is never at the edge).
pub(crate) const MAX_WINDOW_MS: u32 = 29_000;

/// The encoder's full context: 1500 positions of 20 ms.
pub(crate) const FULL_AUDIO_CTX: usize = 1500;

/// Samples per encoder position (20 ms: two 10 ms mel frames, halved by the second convolution).
const SAMPLES_PER_CTX: usize = (SAMPLE_RATE / 50) as usize;

/// Encoder positions added after a window's audio (0.64 s), so whisper sees the speech end.
const CTX_MARGIN: usize = 32;

/// Smallest context used (2.56 s): whisper was trained on 30 s windows, and very short
/// contexts for a lone "yes" are not worth the risk for what they save.
const MIN_AUDIO_CTX: usize = 128;

/// A channel's speech regions joined into one buffer, with the way back to recording time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Speech {
    /// The regions' samples, in order, with [`JOIN_GAP_MS`] of silence between them.
    pub audio: Vec<f32>,
    /// Where each region sits in `audio` and in the recording.
    pub map: Vec<Piece>,
    /// Milliseconds of speech (the regions, without the gaps).
    pub speech_ms: u64,
}

/// Where a speech region sits in the joined buffer and in the recording (in samples).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    pub joined: usize,
    pub recording: usize,
    pub len: usize,
}

/// Joins `regions` of `samples` (sorted, not overlapping), or `None` if there are none.
pub(crate) fn join(samples: &[f32], regions: &[Range<usize>]) -> Option<Speech> {
    if regions.is_empty() {
        return None;
    }
    let total: usize = regions.iter().map(|r| r.len()).sum();
    let gap = ms_to_samples(JOIN_GAP_MS);
    let mut audio = Vec::with_capacity(total + gap * regions.len());
    let mut map = Vec::with_capacity(regions.len());
    for r in regions {
        if !audio.is_empty() {
            audio.resize(audio.len() + gap, 0.0);
        }
        map.push(Piece {
            joined: audio.len(),
            recording: r.start,
            len: r.len(),
        });
        audio.extend_from_slice(&samples[r.clone()]);
    }
    Some(Speech {
        audio,
        map,
        speech_ms: samples_to_ms(total),
    })
}

/// A part of the joined buffer transcribed by one whisper call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    /// Samples of the joined buffer.
    pub range: Range<usize>,
    /// The regions in it (indices into the speech map).
    pub pieces: Range<usize>,
}

impl Window {
    /// The encoder context for this window: its length in 20 ms positions plus a margin,
    /// rounded up to a multiple of 64, within 128..=1500. A window longer than 30 s (one
    /// region that long) gets the full context and whisper slides over it as usual.
    pub fn audio_ctx(&self) -> usize {
        let positions = self.range.len().div_ceil(SAMPLES_PER_CTX) + CTX_MARGIN;
        (positions.div_ceil(64) * 64).clamp(MIN_AUDIO_CTX, FULL_AUDIO_CTX)
    }
}

/// Cuts the joined buffer into windows of at most `max_ms`, only between regions. Regions are
/// packed greedily in order; a region longer than `max_ms` gets a window of its own.
pub(crate) fn windows(map: &[Piece], max_ms: u32) -> Vec<Window> {
    let max = ms_to_samples(max_ms);
    let mut out: Vec<Window> = Vec::new();
    for (i, p) in map.iter().enumerate() {
        let end = p.joined + p.len;
        match out.last_mut() {
            Some(w) if end - w.range.start <= max => {
                w.range.end = end;
                w.pieces.end = i + 1;
            }
            _ => out.push(Window {
                range: p.joined..end,
                pieces: i..i + 1,
            }),
        }
    }
    out
}

/// A text token of a whisper segment, timed in joined-buffer samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tok {
    pub bytes: Vec<u8>,
    pub p: f32,
    pub t0: usize,
    pub t1: usize,
}

/// Consecutive tokens of one region, timed in recording samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    pub bytes: Vec<u8>,
    pub probs: Vec<f32>,
    pub start: usize,
    pub end: usize,
}

/// whisper's centiseconds (relative to a window starting at `offset` in the joined buffer) →
/// joined-buffer samples.
pub(crate) fn cs_to_samples(cs: i64, offset: usize) -> usize {
    offset + (cs.max(0) as u64 * u64::from(SAMPLE_RATE) / 100) as usize
}

/// The region a joined-buffer position belongs to: the one containing it; in a gap, the one
/// whose edge is nearer (whisper stretches the last word of a segment into the pause after it,
/// and the first word of the next one back into the pause before it); before the first or
/// after the last region, that region. `map` must not be empty.
fn region_of(at: usize, map: &[Piece]) -> usize {
    let Some(next) = map.iter().position(|p| at < p.joined + p.len) else {
        return map.len() - 1;
    };
    let p = map[next];
    if at >= p.joined || next == 0 {
        return next;
    }
    let prev_end = map[next - 1].joined + map[next - 1].len;
    if at - prev_end < p.joined - at {
        next - 1
    } else {
        next
    }
}

/// Groups tokens by the region their middle falls in and maps their times to the recording,
/// clamped to the region (whisper's token times are approximate). `map` holds the regions of
/// the window the tokens come from, so a word stretched past the window's end stays in its
/// last region. Text bytes are joined before decoding because a CJK character can span tokens.
pub(crate) fn split_by_region(tokens: &[Tok], map: &[Piece]) -> Vec<Group> {
    let mut groups: Vec<(usize, Group)> = Vec::new();
    if map.is_empty() {
        return Vec::new();
    }
    for t in tokens {
        let r = region_of((t.t0 + t.t1) / 2, map);
        let piece = map[r];
        let to_rec = |at: usize| piece.recording + at.saturating_sub(piece.joined).min(piece.len);
        let (start, end) = (to_rec(t.t0), to_rec(t.t1));
        match groups.last_mut() {
            // Never cut inside a character: the rest of its bytes follow its first ones.
            Some((gr, g)) if *gr == r || ends_inside_char(&g.bytes) => {
                g.bytes.extend_from_slice(&t.bytes);
                g.probs.push(t.p);
                if *gr == r {
                    g.end = g.end.max(end);
                }
            }
            _ => groups.push((
                r,
                Group {
                    bytes: t.bytes.clone(),
                    probs: vec![t.p],
                    start,
                    end: end.max(start),
                },
            )),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Whether `bytes` end in the middle of a UTF-8 character (whisper's byte-level tokens split
/// CJK characters).
fn ends_inside_char(bytes: &[u8]) -> bool {
    // The last lead byte among the final (at most 4) bytes, and how long its character is.
    let tail = &bytes[bytes.len().saturating_sub(4)..];
    let Some(lead) = tail.iter().rposition(|b| b & 0xc0 != 0x80) else {
        return false;
    };
    let need = match tail[lead] {
        b if b >= 0xf0 => 4,
        b if b >= 0xe0 => 3,
        b if b >= 0xc0 => 2,
        _ => 1,
    };
    tail.len() - lead < need
}

fn ms_to_samples(ms: u32) -> usize {
    (u64::from(SAMPLE_RATE) * u64::from(ms) / 1000) as usize
}

pub(crate) fn samples_to_ms(n: usize) -> u64 {
    n as u64 * 1000 / u64::from(SAMPLE_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: usize = SAMPLE_RATE as usize;

    #[test]
    fn regions_are_joined_with_gaps_and_mapped() {
        let samples: Vec<f32> = (0..10 * SR).map(|i| i as f32).collect();
        assert!(join(&samples, &[]).is_none());
        let s = join(&samples, &[SR..2 * SR, 5 * SR..5 * SR + SR / 2]).unwrap();
        let gap = SR * 3 / 10;
        assert_eq!(s.audio.len(), SR + gap + SR / 2);
        assert_eq!(s.speech_ms, 1500);
        assert_eq!(s.audio[0], SR as f32);
        assert_eq!(s.audio[SR + gap], (5 * SR) as f32);
        assert!(s.audio[SR..SR + gap].iter().all(|&v| v == 0.0));
        assert_eq!(
            s.map[1],
            Piece {
                joined: SR + gap,
                recording: 5 * SR,
                len: SR / 2
            }
        );
    }

    #[test]
    fn windows_are_cut_between_regions_and_sized() {
        // Regions of 10 s, 12 s, 5 s, 40 s and 1 s, joined with 300 ms gaps.
        let lens = [10, 12, 5, 40, 1];
        let mut map = Vec::new();
        let mut at = 0;
        for (i, l) in lens.iter().enumerate() {
            map.push(Piece {
                joined: at,
                recording: 100 * i * SR,
                len: l * SR,
            });
            at += l * SR + SR * 3 / 10;
        }
        let w = windows(&map, MAX_WINDOW_MS);
        let secs: Vec<(f32, f32)> = w
            .iter()
            .map(|w| {
                (
                    w.range.start as f32 / SR as f32,
                    w.range.end as f32 / SR as f32,
                )
            })
            .collect();
        // 10 + 0.3 + 12 = 22.3 s fit; adding 5 s would make 27.6 s: fits too; 40 s alone; 1 s.
        assert_eq!(w.len(), 3, "{secs:?}");
        assert_eq!(w[0].range, map[0].joined..map[2].joined + map[2].len);
        assert_eq!(
            w.iter().map(|w| w.pieces.clone()).collect::<Vec<_>>(),
            [0..3, 3..4, 4..5]
        );
        assert_eq!(w[1].range, map[3].joined..map[3].joined + map[3].len);
        assert_eq!(w[2].range, map[4].joined..map[4].joined + map[4].len);
        // Contexts: 27.6 s → 1380 + 32 → 1472; 40 s → full; 1 s → at least 128.
        assert_eq!(w[0].audio_ctx(), 1472);
        assert_eq!(w[1].audio_ctx(), FULL_AUDIO_CTX);
        assert_eq!(w[2].audio_ctx(), MIN_AUDIO_CTX);
        let five = Window {
            range: 0..5 * SR,
            pieces: 0..1,
        };
        assert_eq!(five.audio_ctx(), 320, "250 + 32 = 282 → 320");
        assert!(windows(&[], MAX_WINDOW_MS).is_empty());
    }

    #[test]
    fn window_times_are_offset_into_the_joined_buffer() {
        assert_eq!(cs_to_samples(150, 0), 24_000);
        assert_eq!(cs_to_samples(150, 1000), 25_000);
        assert_eq!(cs_to_samples(-3, 7), 7);
    }

    #[test]
    fn tokens_are_split_at_region_boundaries_and_mapped_to_recording_time() {
        // Two regions: recording 1.0–3.0 s and 10.0–11.0 s, joined at 0–2 s and 2.3–3.3 s.
        let map = [
            Piece {
                joined: 0,
                recording: SR,
                len: 2 * SR,
            },
            Piece {
                joined: 2 * SR + SR * 3 / 10,
                recording: 10 * SR,
                len: SR,
            },
        ];
        let tok = |s: &str, t0: f32, t1: f32| Tok {
            bytes: s.as_bytes().to_vec(),
            p: 0.5,
            t0: (t0 * SR as f32) as usize,
            t1: (t1 * SR as f32) as usize,
        };
        // "我" split over two tokens must survive the join.
        let wo = "我".as_bytes();
        let tokens = vec![
            tok(" Hello", 0.1, 0.5),
            tok(" there", 0.5, 1.9),
            Tok {
                bytes: wo[..1].to_vec(),
                p: 0.9,
                t0: 2 * SR + SR / 2,
                t1: 2 * SR + SR * 6 / 10,
            },
            Tok {
                bytes: wo[1..].to_vec(),
                p: 0.7,
                t0: 2 * SR + SR * 6 / 10,
                t1: 3 * SR,
            },
            tok("很好", 3.0, 3.6),
        ];
        let g = split_by_region(&tokens, &map);
        assert_eq!(g.len(), 2);
        assert_eq!(String::from_utf8_lossy(&g[0].bytes), " Hello there");
        assert_eq!((g[0].start, g[0].end), (SR + SR / 10, SR + SR * 19 / 10));
        assert_eq!(String::from_utf8_lossy(&g[1].bytes), "我很好");
        // Times past the region's end are clamped to it.
        assert_eq!(g[1].end, 11 * SR);
        assert!(g[1].start >= 10 * SR);
        assert_eq!(g[1].probs, vec![0.9, 0.7, 0.5]);
        assert!(split_by_region(&tokens, &[]).is_empty());
    }

    #[test]
    fn a_character_split_over_tokens_is_not_cut_between_regions() {
        assert!(!ends_inside_char("我很好".as_bytes()));
        assert!(ends_inside_char(&"我很".as_bytes()[..4]));
        assert!(!ends_inside_char(b"ok"));
        assert!(!ends_inside_char(b""));
        let map = [
            Piece {
                joined: 0,
                recording: 0,
                len: SR,
            },
            Piece {
                joined: SR + SR * 3 / 10,
                recording: 5 * SR,
                len: SR,
            },
        ];
        // "好" = e5 a5 bd: its first byte timed in region 0, the rest in region 1.
        let hao = "好".as_bytes();
        let tokens = [
            Tok {
                bytes: "你".as_bytes().to_vec(),
                p: 0.9,
                t0: SR / 2,
                t1: SR * 8 / 10,
            },
            Tok {
                bytes: hao[..1].to_vec(),
                p: 0.9,
                t0: SR * 8 / 10,
                t1: SR * 9 / 10,
            },
            Tok {
                bytes: hao[1..].to_vec(),
                p: 0.9,
                t0: SR * 14 / 10,
                t1: SR * 16 / 10,
            },
            Tok {
                bytes: "吗".as_bytes().to_vec(),
                p: 0.9,
                t0: SR * 16 / 10,
                t1: SR * 19 / 10,
            },
        ];
        let g = split_by_region(&tokens, &map);
        let texts: Vec<String> = g
            .iter()
            .map(|g| String::from_utf8(g.bytes.clone()).unwrap())
            .collect();
        assert_eq!(texts, ["你好", "吗"]);
        assert!(
            g[0].end <= SR,
            "the first group keeps its own region's times"
        );
    }

    #[test]
    fn a_word_stretched_into_a_pause_stays_with_its_region() {
        // Regions at 0–2 s and 2.3–4 s of the joined buffer (gap 2.0–2.3 s).
        let map = [
            Piece {
                joined: 0,
                recording: 0,
                len: 2 * SR,
            },
            Piece {
                joined: 2 * SR + SR * 3 / 10,
                recording: 10 * SR,
                len: SR * 17 / 10,
            },
        ];
        let at = |s: f32| (s * SR as f32) as usize;
        assert_eq!(region_of(at(1.0), &map), 0);
        assert_eq!(region_of(at(2.05), &map), 0, "nearer the end of the first");
        assert_eq!(
            region_of(at(2.25), &map),
            1,
            "nearer the start of the second"
        );
        assert_eq!(region_of(at(3.0), &map), 1);
        assert_eq!(
            region_of(at(9.0), &map),
            1,
            "past the window: its last region"
        );
        // "please" timed 1.8–2.36 s: its middle (2.08 s) is in the pause, near the first region.
        let tokens = [
            Tok {
                bytes: b" Wang,".to_vec(),
                p: 0.9,
                t0: at(1.3),
                t1: at(1.8),
            },
            Tok {
                bytes: b" please.".to_vec(),
                p: 0.8,
                t0: at(1.8),
                t1: at(2.36),
            },
            Tok {
                bytes: b" Thank you".to_vec(),
                p: 0.9,
                t0: at(2.36),
                t1: at(3.0),
            },
        ];
        let g = split_by_region(&tokens, &map);
        assert_eq!(g.len(), 2);
        assert_eq!(String::from_utf8_lossy(&g[0].bytes), " Wang, please.");
        assert_eq!(g[0].end, 2 * SR, "clamped to the region");
        assert_eq!(String::from_utf8_lossy(&g[1].bytes), " Thank you");
    }
}
