//! The serialized form of [`Subject`](super::Subject): names as exact text plus raw-byte
//! (`*_b64`) siblings, units and containers likewise. Owns only the wire shape and its
//! conversions; what a subject means and how it prints stays in [`super`].

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Subject;
use crate::model::{Container, Endpoint, Name, NameDecodeError, Unit, UnixName};

/// [`Subject`] as serialized: names as text with their raw-byte siblings.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum SubjectWire {
    Process {
        pid: u32,
        comm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_b64: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<UnitWire>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<ContainerWire>,
    },
    Listener {
        local: Endpoint,
        pid: Option<u32>,
        comm: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<UnitWire>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<ContainerWire>,
    },
    Destination {
        remote: Endpoint,
    },
    Host,
    Unowned {
        orphaned: bool,
    },
    Route {
        source: IpAddr,
        remote: Endpoint,
    },
    UnixListener {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name_b64: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        name_abstract: bool,
        inode: u64,
        pid: Option<u32>,
        comm: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<UnitWire>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<ContainerWire>,
    },
    Service {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<UnitWire>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<ContainerWire>,
        pids: Vec<u32>,
        comm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
    },
}

/// A [`Unit`] on the wire: its name (exact text, `name_b64` for non-UTF-8 bytes), the
/// user manager's uid for a user unit, and the label tables print.
#[derive(Serialize, Deserialize)]
pub(super) struct UnitWire {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<u32>,
}

impl From<Unit> for UnitWire {
    fn from(u: Unit) -> UnitWire {
        UnitWire {
            name: u.name.wire_text(),
            name_b64: u.name.raw_b64(),
            user: u.user,
        }
    }
}

impl TryFrom<UnitWire> for Unit {
    type Error = NameDecodeError;
    fn try_from(w: UnitWire) -> Result<Unit, NameDecodeError> {
        Ok(Unit {
            name: Name::from_parts(&w.name, w.name_b64.as_deref())?,
            user: w.user,
        })
    }
}

/// A [`Container`] on the wire: runtime, id, and the name, pod and QoS class where known
/// (the name with `name_b64` for non-UTF-8 bytes; ids are hex by construction).
#[derive(Serialize, Deserialize)]
pub(super) struct ContainerWire {
    #[serde(flatten)]
    container: Container,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_b64: Option<String>,
}

impl From<Container> for ContainerWire {
    fn from(c: Container) -> ContainerWire {
        ContainerWire {
            name_b64: c.name.as_ref().and_then(Name::raw_b64),
            container: c,
        }
    }
}

impl TryFrom<ContainerWire> for Container {
    type Error = NameDecodeError;
    fn try_from(w: ContainerWire) -> Result<Container, NameDecodeError> {
        let mut c = w.container;
        if let Some(n) = &c.name {
            c.name = Some(Name::from_parts(&n.wire_text(), w.name_b64.as_deref())?);
        }
        Ok(c)
    }
}

impl From<Subject> for SubjectWire {
    fn from(s: Subject) -> SubjectWire {
        match s {
            Subject::Process {
                pid,
                comm,
                user,
                unit,
                container,
            } => SubjectWire::Process {
                pid,
                comm: comm.wire_text(),
                comm_b64: comm.raw_b64(),
                user: user.wire_text(),
                user_b64: user.raw_b64(),
                unit: unit.map(UnitWire::from),
                container: container.map(ContainerWire::from),
            },
            Subject::Service {
                unit,
                container,
                pids,
                comm,
            } => SubjectWire::Service {
                unit: unit.map(UnitWire::from),
                container: container.map(ContainerWire::from),
                pids,
                comm: comm.wire_text(),
                comm_b64: comm.raw_b64(),
            },
            Subject::Listener {
                local,
                pid,
                comm,
                unit,
                container,
            } => SubjectWire::Listener {
                local,
                pid,
                comm: comm.as_ref().map(Name::wire_text),
                comm_b64: comm.as_ref().and_then(Name::raw_b64),
                unit: unit.map(UnitWire::from),
                container: container.map(ContainerWire::from),
            },
            Subject::Destination { remote } => SubjectWire::Destination { remote },
            Subject::Host => SubjectWire::Host,
            Subject::Unowned { orphaned } => SubjectWire::Unowned { orphaned },
            Subject::Route { source, remote } => SubjectWire::Route { source, remote },
            Subject::UnixListener {
                name,
                inode,
                pid,
                comm,
                unit,
                container,
            } => {
                let (text, b64, is_abstract) = match &name {
                    None => (None, None, false),
                    Some(UnixName::Path(n)) => (Some(n.wire_text()), n.raw_b64(), false),
                    Some(UnixName::Abstract(n)) => (Some(n.wire_text()), n.raw_b64(), true),
                };
                SubjectWire::UnixListener {
                    name: text,
                    name_b64: b64,
                    name_abstract: is_abstract,
                    inode,
                    pid,
                    comm: comm.as_ref().map(Name::wire_text),
                    comm_b64: comm.as_ref().and_then(Name::raw_b64),
                    unit: unit.map(UnitWire::from),
                    container: container.map(ContainerWire::from),
                }
            }
        }
    }
}

impl TryFrom<SubjectWire> for Subject {
    type Error = NameDecodeError;
    fn try_from(w: SubjectWire) -> Result<Subject, NameDecodeError> {
        Ok(match w {
            SubjectWire::Process {
                pid,
                comm,
                comm_b64,
                user,
                user_b64,
                unit,
                container,
            } => Subject::Process {
                pid,
                comm: Name::from_parts(&comm, comm_b64.as_deref())?,
                user: Name::from_parts(&user, user_b64.as_deref())?,
                unit: unit.map(Unit::try_from).transpose()?,
                container: container.map(Container::try_from).transpose()?,
            },
            SubjectWire::Service {
                unit,
                container,
                pids,
                comm,
                comm_b64,
            } => Subject::Service {
                unit: unit.map(Unit::try_from).transpose()?,
                container: container.map(Container::try_from).transpose()?,
                pids,
                comm: Name::from_parts(&comm, comm_b64.as_deref())?,
            },
            SubjectWire::Listener {
                local,
                pid,
                comm,
                comm_b64,
                unit,
                container,
            } => Subject::Listener {
                local,
                pid,
                comm: comm
                    .map(|c| Name::from_parts(&c, comm_b64.as_deref()))
                    .transpose()?,
                unit: unit.map(Unit::try_from).transpose()?,
                container: container.map(Container::try_from).transpose()?,
            },
            SubjectWire::Destination { remote } => Subject::Destination { remote },
            SubjectWire::Host => Subject::Host,
            SubjectWire::Unowned { orphaned } => Subject::Unowned { orphaned },
            SubjectWire::Route { source, remote } => Subject::Route { source, remote },
            SubjectWire::UnixListener {
                name,
                name_b64,
                name_abstract,
                inode,
                pid,
                comm,
                comm_b64,
                unit,
                container,
            } => Subject::UnixListener {
                name: name
                    .map(|t| Name::from_parts(&t, name_b64.as_deref()))
                    .transpose()?
                    .map(|n| {
                        if name_abstract {
                            UnixName::Abstract(n)
                        } else {
                            UnixName::Path(n)
                        }
                    }),
                inode,
                pid,
                comm: comm
                    .map(|c| Name::from_parts(&c, comm_b64.as_deref()))
                    .transpose()?,
                unit: unit.map(Unit::try_from).transpose()?,
                container: container.map(Container::try_from).transpose()?,
            },
        })
    }
}
