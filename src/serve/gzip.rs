//! `Content-Encoding: gzip` at the price of the status lines: the per-tick data part is
//! compressed once, on the first scrape that asks for gzip, and every scrape of that tick
//! appends only its own few status lines.
//!
//! One gzip member is built from two raw deflate runs: the data part ends in a full flush
//! (byte-aligned, no final block, nothing referenced across it), the status part is
//! compressed on its own and ends the stream; the CRC-32 is the data part's, continued
//! over the status lines. Owns no state; never touches `Shared`.

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

/// The gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The compressed start of a response: gzip header plus the data part, flushed.
#[derive(Debug)]
pub(crate) struct Part {
    start: Bytes,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Runs `input` through `c` with `flush` until all is in and all is out.
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let base = c.total_in();
    loop {
        let done = usize::try_from(c.total_in() - base).unwrap_or(input.len());
        out.reserve((input.len() - done) / 4 + 4096);
        let status = c.compress_vec(&input[done..], out, flush);
        let all_in = c.total_in() - base == input.len() as u64;
        // A compressor that stopped short of the buffer's end has nothing more to give.
        if status.is_err() || (all_in && out.len() < out.capacity()) {
            return;
        }
        if matches!(status, Ok(flate2::Status::StreamEnd)) {
            return;
        }
    }
}

/// Compresses the data part of a tick.
pub(crate) fn part(data: &[u8]) -> Part {
    let mut c = Compress::new(Compression::fast(), false);
    let mut out = HEADER.to_vec();
    deflate(&mut c, data, FlushCompress::Full, &mut out);
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    Part {
        start: out.into(),
        crc,
        len: data.len() as u64,
    }
}

/// The whole response as two chunks: the shared start, then `tail` compressed with the
/// gzip trailer.
pub(crate) fn finish(part: &Part, tail: &[u8]) -> (Bytes, Bytes) {
    let mut c = Compress::new(Compression::fast(), false);
    let mut out = Vec::with_capacity(tail.len() / 2 + 64);
    deflate(&mut c, tail, FlushCompress::Finish, &mut out);
    let mut crc = part.crc.clone();
    crc.update(tail);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952): the truncation is the format.
    #[allow(clippy::cast_possible_truncation)]
    let isize = (part.len + tail.len() as u64) as u32;
    out.extend_from_slice(&isize.to_le_bytes());
    (part.start.clone(), out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn two_runs_make_one_valid_gzip_member() {
        let data: String = (0..20_000)
            .map(|i| format!("sockscope_x{{n=\"{i}\"}} {i}\n"))
            .collect();
        let p = part(data.as_bytes());
        for tail in ["", "sockscope_up 1\n# EOF\n"] {
            let (a, b) = finish(&p, tail.as_bytes());
            let gz = [a.as_ref(), b.as_ref()].concat();
            assert!(gz.len() < data.len() / 3, "{} bytes", gz.len());
            let mut out = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, format!("{data}{tail}"));
            // The same bytes through a multi-member reader: nothing follows the member.
            let mut multi = String::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_string(&mut multi)
                .unwrap();
            assert_eq!(multi, out);
        }
    }
}
