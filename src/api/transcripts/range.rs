//! HTTP byte ranges (RFC 9110 §14.1.2) for streaming recordings: one range per request, which
//! is what audio players send; a multi-range request is answered with the whole file.

use std::ops::Range;

use axum::body::Bytes;
use futures::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The range cannot be served (RFC 9110 §15.5.17: 416 with `Content-Range: bytes */len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Parses a `Range` header against a file of `len` bytes into a half-open byte range.
/// Anything that is not a single `bytes=` range is ignored (the whole file is sent).
pub fn parse(header: &str, len: u64) -> Result<Range<u64>, Unsatisfiable> {
    let whole = Ok(0..len);
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return whole;
    };
    if spec.contains(',') {
        return whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        // suffix: the last N bytes
        let Ok(n) = last.parse::<u64>() else {
            return whole;
        };
        if n == 0 {
            return Err(Unsatisfiable);
        }
        len.saturating_sub(n)..len
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return whole;
        };
        let end = if last.is_empty() {
            len
        } else {
            match last.parse::<u64>() {
                // saturating: `bytes=5-18446744073709551615` is a valid "to the end"
                // (RFC 9110 §14.1.2: a last-pos past the end means the end); `l + 1`
                // overflowed, panicking the handler or wrapping to an end before the start
                Ok(l) if l >= start => l.saturating_add(1).min(len),
                _ => return whole,
            }
        };
        start..end
    };
    if range.start >= len {
        return Err(Unsatisfiable);
    }
    Ok(range)
}

const CHUNK: usize = 64 * 1024;

/// The bytes of `range` of `file`, in chunks, without holding the whole file in memory.
pub async fn stream(
    mut file: tokio::fs::File,
    range: Range<u64>,
) -> std::io::Result<impl Stream<Item = std::io::Result<Bytes>>> {
    file.seek(std::io::SeekFrom::Start(range.start)).await?;
    let remaining = range.end - range.start;
    Ok(futures::stream::unfold(
        (file, remaining),
        |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let mut buf = vec![0u8; CHUNK.min(remaining as usize)];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let cases: &[(&str, Result<Range<u64>, Unsatisfiable>)] = &[
            ("bytes=0-99", Ok(0..100)),
            ("bytes=100-", Ok(100..1000)),
            ("bytes=-200", Ok(800..1000)),
            ("bytes=-5000", Ok(0..1000)),
            ("bytes=900-5000", Ok(900..1000)),
            ("bytes=1000-", Err(Unsatisfiable)),
            ("bytes=-0", Err(Unsatisfiable)),
            ("bytes=5-2", Ok(0..1000)),
            ("bytes=0-1,5-9", Ok(0..1000)),
            ("items=0-1", Ok(0..1000)),
            ("bytes=x-", Ok(0..1000)),
            ("bytes=5-18446744073709551615", Ok(5..1000)),
            (
                "bytes=18446744073709551615-18446744073709551615",
                Err(Unsatisfiable),
            ),
            ("bytes=-18446744073709551615", Ok(0..1000)),
            ("bytes=18446744073709551616-", Ok(0..1000)),
        ];
        for (h, want) in cases {
            assert_eq!(&parse(h, 1000), want, "{h}");
        }
    }
}
