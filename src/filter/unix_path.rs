//! [`UnixPathMatch`]: the `--path` criterion for UNIX sockets: a filesystem path or an
//! abstract name (`@name`), exact or, with a trailing `*`, a prefix. Matching compares the
//! kernel's exact bytes, never the escaped form a terminal shows.

use std::fmt;
use std::str::FromStr;

use super::FilterError;
use crate::model::UnixName;

/// One `--path` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixPathMatch {
    /// Abstract (`@name`) rather than a filesystem path.
    pub abstract_name: bool,
    /// The name's bytes, without `@` and without the trailing `*`.
    pub bytes: Vec<u8>,
    /// A trailing `*`: any name starting with `bytes`.
    pub prefix: bool,
}

impl UnixPathMatch {
    /// Whether a socket bound to `name` passes (an unnamed socket never does).
    pub fn matches(&self, name: Option<&UnixName>) -> bool {
        let Some(name) = name else {
            return false;
        };
        if name.is_abstract() != self.abstract_name {
            return false;
        }
        let b = name.bytes();
        if self.prefix {
            b.starts_with(&self.bytes)
        } else {
            b == self.bytes.as_slice()
        }
    }
}

impl FromStr for UnixPathMatch {
    type Err = FilterError;

    /// A path must be absolute (`/run/x.sock`) or abstract (`@name`): a relative path
    /// would silently match nothing, since the kernel reports the name as bound.
    fn from_str(s: &str) -> Result<UnixPathMatch, FilterError> {
        let (abstract_name, rest) = match s.strip_prefix('@') {
            Some(r) => (true, r),
            None if s.starts_with('/') => (false, s),
            None => return Err(FilterError::UnixPath(s.to_string())),
        };
        let (prefix, rest) = match rest.strip_suffix('*') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() && !prefix {
            return Err(FilterError::UnixPath(s.to_string()));
        }
        Ok(UnixPathMatch {
            abstract_name,
            bytes: rest.as_bytes().to_vec(),
            prefix,
        })
    }
}

/// The spelling it was given in (`@name`, `/run/php/*`).
impl fmt::Display for UnixPathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.bytes);
        let at = if self.abstract_name { "@" } else { "" };
        let star = if self.prefix { "*" } else { "" };
        write!(f, "{at}{}{star}", crate::model::escape_controls(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Name;

    fn path(s: &str) -> UnixName {
        UnixName::Path(Name::from(s))
    }

    #[test]
    fn exact_prefix_and_abstract() {
        let m: UnixPathMatch = "/run/php/*".parse().expect("parse");
        assert!(m.matches(Some(&path("/run/php/fpm.sock"))));
        assert!(!m.matches(Some(&path("/run/x.sock"))));
        assert!(!m.matches(None));
        let m: UnixPathMatch = "@sock".parse().expect("parse");
        assert!(m.matches(Some(&UnixName::Abstract(Name::from("sock")))));
        assert!(!m.matches(Some(&path("sock"))));
        assert_eq!(m.to_string(), "@sock");
    }

    #[test]
    fn relative_or_empty_is_refused() {
        for bad in ["run/x.sock", "", "x", "/"] {
            let r = bad.parse::<UnixPathMatch>();
            if bad == "/" {
                assert!(r.is_ok(), "/ is a valid (if useless) exact path");
            } else {
                assert!(r.is_err(), "{bad:?} parsed");
            }
        }
    }
}
