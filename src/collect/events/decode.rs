//! The pure decoder of sock_diag destroy notifications: one datagram from the destroy
//! multicast groups in, [`DestroyEvent`]s out. No I/O, so fixtures and a fuzzer drive
//! exactly what the live reader runs.
//!
//! What the kernel sends (`inet_diag_handler_get_info`, measured on 6.18): a
//! SOCK_DIAG_BY_FAMILY message per destroyed full socket with family, ports, addresses,
//! interface and cookie, the state at that moment (TCP: UNCONN; a connected UDP socket:
//! ESTAB), the final queues, an `INET_DIAG_PROTOCOL` attribute and (TCP) `tcp_info`. The
//! header's uid and inode are zeroed, not filled: who owned the socket has to come from
//! an earlier poll (see [`super::known`]). A UDP socket's Send-Q reads `u32::MAX` at that
//! point (its write allocation has already been released), so it is reported as unknown.

use crate::collect::netlink::decode::{parse_inet_diag, Parsed, INET_DIAG_MSG_LEN};
use crate::model::{Endpoint, Family, Protocol, TcpState};

/// `INET_DIAG_PROTOCOL` (linux/inet_diag.h): the socket's IP protocol, one byte.
pub const INET_DIAG_PROTOCOL: u16 = 10;
const SOCK_DIAG_BY_FAMILY: u16 = 20;

/// One destroyed TCP or UDP socket, as the kernel announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestroyEvent {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The socket's own family.
    pub family: Family,
    /// The state the kernel reports at destruction (TCP: CLOSE, printed UNCONN).
    pub state: TcpState,
    /// Local endpoint.
    pub local: Endpoint,
    /// Remote endpoint.
    pub remote: Endpoint,
    /// Recv-Q left at the end.
    pub recv_q: u32,
    /// Send-Q left at the end; `None` when the kernel's figure is meaningless (UDP).
    pub send_q: Option<u32>,
    /// The socket cookie (matches the one a dump reported for the same socket).
    pub cookie: u64,
}

/// What one datagram held besides events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Events decoded.
    pub events: u64,
    /// Socket messages that could not be read (short header, unknown family, no protocol
    /// attribute, a protocol other than TCP/UDP), and framing damage (the rest of the
    /// datagram is dropped and counted once).
    pub malformed: u64,
    /// Other message types (none expected).
    pub other: u64,
}

/// Decodes every message of one datagram into `out`.
pub fn decode_events(datagram: &[u8], out: &mut Vec<DestroyEvent>) -> EventCounts {
    let mut counts = EventCounts::default();
    let mut rest = datagram;
    while !rest.is_empty() {
        let header = rest.get(..16).and_then(|h| {
            let len = u32::from_ne_bytes(h.get(0..4)?.try_into().ok()?) as usize;
            let kind = u16::from_ne_bytes(h.get(4..6)?.try_into().ok()?);
            Some((len, kind))
        });
        let Some((len, kind)) = header.filter(|(len, _)| *len >= 16 && *len <= rest.len()) else {
            counts.malformed += 1;
            break;
        };
        let payload = rest.get(16..len).unwrap_or_default();
        if kind == SOCK_DIAG_BY_FAMILY {
            match decode_one(payload) {
                Some(ev) => {
                    counts.events += 1;
                    out.push(ev);
                }
                None => counts.malformed += 1,
            }
        } else {
            counts.other += 1;
        }
        rest = rest.get(len.saturating_add(3) & !3..).unwrap_or_default();
    }
    counts
}

/// One SOCK_DIAG_BY_FAMILY payload as an event.
pub fn decode_one(payload: &[u8]) -> Option<DestroyEvent> {
    let Parsed::Socket { record, .. } = parse_inet_diag(payload) else {
        return None;
    };
    let protocol = protocol_attr(payload.get(INET_DIAG_MSG_LEN..)?)?;
    Some(DestroyEvent {
        protocol,
        family: record.family,
        state: record.state,
        local: record.local,
        remote: record.remote,
        recv_q: record.recv_q,
        send_q: (record.send_q <= i32::MAX as u32).then_some(record.send_q),
        cookie: record.cookie?,
    })
}

fn protocol_attr(attrs: &[u8]) -> Option<Protocol> {
    let nla = netlink_packet_core::NlasIterator::new(attrs)
        .map_while(Result::ok)
        .find(|n| n.kind() == INET_DIAG_PROTOCOL)?;
    match i32::from(*nla.value().first()?) {
        libc::IPPROTO_TCP => Some(Protocol::Tcp),
        libc::IPPROTO_UDP => Some(Protocol::Udp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four destroy messages captured from this kernel (`ss -E`'s groups, 6.18): both
    /// ends of a loopback TCP connection (the server side with 3 bytes and the FIN
    /// unread), its listener, and a connected UDPv6 socket. See
    /// `tests/fixtures/events/README`.
    const CAPTURE: &[u8] = include_bytes!("../../../tests/fixtures/events/destroy4.bin");

    #[test]
    fn decodes_the_captured_datagrams() {
        let mut out = Vec::new();
        let mut rest = CAPTURE;
        let mut counts = EventCounts::default();
        // The fixture is datagrams, each prefixed by its length (u32, native order).
        while let Some(len) = rest
            .get(..4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
        {
            let (dgram, next) = rest[4..].split_at(len as usize);
            let c = decode_events(dgram, &mut out);
            counts.events += c.events;
            counts.malformed += c.malformed;
            rest = next;
        }
        assert_eq!(
            counts,
            EventCounts {
                events: 4,
                ..Default::default()
            }
        );
        let (client, server, listener, udp) = (out[0], out[1], out[2], out[3]);
        assert_eq!(listener.local.port, server.local.port);
        assert_eq!(listener.remote.port, 0);
        assert_eq!(client.protocol, Protocol::Tcp);
        assert_eq!(client.state, TcpState::Close);
        assert_eq!(client.local.port, server.remote.port);
        assert_eq!(server.local.port, client.remote.port);
        assert_eq!((server.recv_q, client.send_q), (4, Some(1)));
        assert_ne!(client.cookie, server.cookie);
        assert_eq!(udp.protocol, Protocol::Udp);
        assert_eq!(udp.family, Family::V6);
        assert_eq!(udp.state, TcpState::Established);
        assert_eq!(udp.remote.port, 9);
        assert_eq!(
            udp.send_q, None,
            "UDP's Send-Q at destroy is u32::MAX: unknown"
        );
    }

    #[test]
    fn damage_is_counted_never_a_panic() {
        let mut out = Vec::new();
        let real = &CAPTURE[4..];
        for cut in 0..real.len().min(400) {
            let c = decode_events(&real[..cut], &mut out);
            assert!(c.events <= 1);
        }
        // A socket message without its protocol attribute.
        let mut msg = real[..16 + INET_DIAG_MSG_LEN].to_vec();
        msg[0..4].copy_from_slice(&((16 + INET_DIAG_MSG_LEN) as u32).to_ne_bytes());
        out.clear();
        assert_eq!(decode_events(&msg, &mut out).malformed, 1);
        assert!(out.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut out = Vec::new();
            let c = decode_events(&bytes, &mut out);
            proptest::prop_assert_eq!(c.events as usize, out.len());
        }
    }
}
