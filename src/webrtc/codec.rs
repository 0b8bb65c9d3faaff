//! The line's audio codecs: G.711 passes straight to and from 8 kHz frames; Opus (used only
//! when the browser will not send G.711) is decoded at 48 kHz and resampled, and re-encoded
//! the other way. Encoder and decoder state live with the connection that uses them.

use super::error::LineError;
use super::frame::{AudioFrame, FRAME_SAMPLES};
pub(crate) use crate::media::g711::G711;
use crate::media::resample::{Downsampler, Upsampler};

/// RTP payload types of G.711 (RFC 3551 §6, static).
pub(crate) const PT_PCMU: u8 = 0;
pub(crate) const PT_PCMA: u8 = 8;
/// Our Opus payload type in offers (the answer keeps the browser's number).
pub(crate) const PT_OPUS: u8 = 111;
/// Largest Opus frame (120 ms at 48 kHz), the decoder's output buffer.
const OPUS_MAX_SAMPLES: usize = 5760;

/// What the line encodes to the browser with.
pub(crate) enum SendCodec {
    G711(G711),
    Opus(Box<OpusEncoder>),
}

/// Opus encoder state with the 8 → 48 kHz upsampler in front of it.
pub(crate) struct OpusEncoder {
    payload_type: u8,
    encoder: opus::Encoder,
    up: Upsampler,
}

impl std::fmt::Debug for SendCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendCodec::G711(g) => write!(f, "{g:?}"),
            SendCodec::Opus(o) => write!(f, "Opus(pt {})", o.payload_type),
        }
    }
}

impl SendCodec {
    pub(crate) fn opus(payload_type: u8) -> Result<SendCodec, LineError> {
        let mut encoder = opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| LineError::WebRtc(format!("opus encoder: {e}")))?;
        // narrowband speech from the phone side: 24 kb/s is plenty
        if let Err(e) = encoder.set_bitrate(opus::Bitrate::Bits(24000)) {
            tracing::debug!(error = %e, "opus bitrate not set");
        }
        Ok(SendCodec::Opus(Box::new(OpusEncoder {
            payload_type,
            encoder,
            up: Upsampler::new(),
        })))
    }

    pub(crate) fn payload_type(&self) -> u8 {
        match self {
            SendCodec::G711(G711::Pcmu) => PT_PCMU,
            SendCodec::G711(G711::Pcma) => PT_PCMA,
            SendCodec::Opus(o) => o.payload_type,
        }
    }

    /// RTP clock ticks per 20 ms frame.
    pub(crate) fn ticks_per_frame(&self) -> u32 {
        match self {
            SendCodec::G711(_) => FRAME_SAMPLES as u32,
            SendCodec::Opus(_) => 960,
        }
    }

    /// RTP clock rate in ticks per millisecond.
    pub(crate) fn ticks_per_ms(&self) -> u32 {
        self.ticks_per_frame() / 20
    }

    pub(crate) fn encode(&mut self, frame: &AudioFrame) -> Result<Vec<u8>, LineError> {
        match self {
            SendCodec::G711(g) => Ok(g.encode(&frame.0)),
            SendCodec::Opus(o) => {
                let pcm = o.up.process(&frame.0);
                o.encoder
                    .encode_vec(&pcm, 400)
                    .map_err(|e| LineError::WebRtc(format!("opus encode: {e}")))
            }
        }
    }
}

/// Decodes the browser's Opus to 8 kHz samples.
pub(crate) struct OpusDecoder {
    decoder: opus::Decoder,
    down: Downsampler,
    pcm: Vec<i16>,
}

impl OpusDecoder {
    pub(crate) fn new() -> Result<OpusDecoder, LineError> {
        Ok(OpusDecoder {
            decoder: opus::Decoder::new(48000, opus::Channels::Mono)
                .map_err(|e| LineError::WebRtc(format!("opus decoder: {e}")))?,
            down: Downsampler::new(),
            pcm: vec![0; OPUS_MAX_SAMPLES],
        })
    }

    /// Appends the 8 kHz samples of one Opus packet to `out` (nothing for a corrupt packet).
    pub(crate) fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match self.decoder.decode(payload, &mut self.pcm, false) {
            Ok(n) => self.down.process(&self.pcm[..n], out),
            Err(e) => tracing::debug!(error = %e, "opus packet dropped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_round_trip_keeps_a_tone() {
        let mut send = SendCodec::opus(PT_OPUS).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        for i in 0..50 {
            let mut frame = AudioFrame::SILENCE;
            for (j, s) in frame.0.iter_mut().enumerate() {
                let t = (i * FRAME_SAMPLES + j) as f64 / 8000.0;
                *s = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
            }
            let packet = send.encode(&frame).unwrap();
            dec.decode(&packet, &mut out);
        }
        assert_eq!(out.len(), 50 * FRAME_SAMPLES);
        let tail = &out[4000..];
        let rms =
            (tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        assert!((4500.0..6500.0).contains(&rms), "rms {rms}");
        assert_eq!(send.ticks_per_frame(), 960);
    }
}
