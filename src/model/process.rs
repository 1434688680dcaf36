//! [`ProcessInfo`]: the pid, comm and user of a socket's owner, and its serialized form.
//!
//! The comm and user are [`Name`]s (chosen by unprivileged users); this module only pairs
//! each with its raw-byte sibling on the wire. No I/O.

use serde::{Deserialize, Serialize};

use super::name::{Name, NameDecodeError};

/// A process that owns at least one socket.
///
/// `comm` and `user` are chosen by unprivileged users, so they are [`Name`]s: printed only
/// escaped. Serialized, each is the exact string plus a `comm_b64` / `user_b64` sibling
/// holding the raw bytes when they are not valid UTF-8 (recordings restore them exactly;
/// older recordings without the siblings read as before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ProcessInfoWire", try_from = "ProcessInfoWire")]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Command name (`/proc/PID/comm`), exact bytes.
    pub comm: Name,
    /// Real uid.
    pub uid: u32,
    /// User name for `uid`, or the number when the name is unknown.
    pub user: Name,
}

/// [`ProcessInfo`] as serialized: names as strings with their raw-byte siblings.
#[derive(Serialize, Deserialize)]
struct ProcessInfoWire {
    pid: u32,
    comm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    uid: u32,
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_b64: Option<String>,
}

impl From<ProcessInfo> for ProcessInfoWire {
    fn from(p: ProcessInfo) -> ProcessInfoWire {
        ProcessInfoWire {
            pid: p.pid,
            comm: p.comm.wire_text(),
            comm_b64: p.comm.raw_b64(),
            uid: p.uid,
            user: p.user.wire_text(),
            user_b64: p.user.raw_b64(),
        }
    }
}

impl TryFrom<ProcessInfoWire> for ProcessInfo {
    type Error = NameDecodeError;
    fn try_from(w: ProcessInfoWire) -> Result<ProcessInfo, NameDecodeError> {
        Ok(ProcessInfo {
            pid: w.pid,
            comm: Name::from_parts(&w.comm, w.comm_b64.as_deref())?,
            uid: w.uid,
            user: Name::from_parts(&w.user, w.user_b64.as_deref())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_round_trips_through_the_b64_sibling() {
        let p = ProcessInfo {
            pid: 7,
            comm: Name::from(&b"\xff\xfe"[..]),
            uid: 0,
            user: Name::from("root"),
        };
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["comm"], "\u{fffd}\u{fffd}");
        assert_eq!(json["comm_b64"], "//4=");
        assert!(json.get("user_b64").is_none(), "{json}");
        let back: ProcessInfo = serde_json::from_value(json).expect("back");
        assert_eq!(back, p);
    }

    #[test]
    fn control_bytes_stay_exact_in_the_string_and_old_files_still_read() {
        let p = ProcessInfo {
            pid: 7,
            comm: Name::from("\x1b[7mEVIL\n"),
            uid: 0,
            user: Name::from("root"),
        };
        let text = serde_json::to_string(&p).expect("json");
        assert!(!text.contains("comm_b64"), "{text}");
        let back: ProcessInfo = serde_json::from_str(&text).expect("back");
        assert_eq!(back.comm.raw_bytes(), b"\x1b[7mEVIL\n");
        // A recording written before the siblings existed.
        let old = r#"{"pid":1,"comm":"java","uid":0,"user":"root"}"#;
        let back: ProcessInfo = serde_json::from_str(old).expect("old");
        assert_eq!(back.comm, "java");
        // A sibling that is not base64 is an error, not a silent wrong name.
        let bad = r#"{"pid":1,"comm":"x","comm_b64":"!!","uid":0,"user":"root"}"#;
        assert!(serde_json::from_str::<ProcessInfo>(bad).is_err());
    }
}
