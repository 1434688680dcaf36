//! Rows of `/proc/net/udp{,6}`, the UDP fallback: one pure function over a line
//! ([`parse_udp_row`]). The file-level defences (header, budgets, dedup, error counts) are
//! [`super::procnet::Parser`]'s, shared with TCP; this module owns only the row format.
//!
//! # Row format
//!
//! 13 whitespace-separated fields (`udp4_format_sock` / `udp6_sock_seq_show`):
//! `sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer
//! drops`. The state is the kernel's TCP number: 07 (`TCP_CLOSE`, ss's UNCONN) or 01
//! (connected). `rx_queue` is what sock_diag reports as Recv-Q (and, with SKMEMINFO, as
//! `r`); `drops` is `sk_drops`, sock_diag's `d`. The file has no buffer sizes, so
//! `rcvbuf`/`sndbuf` stay `None`, and no cookie.

use super::procnet::{dec, hex_range, row_head, RowError, RowHead};
use crate::model::{Family, Owner, SkMem, SocketRecord, TimerKind};

const FIELDS: usize = 13;

/// Parses one data row of `/proc/net/udp` (`family` = V4) or `udp6` (V6). The record's
/// `skmem` carries the queues and the drop counter; `owner` is [`Owner::Unresolved`].
pub fn parse_udp_row(line: &[u8], family: Family) -> Result<SocketRecord, RowError> {
    let mut f: [&[u8]; FIELDS] = [&[]; FIELDS];
    let mut n = 0;
    for tok in line
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
    {
        if n == FIELDS {
            return Err(RowError::UdpFieldCount(n + 1));
        }
        f[n] = tok;
        n += 1;
    }
    if n != FIELDS {
        return Err(RowError::UdpFieldCount(n));
    }
    let RowHead {
        local,
        remote,
        state,
        send_q,
        recv_q,
        uid,
        inode,
        ..
    } = row_head(&f, family)?;
    dec(f[10]).ok_or(RowError::Field("ref"))?;
    hex_range(f[11], 1, 16).ok_or(RowError::Field("pointer"))?;
    let drops = dec(f[12])
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(RowError::Field("drops"))?;
    Ok(SocketRecord {
        family,
        state,
        local,
        remote,
        inode,
        uid,
        recv_q,
        send_q,
        timer: TimerKind::Off,
        expires_ms: 0,
        retransmits: 0,
        cookie: None,
        tcp_info: None,
        skmem: Some(SkMem {
            rmem_alloc: recv_q,
            rcvbuf: None,
            wmem_alloc: send_q,
            sndbuf: None,
            drops,
        }),
        owner: Owner::Unresolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::netlink::decode::decode_dump;
    use crate::collect::procnet::{Limits, Parser};
    use crate::collect::{DumpRequest, InetProtocol, SocketDump};
    use crate::model::TcpState;

    const UDP: &[u8] = include_bytes!("../../tests/fixtures/proc/udp");
    const UDP6: &[u8] = include_bytes!("../../tests/fixtures/proc/udp6");
    const NL_V4: &[u8] = include_bytes!("../../tests/fixtures/netlink/udp_v4.bin");
    const NL_V6: &[u8] = include_bytes!("../../tests/fixtures/netlink/udp_v6.bin");

    fn proc_dump() -> SocketDump {
        let req = DumpRequest {
            protocol: InetProtocol::Udp,
            ..DumpRequest::default()
        };
        let mut p = Parser::for_protocol(Limits::default(), InetProtocol::Udp);
        p.feed(UDP, Family::V4, &req).unwrap();
        p.feed(UDP6, Family::V6, &req).unwrap();
        p.finish()
    }

    #[test]
    fn same_numbers_as_sock_diag_where_proc_has_them() {
        let d = proc_dump();
        assert_eq!(d.quality, Default::default());
        let mut nl = decode_dump(NL_V4, 1, 0xFFF).unwrap().sockets;
        nl.extend(decode_dump(NL_V6, 2, 0xFFF).unwrap().sockets);
        assert_eq!(d.sockets.len(), nl.len());
        for p in &d.sockets {
            let n = nl.iter().find(|n| n.inode == p.inode).unwrap();
            assert_eq!(
                (p.family, p.state, p.local, p.remote, p.uid, p.recv_q, p.send_q),
                (n.family, n.state, n.local, n.remote, n.uid, n.recv_q, n.send_q),
                "inode {}",
                p.inode
            );
            let (pm, nm) = (p.skmem.unwrap(), n.skmem.unwrap());
            assert_eq!((pm.drops, pm.rmem_alloc), (nm.drops, nm.rmem_alloc));
            assert_eq!((pm.rcvbuf, pm.sndbuf), (None, None), "not in /proc");
        }
        let flooded = d.sockets.iter().find(|s| s.local.port == 7101).unwrap();
        assert_eq!(flooded.skmem.map(|m| m.drops), Some(44));
    }

    #[test]
    fn rows_need_their_13_fields() {
        let good = b"13093: 0100007F:1BBD 00000000:0000 07 00000000:00001E00 00:00000000 \
                     00000000     0        0 26437 2 000000009894d13e 44        ";
        let r = parse_udp_row(good, Family::V4).unwrap();
        assert_eq!(
            (r.inode, r.recv_q, r.state),
            (26437, 0x1E00, TcpState::Close)
        );
        assert_eq!(
            parse_udp_row(&good[..good.len() - 12], Family::V4),
            Err(RowError::UdpFieldCount(12))
        );
        let mut extra = good.to_vec();
        extra.extend_from_slice(b" 1");
        assert_eq!(
            parse_udp_row(&extra, Family::V4),
            Err(RowError::UdpFieldCount(14))
        );
        let neg = String::from_utf8_lossy(good).replace(" 44", " -4");
        assert!(parse_udp_row(neg.as_bytes(), Family::V4).is_err());
        assert_eq!(parse_udp_row(good, Family::V6), Err(RowError::Family));
    }
}
