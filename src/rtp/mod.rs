//! RTP media plumbing without sockets: packets (RFC 3550), RFC 4733 DTMF, the recording-path
//! jitter buffer, RTCP reports and the symmetric-RTP latch.
//!
//! Each piece is a value you feed bytes or packets plus `now`, and ask for results; the tokio
//! shell in `calls/` owns the UDP sockets and the 20 ms clock.

pub mod dtmf;
pub mod error;
pub mod jitter;
pub mod latch;
pub mod packet;
pub mod rtcp;
pub mod srtp;
pub mod stats;

pub use error::RtpError;
pub use packet::RtpPacket;
