//! Output of `sockscope watch --events`: one line (text) or JSON object per destroyed
//! socket, a line for every loss, and the per-interval aggregate ([`EventWindow`]: closes
//! per second per remote endpoint and per process, connections that lived less than one
//! poll interval, events lost). Names another user chose (comm) go through
//! [`crate::model::Name`]; JSON carries `schema_version` and its own structs.
//! The counting itself is [`crate::analyze::events`]'s.

use std::io::{self, Write};

use serde::Serialize;

use crate::analyze::events::{EventRow, EventWindow};
use crate::collect::events::decode::DestroyEvent;
use crate::record::time::rfc3339;

/// Version of the JSON objects below.
pub const SCHEMA_VERSION: u32 = 1;

/// Rows per ranking in the aggregate form.
const TOP: usize = 5;

fn rate(n: u64, secs: f64) -> f64 {
    crate::analyze::events::per_second(n, secs)
}

/// `HH:MM:SS.mmm` UTC.
fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// The state as `ss -E` prints it: a destroyed TCP socket is UNCONN, not netstat's CLOSE.
fn state_label(e: &DestroyEvent) -> &'static str {
    if e.state == crate::model::TcpState::Close {
        "UNCONN"
    } else {
        e.protocol.state_name(e.state)
    }
}

/// [`rfc3339`] of `ms`, formatted once per millisecond: under load many notifications
/// share one, and formatting was a visible part of the per-event cost.
fn event_time(ms: i64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != ms {
            *last = (ms, rfc3339(ms));
        }
        last.1.clone()
    })
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// One text line per destroyed socket.
pub fn write_event_text(out: &mut impl Write, row: &EventRow<'_>) -> io::Result<()> {
    let e = row.event;
    let k = row.known;
    let who = match k.and_then(|k| k.process.as_ref()) {
        Some(p) => format!("{}[{}]", p.comm, p.pid),
        None => "-".into(),
    };
    let was = match (k, row.short_lived) {
        (Some(k), _) => format!("was {}", e.protocol.state_name(k.state)),
        (None, Some(true)) => "short-lived".into(),
        _ => "unseen".into(),
    };
    writeln!(
        out,
        "{} {:<4} {:<28} {:<28} {:<6} rq {:<6} sq {:<6} ino {:<8} uid {:<6} {who} {was}",
        clock(row.at_ms),
        e.protocol.name(),
        e.local.to_string(),
        e.remote.to_string(),
        state_label(e),
        e.recv_q,
        opt(e.send_q),
        opt(k.map(|k| k.inode)),
        opt(k.map(|k| k.uid)),
    )
}

#[derive(Serialize)]
struct EventJson {
    schema_version: u32,
    kind: &'static str,
    time: String,
    protocol: &'static str,
    local: String,
    remote: String,
    state: &'static str,
    recv_q: u32,
    send_q: Option<u32>,
    cookie: u64,
    inode: Option<u64>,
    uid: Option<u32>,
    pid: Option<u32>,
    comm: Option<String>,
    last_polled_state: Option<&'static str>,
    first_seen: Option<String>,
    short_lived: Option<bool>,
}

/// One JSON object per destroyed socket.
pub fn write_event_json(out: &mut impl Write, row: &EventRow<'_>) -> io::Result<()> {
    let e = row.event;
    let k = row.known;
    let p = k.and_then(|k| k.process.as_ref());
    let obj = EventJson {
        schema_version: SCHEMA_VERSION,
        kind: "destroy",
        time: event_time(row.at_ms),
        protocol: e.protocol.name(),
        local: e.local.to_string(),
        remote: e.remote.to_string(),
        state: state_label(e),
        recv_q: e.recv_q,
        send_q: e.send_q,
        cookie: e.cookie,
        inode: k.map(|k| k.inode),
        uid: k.map(|k| k.uid),
        pid: p.map(|p| p.pid),
        comm: p.map(|p| p.comm.wire_text()),
        last_polled_state: k.map(|k| e.protocol.state_name(k.state)),
        first_seen: k.map(|k| rfc3339(k.first_seen_ms)),
        short_lived: row.short_lived,
    };
    serde_json::to_writer(&mut *out, &obj)?;
    writeln!(out)
}

/// A loss: `lost` events dropped by the kernel now, `total` since the start.
pub fn write_lost(
    out: &mut impl Write,
    json: bool,
    at_ms: i64,
    lost: u64,
    total: u64,
) -> io::Result<()> {
    if json {
        let v = serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "kind": "lost",
            "time": rfc3339(at_ms),
            "lost": lost,
            "lost_total": total,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)
    } else {
        writeln!(
            out,
            "{} LOST {lost} events (the kernel's receive queue was full; {total} lost so far)",
            clock(at_ms)
        )
    }
}

/// One aggregate text line for a window of `secs` seconds ending at `at_ms`.
pub fn write_window_text(
    out: &mut impl Write,
    w: &EventWindow,
    at_ms: i64,
    secs: f64,
) -> io::Result<()> {
    let t = clock(at_ms);
    write!(
        out,
        "{} closes {} ({:.1}/s) tcp {} udp {} short-lived {} unknown-age {} lost {}",
        t.get(..8).unwrap_or(&t),
        w.total(),
        rate(w.total(), secs),
        w.closes[0],
        w.closes[1],
        w.short_lived,
        w.lifetime_unknown,
        w.lost
    )?;
    let remotes: Vec<String> = w
        .top_remotes(TOP)
        .iter()
        .map(|(e, n)| format!("{e} {:.1}/s", rate(*n, secs)))
        .collect();
    if !remotes.is_empty() {
        write!(out, " | remotes {}", remotes.join(", "))?;
    }
    let procs: Vec<String> = w
        .top_processes(TOP)
        .iter()
        .map(|(pid, comm, n)| format!("{comm}[{pid}] {:.1}/s", rate(*n, secs)))
        .collect();
    if !procs.is_empty() || w.unowned > 0 {
        write!(out, " | processes {}", procs.join(", "))?;
        if w.unowned > 0 {
            write!(
                out,
                "{}owner unknown {:.1}/s",
                if procs.is_empty() { "" } else { ", " },
                rate(w.unowned, secs)
            )?;
        }
    }
    writeln!(out)
}

/// One aggregate JSON object for a window.
pub fn write_window_json(
    out: &mut impl Write,
    w: &EventWindow,
    at_ms: i64,
    secs: f64,
) -> io::Result<()> {
    let remotes: Vec<_> = w
        .top_remotes(TOP)
        .iter()
        .map(|(e, n)| serde_json::json!({"remote": e.to_string(), "closes": n, "per_s": rate(*n, secs)}))
        .collect();
    let procs: Vec<_> = w
        .top_processes(TOP)
        .iter()
        .map(|(pid, comm, n)| {
            serde_json::json!({"pid": pid, "comm": comm.wire_text(), "closes": n, "per_s": rate(*n, secs)})
        })
        .collect();
    let v = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "kind": "interval",
        "time": rfc3339(at_ms),
        "seconds": secs,
        "closes": w.total(),
        "closes_per_s": rate(w.total(), secs),
        "tcp": w.closes[0],
        "udp": w.closes[1],
        "short_lived": w.short_lived,
        "lifetime_unknown": w.lifetime_unknown,
        "lost": w.lost,
        "top_remotes": remotes,
        "top_processes": procs,
        "owner_unknown": w.unowned,
    });
    serde_json::to_writer(&mut *out, &v)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::events::known::Known;
    use crate::model::{Endpoint, Family, Name, ProcessInfo, Protocol, TcpState};

    fn ev(remote_port: u16, cookie: u64) -> DestroyEvent {
        DestroyEvent {
            protocol: Protocol::Tcp,
            family: Family::V4,
            state: TcpState::Close,
            local: Endpoint::new("127.0.0.1".parse().unwrap(), 40000),
            remote: Endpoint::new("127.0.0.1".parse().unwrap(), remote_port),
            recv_q: 1,
            send_q: None,
            cookie,
        }
    }

    fn known() -> Known {
        Known {
            state: TcpState::CloseWait,
            inode: 42,
            uid: 1000,
            process: Some(ProcessInfo {
                pid: 9,
                comm: Name::from("bad\nname"),
                uid: 1000,
                user: Name::from("u"),
                unit: None,
                container: None,
            }),
            first_seen_ms: 0,
            local: Endpoint::new("127.0.0.1".parse().unwrap(), 40000),
            remote: Endpoint::new("127.0.0.1".parse().unwrap(), 8080),
        }
    }

    #[test]
    fn text_and_json_lines() {
        let e = ev(8080, 5);
        let k = known();
        let row = EventRow {
            at_ms: 3_723_004,
            event: &e,
            known: Some(&k),
            short_lived: Some(false),
        };
        let mut v = Vec::new();
        write_event_text(&mut v, &row).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(
            text.starts_with("01:02:03.004 tcp  127.0.0.1:40000"),
            "{text}"
        );
        assert!(text.contains("UNCONN rq 1      sq -"), "{text}");
        assert!(text.contains("ino 42 "), "{text}");
        assert!(text.contains("bad\\nname[9] was CLOSE_WAIT"), "{text}");
        assert_eq!(text.matches('\n').count(), 1);
        let mut v = Vec::new();
        write_event_json(&mut v, &row).unwrap();
        let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(j["kind"], "destroy");
        assert_eq!(j["remote"], "127.0.0.1:8080");
        assert_eq!(j["pid"], 9);
        assert_eq!(j["comm"], "bad\nname");
        assert_eq!(j["last_polled_state"], "CLOSE_WAIT");
        assert_eq!(j["send_q"], serde_json::Value::Null);
        let unseen = EventRow {
            known: None,
            short_lived: Some(true),
            ..row
        };
        let mut v = Vec::new();
        write_event_text(&mut v, &unseen).unwrap();
        assert!(String::from_utf8(v)
            .unwrap()
            .contains("ino -        uid -      - short-lived"));
    }

    #[test]
    fn window_ranks_remotes_and_processes() {
        let k = known();
        let mut w = EventWindow::default();
        for (i, port) in [80u16, 80, 80, 443].iter().enumerate() {
            let e = ev(*port, i as u64);
            w.add(&EventRow {
                at_ms: 0,
                event: &e,
                known: (i < 2).then_some(&k),
                short_lived: if i < 2 { Some(false) } else { Some(true) },
            });
        }
        w.lost = 3;
        let mut v = Vec::new();
        write_window_text(&mut v, &w, 0, 2.0).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(
            text.contains("closes 4 (2.0/s) tcp 4 udp 0 short-lived 2 unknown-age 0 lost 3"),
            "{text}"
        );
        assert!(
            text.contains("remotes 127.0.0.1:80 1.5/s, 127.0.0.1:443 0.5/s"),
            "{text}"
        );
        assert!(
            text.contains("processes bad\\nname[9] 1.0/s, owner unknown 1.0/s"),
            "{text}"
        );
        let mut v = Vec::new();
        write_window_json(&mut v, &w, 0, 2.0).unwrap();
        let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(j["kind"], "interval");
        assert_eq!(j["top_remotes"][0]["closes"], 3);
        assert_eq!(j["short_lived"], 2);
    }
}
