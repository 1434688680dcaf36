//! `--unit GLOB` and `--container ID|NAME`: which systemd unit or container a socket's
//! owner runs in. Pure: parsing and matching over [`ProcessInfo`].
//!
//! A unit glob matches the unit's exact bytes (`*` any run, `?` one byte), so
//! `--unit 'php*'` catches `php8.2-fpm.service`; a glob without a `.` also matches the
//! name with its type suffix dropped, so `--unit nginx` finds `nginx.service`. A container
//! term matches an id by prefix (as `docker` accepts a short id) or a name exactly.

use std::fmt;
use std::str::FromStr;

use super::FilterError;
use crate::model::ProcessInfo;

/// A `--unit` glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMatch(String);

impl FromStr for UnitMatch {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<UnitMatch, FilterError> {
        let bad = s.is_empty()
            || s.contains('/')
            || s.chars().any(|c| c.is_control() || c.is_whitespace());
        if bad {
            return Err(FilterError::Unit(crate::model::escape_controls(s)));
        }
        Ok(UnitMatch(s.to_string()))
    }
}

impl fmt::Display for UnitMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl UnitMatch {
    /// Whether `p` runs in a unit this glob names.
    pub fn matches(&self, p: &ProcessInfo) -> bool {
        let Some(unit) = &p.unit else {
            return false;
        };
        let name = unit.name.raw_bytes();
        let glob = self.0.as_bytes();
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
