//! The hidden benchmark floor: one bare sock_diag dump and its time.

use std::io::Write;

use super::RunError;

/// The benchmark floor: one bare sock_diag dump, no attribution, no aggregation beyond a
/// count. Prints the socket count and the dump time in microseconds.
pub fn dump_floor(out: &mut impl Write) -> Result<(), RunError> {
    use crate::collect::{netlink::NetlinkSource, DumpRequest, SocketSource};
    let mut src = NetlinkSource::open()?;
    let t = std::time::Instant::now();
    let dump = src.dump(&DumpRequest::default())?;
    writeln!(out, "{}\t{}us", dump.sockets.len(), t.elapsed().as_micros())?;
    Ok(())
}
