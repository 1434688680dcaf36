//! `--unit GLOB` and `--container ID|NAME`: which systemd unit or container a socket's
//! owner runs in. Pure: parsing and matching over [`ProcessInfo`].
//!
//! A unit glob matches the unit's exact bytes (`*` any run, `?` one byte), so
//! `--unit 'php*'` catches `php8.2-fpm.service`; a glob without a `.` also matches the
//! name with its type suffix dropped, so `--unit nginx` finds `nginx.service`. A glob that
//! names the type may end in a manager scope: `@UID` for the units of that user's own
//! manager (`pipewire.service@1000`), `@system` for the system manager's only; without one
//! it matches both. (A full unit name always ends in its type, so the scope cannot be part
//! of a name: `getty@tty1.service` is a name, `user@1000` a glob.) A container term
//! matches an id by prefix (as `docker` accepts a short id) or a name exactly.

use std::fmt;
use std::str::FromStr;

use super::FilterError;
use crate::model::ProcessInfo;

/// A `--unit` glob, optionally limited to one manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMatch {
    glob: String,
    scope: Option<UnitScope>,
}

/// Which systemd manager's units a [`UnitMatch`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitScope {
    /// The system manager's (`@system`).
    System,
    /// The user manager of this uid's (`@1000`).
    User(u32),
}

impl FromStr for UnitMatch {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<UnitMatch, FilterError> {
        let bad = s.is_empty()
            || s.contains('/')
            || s.chars().any(|c| c.is_control() || c.is_whitespace());
        if bad {
            return Err(FilterError::Unit(crate::model::escape_controls(s)));
        }
        // `NAME.TYPE@SCOPE`: only after a `.` (a name's type), so `user@1000` stays a glob.
        if let Some((glob, tail)) = s.rsplit_once('@') {
            let scope = match tail {
                "system" => Some(UnitScope::System),
                t if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(UnitScope::User(t.parse().map_err(|_| {
                        FilterError::Unit(crate::model::escape_controls(s))
                    })?))
                }
                _ => None,
            };
            if let Some(scope) = scope.filter(|_| glob.contains('.')) {
                return Ok(UnitMatch {
                    glob: glob.to_string(),
                    scope: Some(scope),
                });
            }
        }
        Ok(UnitMatch {
            glob: s.to_string(),
            scope: None,
        })
    }
}

impl fmt::Display for UnitMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.glob)?;
        match self.scope {
            Some(UnitScope::System) => f.write_str("@system"),
            Some(UnitScope::User(uid)) => write!(f, "@{uid}"),
            None => Ok(()),
        }
    }
}

impl UnitMatch {
    /// The term that names exactly `name` of one manager (`None`: the system's, `Some(uid)`
    /// that user's): `None` when the name has no type (then a glob would also match the
    /// name with one) or glob bytes, or is no valid term.
    pub fn exact(name: &str, user: Option<u32>) -> Option<UnitMatch> {
        if name.contains(['*', '?']) || !name.contains('.') {
            return None;
        }
        let mut m: UnitMatch = name.parse().ok()?;
        if m.scope.is_some() {
            return None;
        }
        m.scope = Some(user.map_or(UnitScope::System, UnitScope::User));
        Some(m)
    }

    /// Whether `p` runs in a unit this glob names (of the manager it names, if any).
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        let Some(unit) = &p.unit else {
            return false;
        };
        let scope_ok = match self.scope {
            None => true,
            Some(UnitScope::System) => unit.user.is_none(),
            Some(UnitScope::User(uid)) => unit.user == Some(uid),
        };
        if !scope_ok {
            return false;
        }
        let name = unit.name.raw_bytes();
        let glob = self.glob.as_bytes();
        if glob_match(glob, name) {
            return true;
        }
        // Only a glob with no dot stands for the name without its type.
        !glob.contains(&b'.')
            && [&b".service"[..], b".scope", b".slice"]
                .iter()
                .any(|sfx| name.strip_suffix(*sfx).is_some_and(|n| glob_match(glob, n)))
    }
}

/// `*` and `?` over bytes, iteratively (no exponential backtracking on `a*a*a*b`).
pub fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some(b'*') => {
                star = Some((g, t));
                g += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                g += 1;
                t += 1;
            }
            _ => match star {
                Some((sg, st)) => {
                    g = sg + 1;
                    t = st + 1;
                    star = Some((sg, st + 1));
                }
                None => return false,
            },
        }
    }
    glob.get(g..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// A `--container` id prefix or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMatch(String);

impl FromStr for ContainerMatch {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<ContainerMatch, FilterError> {
        // Docker's and podman's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*; an id is hex.
        let ok = s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(FilterError::Container(crate::model::escape_controls(s)));
        }
        Ok(ContainerMatch(s.to_string()))
    }
}

impl fmt::Display for ContainerMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ContainerMatch {
    /// Whether `p` runs in a container with this id prefix or this name.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        let Some(c) = &p.container else {
            return false;
        };
        c.id.raw_bytes().starts_with(self.0.as_bytes())
            || c.name
                .as_ref()
                .is_some_and(|n| n.raw_bytes() == self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, Name, Runtime, Unit};

    fn p(unit: &str, id: &str, name: Option<&str>) -> ProcessInfo {
        ProcessInfo {
            pid: 1,
            comm: Name::from("x"),
            uid: 0,
            user: Name::from("root"),
            unit: Some(Unit {
                name: Name::from(unit),
                user: None,
            }),
            container: Some(Container {
                runtime: Runtime::Docker,
                id: Name::from(id),
                name: name.map(Name::from),
                pod_uid: None,
                qos: None,
            }),
        }
    }

    #[test]
    fn globs() {
        let m = |g: &str, u: &str| {
            g.parse::<UnitMatch>()
                .expect("glob")
                .matches(&p(u, "ab", None))
        };
        assert!(m("nginx.service", "nginx.service"));
        assert!(m("nginx", "nginx.service"));
        assert!(m("php*", "php8.2-fpm.service"));
        assert!(m("*.scope", "session-3.scope"));
        assert!(m("sscdemo-?.service", "sscdemo-7.service"));
        assert!(!m("nginx", "nginx-debug.service"));
        assert!(!m("nginx.scope", "nginx.service"));
        assert!(!m("ngin", "nginx.service"));
        assert!(glob_match(
            b"a*a*a*a*b",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"
        ));
        assert!(!glob_match(
            b"a*a*a*a*b",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ));
        let none = ProcessInfo {
            unit: None,
            ..p("x", "ab", None)
        };
        assert!(!"*".parse::<UnitMatch>().expect("glob").matches(&none));
    }

    #[test]
    fn a_scope_names_one_manager() {
        let unit = |user: Option<u32>| ProcessInfo {
            unit: Some(Unit {
                name: Name::from("pipewire.service"),
                user,
            }),
            ..p("x", "ab", None)
        };
        let m = |g: &str, user| g.parse::<UnitMatch>().expect("glob").matches(&unit(user));
        assert!(m("pipewire.service@1000", Some(1000)));
        assert!(!m("pipewire.service@1000", Some(1001)));
        assert!(!m("pipewire.service@1000", None));
        assert!(m("pipewire.service@system", None));
        assert!(!m("pipewire.service@system", Some(1000)));
        assert!(m("pipewire.service", Some(1000)) && m("pipewire.service", None));
        assert!(m("pipe*.service@1000", Some(1000)));
        // `@` in a name is the template's, not a scope.
        let templ = |g: &str, n: &str| {
            let pi = ProcessInfo {
                unit: Some(Unit {
                    name: Name::from(n),
                    user: None,
                }),
                ..p("x", "ab", None)
            };
            g.parse::<UnitMatch>().expect("glob").matches(&pi)
        };
        assert!(templ("getty@tty1.service", "getty@tty1.service"));
        assert!(templ("user@1000", "user@1000.service"));
        assert!(templ("user@1000.service", "user@1000.service"));
        for t in [
            "pipewire.service@1000",
            "a.b@system",
            "user@1000",
            "getty@tty1.service",
        ] {
            assert_eq!(t.parse::<UnitMatch>().expect(t).to_string(), t);
        }
        assert!("a.service@99999999999".parse::<UnitMatch>().is_err());
        // Exact terms for the grouped view.
        let e = UnitMatch::exact("pipewire.service", Some(1000)).expect("exact");
        assert_eq!(e.to_string(), "pipewire.service@1000");
        assert!(e.matches(&unit(Some(1000))) && !e.matches(&unit(Some(1001))));
        assert!(!e.matches(&unit(None)));
        let e = UnitMatch::exact("pipewire.service", None).expect("exact");
        assert_eq!(e.to_string(), "pipewire.service@system");
        assert!(UnitMatch::exact("php*.service", None).is_none());
        assert!(UnitMatch::exact("nginx", None).is_none());
    }

    #[test]
    fn containers_by_id_prefix_or_name() {
        let id = "3f4e1a2b5c6d7e8f90a1";
        let m = |t: &str| {
            t.parse::<ContainerMatch>()
                .expect("term")
                .matches(&p("u", id, Some("web")))
        };
        assert!(m("3f4e1a2b5c6d"));
        assert!(m(id));
        assert!(m("web"));
        assert!(!m("we"));
        assert!(!m("4f"));
    }

    #[test]
    fn bad_values_are_refused_in_one_line() {
        for s in ["", "a/b", "a b", "x\ny"] {
            let e = s.parse::<UnitMatch>().expect_err(s).to_string();
            assert!(!e.contains('\n'), "{e}");
        }
        for s in ["", "-x", "a/b", "a b", "x\u{1b}"] {
            let e = s.parse::<ContainerMatch>().expect_err(s).to_string();
            assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
        }
    }
}
