//! MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2): each message is sent as
//! `<VT> message <FS><CR>` (0x0B … 0x1C 0x0D) over one TCP connection.
//!
//! Sans-IO: [`MllpDecoder`] is fed whatever bytes the socket delivered and hands out complete
//! frames; it owns no socket. A frame larger than the configured limit is refused (the peer gets
//! a NAK for what it could be told, and the connection should be closed, since the rest of that
//! frame cannot be told apart from the next one). Bytes outside a frame (line noise, a stray CR
//! after FS, a peer that sends the message without a VT) are dropped and counted, never
//! mistaken for a message.

use thiserror::Error;

/// Start of block.
pub const VT: u8 = 0x0b;
/// End of block.
pub const FS: u8 = 0x1c;
/// Carriage return that follows FS.
pub const CR: u8 = 0x0d;

/// Wraps one message for the wire.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(VT);
    out.extend_from_slice(message);
    out.extend_from_slice(&[FS, CR]);
    out
}

/// A framing failure; the connection cannot continue in step with the peer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MllpError {
    #[error("MLLP frame over {limit} bytes (without its end block): refused")]
    FrameTooLarge { limit: usize },
}

/// What the decoder produced from the bytes fed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message, without VT/FS/CR.
    Message(Vec<u8>),
}

/// Reassembles frames from a byte stream.
#[derive(Debug)]
pub struct MllpDecoder {
    limit: usize,
    /// Inside a frame (after VT), the bytes so far.
    current: Option<Vec<u8>>,
    /// FS seen, waiting for its CR.
    after_fs: bool,
    /// Bytes seen outside any frame.
    pub stray_bytes: u64,
}

impl MllpDecoder {
    /// A decoder refusing frames over `limit` bytes of message.
    pub fn new(limit: usize) -> Self {
        MllpDecoder {
            limit,
            current: None,
            after_fs: false,
            stray_bytes: 0,
        }
    }

    /// Feeds received bytes; returns the frames they completed, in order. After an error the
    /// decoder should be dropped with its connection.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, MllpError> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_fs {
                self.after_fs = false;
                if b == CR {
                    continue;
                }
                // a lone FS (some senders omit the CR): tolerated; this byte is looked at anew
            }
            match (&mut self.current, b) {
                (None, VT) => self.current = Some(Vec::new()),
                (None, _) => self.stray_bytes += 1,
                // a VT inside a frame: the sender restarted without ending the last message;
                // what came before it is not a whole message
                (Some(buf), VT) => {
                    self.stray_bytes += buf.len() as u64;
                    buf.clear();
                }
                (Some(_), FS) => {
                    if let Some(msg) = self.current.take() {
                        out.push(Frame::Message(msg));
                    }
                    self.after_fs = true;
                }
                (Some(buf), _) => {
                    if buf.len() >= self.limit {
                        self.current = None;
                        return Err(MllpError::FrameTooLarge { limit: self.limit });
                    }
                    buf.push(b);
                }
            }
        }
        Ok(out)
    }

    /// True while a frame has begun and not ended (a peer that closes now lost that message,
    /// and was never ACKed for it).
    pub fn mid_frame(&self) -> bool {
        self.current.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(frames: Vec<Frame>) -> Vec<Vec<u8>> {
        frames.into_iter().map(|Frame::Message(m)| m).collect()
    }

    #[test]
    fn frames_split_anywhere_come_out_whole() {
        let mut wire = frame(b"MSH|one");
        wire.extend(frame(b"MSH|two"));
        for split in 0..wire.len() {
            let mut d = MllpDecoder::new(1024);
            let mut got = messages(d.push(&wire[..split]).unwrap());
            got.extend(messages(d.push(&wire[split..]).unwrap()));
            assert_eq!(
                got,
                vec![b"MSH|one".to_vec(), b"MSH|two".to_vec()],
                "{split}"
            );
            assert!(!d.mid_frame());
            assert_eq!(d.stray_bytes, 0);
        }
    }

    #[test]
    fn noise_outside_frames_is_counted_not_delivered() {
        let mut d = MllpDecoder::new(1024);
        let mut wire = b"\r\nGET / HTTP/1.1\r\n".to_vec();
        wire.extend(frame(b"MSH|x"));
        assert_eq!(messages(d.push(&wire).unwrap()), vec![b"MSH|x".to_vec()]);
        assert_eq!(d.stray_bytes, 18);
    }

    #[test]
    fn a_restarted_frame_drops_the_partial_message() {
        let mut d = MllpDecoder::new(1024);
        let mut wire = vec![VT];
        wire.extend_from_slice(b"MSH|half");
        wire.extend(frame(b"MSH|whole"));
        assert_eq!(
            messages(d.push(&wire).unwrap()),
            vec![b"MSH|whole".to_vec()]
        );
    }

    #[test]
    fn a_missing_cr_after_fs_is_tolerated() {
        let mut d = MllpDecoder::new(1024);
        let wire = [&[VT][..], b"MSH|a", &[FS, VT], b"MSH|b", &[FS, CR]].concat();
        assert_eq!(
            messages(d.push(&wire).unwrap()),
            vec![b"MSH|a".to_vec(), b"MSH|b".to_vec()]
        );
    }

    #[test]
    fn an_oversized_frame_is_refused() {
        let mut d = MllpDecoder::new(8);
        let err = d.push(&frame(b"MSH|123456789")).unwrap_err();
        assert_eq!(err, MllpError::FrameTooLarge { limit: 8 });
    }

    #[test]
    fn a_frame_cut_by_the_peer_is_reported_as_unfinished() {
        let mut d = MllpDecoder::new(64);
        assert!(d.push(&[VT, b'M']).unwrap().is_empty());
        assert!(d.mid_frame());
    }
}
