//! Decoding the formats a recording or a batch file may come in, channel by channel.
//! Fixtures: `tests/fixtures/transcribe/make-fixtures.sh` (1 s, 440 Hz at 0.5 left,
//! 1 kHz at 0.25 right, 8 kHz).

use std::path::Path;

use suifang::transcribe::audio::{decode_file, SAMPLE_RATE};

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Frequency estimated from zero crossings.
fn frequency(x: &[f32]) -> f32 {
    let crossings = x
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f32 / 2.0 / (x.len() as f32 / SAMPLE_RATE as f32)
}

#[test]
fn flac_ogg_and_mulaw_wav_decode_to_two_16khz_channels() {
    for name in ["tones.flac", "tones.ogg", "tones_ulaw.wav"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/transcribe")
            .join(name);
        let audio = decode_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.source_rate, 8000, "{name}");
        assert_eq!(audio.channels.len(), 2, "{name}");
        let n = audio.channels[0].len();
        assert!((15_000..=17_000).contains(&n), "{name}: {n} samples");
        let (left, right) = (
            &audio.channels[0][1000..n - 1000],
            &audio.channels[1][1000..n - 1000],
        );
        assert!(
            (rms(left) - 0.354).abs() < 0.03,
            "{name}: left rms {}",
            rms(left)
        );
        assert!(
            (rms(right) - 0.177).abs() < 0.03,
            "{name}: right rms {}",
            rms(right)
        );
        assert!(
            (frequency(left) - 440.0).abs() < 15.0,
            "{name}: {}",
            frequency(left)
        );
        assert!(
            (frequency(right) - 1000.0).abs() < 15.0,
            "{name}: {}",
            frequency(right)
        );
    }
}
