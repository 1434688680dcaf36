//! The hidden benchmark floor: one bare sock_diag dump per selected table (no extensions,
//! no UDP memory info, no UNIX names) and its time.

use std::io::Write;

use super::RunError;
use crate::cli::GlobalArgs;
use crate::collect::{netlink::NetlinkSource, DumpRequest, InetProtocol, SocketSource};
use crate::model::Protocol;

/// The benchmark floor: one bare sock_diag dump of each table `-t/-u/-x` select (TCP
/// alone by default), no attribution, no aggregation beyond a count. Prints the socket
/// count and the dump time in microseconds (summed over the tables, so `-u -x` is the floor
/// of a `summary -u -x`).
pub fn dump_floor(global: &GlobalArgs, out: &mut impl Write) -> Result<(), RunError> {
    let protocols = global.protocols();
    let mut src = NetlinkSource::open()?;
    let bare = DumpRequest {
        lean: true,
        ..DumpRequest::default()
    };
    let t = std::time::Instant::now();
    let mut count = 0;
    for p in protocols.iter() {
        count += match p {
            Protocol::Tcp => src.dump(&bare)?.sockets.len(),
            Protocol::Udp => {
                let req = DumpRequest {
                    protocol: InetProtocol::Udp,
                    ..bare
                };
                src.dump(&req)?.sockets.len()
            }
            Protocol::Unix => src.dump_unix(&bare)?.sockets.len(),
        };
    }
    writeln!(out, "{}\t{}us", count, t.elapsed().as_micros())?;
    Ok(())
}
