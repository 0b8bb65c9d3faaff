//! Media processing that owns no sockets: G.711 codecs, resampling, the stereo call recorder and
//! the envelope-correlation check the tests use to prove a recording contains given speech.
//!
//! Everything here works on plain `i16` PCM slices so the RTP layer, the bridge and the recorder
//! can share it without knowing about each other.

pub mod cushion;
pub mod envelope;
pub mod error;
pub mod g711;
pub mod recorder;
pub mod resample;
pub mod silence;
pub mod wav_repair;

pub use error::MediaError;
