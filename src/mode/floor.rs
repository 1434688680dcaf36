//! The hidden benchmark floor: one bare sock_diag dump per selected table (no extensions,
//! no UDP memory info, no UNIX names) and its time.

use std::io::Write;

use super::RunError;
use crate::cli::GlobalArgs;
use crate::collect::{netlink::NetlinkSource, DumpRequest, InetProtocol, SocketSource};
use crate::model::{Protocol, SocketRecord, SocketSink};

/// Counts what a dump streams, and nothing else: the floor keeps no list (issue 17: the
/// streaming faces keep none either, so a floor that built one would flatter them).
#[derive(Default)]
struct Count(usize);

impl SocketSink for Count {
    fn listeners_first(&self) -> bool {
        false
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
    fn push(&mut self, _: &SocketRecord) {
        self.0 += 1;
    }
}

/// The inet sockets of one streamed dump.
fn streamed(src: &mut NetlinkSource, req: &DumpRequest) -> Result<usize, RunError> {
    let mut n = Count::default();
    src.dump_stream(req, &mut n)?;
    Ok(n.0)
}

/// The benchmark floor: one bare sock_diag dump of each table `-t/-u/-x` select (TCP
/// alone by default), streamed into a count (TCP, UDP; UNIX is still listed), no
/// attribution, no aggregation beyond a count. Prints the socket
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
            Protocol::Tcp => streamed(&mut src, &bare)?,
            Protocol::Udp => {
                let req = DumpRequest {
                    protocol: InetProtocol::Udp,
                    ..bare
                };
                streamed(&mut src, &req)?
            }
            Protocol::Unix => src.dump_unix(&bare)?.sockets.len(),
        };
    }
    writeln!(out, "{}\t{}us", count, t.elapsed().as_micros())?;
    Ok(())
}
