//! The `--web-config` file: the YAML format of the Prometheus exporter-toolkit
//! (`tls_server_config`, `http_server_config`, `basic_auth_users`), so an operator reuses the
//! file node_exporter already reads.
//!
//! Owns parsing and checking the file into a [`WebConfig`] of plain values: every key is
//! known (an unknown one is refused, naming it), every value sockscope cannot honour is
//! refused, naming the key, rather than silently weakened. It must not open sockets or build
//! TLS state: `serve` turns the checked values into a rustls configuration, reading the
//! certificate files named here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::safefs::{self, ReadKind};

/// The whole file. An empty file is valid and asks for nothing (plain HTTP, no auth), as
/// in exporter-toolkit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// TLS; `None` serves plain HTTP.
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    /// HTTP settings.
    #[serde(default)]
    pub http_server_config: HttpServerConfig,
    /// User name → bcrypt hash; empty: no authentication.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// PEM certificate chain file (or [`Self::cert`] inline).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key file (or [`Self::key`] inline).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Inline PEM certificate chain.
    #[serde(default)]
    pub cert: Option<String>,
    /// Inline PEM private key.
    #[serde(default)]
    pub key: Option<String>,
    /// Go's `tls.ClientAuthType` name; default `NoClientCert`.
    #[serde(default)]
    pub client_auth_type: Option<String>,
    /// PEM CA bundle that client certificates must chain to.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Subject alternative names a client certificate must carry (not supported).
    #[serde(default)]
    pub client_allowed_sans: Vec<String>,
    /// `TLS12` (default) or `TLS13`.
    #[serde(default)]
    pub min_version: Option<String>,
    /// `TLS12` or `TLS13` (default).
    #[serde(default)]
    pub max_version: Option<String>,
    /// IANA names of the TLS 1.2 suites allowed (TLS 1.3 suites are not configurable, as
    /// in Go); empty: rustls' defaults.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Prefer the server's suite order (Go ignores it since 1.18; rustls honours it).
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    /// Go names of the key-exchange groups, in preference order: `X25519`, `CurveP256`,
    /// `CurveP384` (`CurveP521` is not supported).
    #[serde(default)]
    pub curve_preferences: Vec<String>,
}

/// `http_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Accepted for compatibility; sockscope speaks HTTP/1.1 only (Prometheus scrapes with
    /// HTTP/1.1 as well), so `true` changes nothing.
    #[serde(default)]
    pub http2: Option<bool>,
    /// Security headers added to every response (the names exporter-toolkit allows).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The response headers exporter-toolkit lets a web config set.
pub const ALLOWED_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// How client certificates are asked for, among the Go names rustls can honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert`.
    None,
    /// `VerifyClientCertIfGiven`: optional, verified against `client_ca_file` when given.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`.
    Require,
}

/// Why a web config was refused: one line naming the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("--web-config {path}: {key}: {message}")]
pub struct WebConfigError {
    /// The file.
    pub path: PathBuf,
    /// Dotted key (`tls_server_config.cipher_suites`), or `-` for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl WebConfigError {
    /// An error about `key` of the file at `path`.
    pub fn new(path: &Path, key: &str, message: impl Into<String>) -> WebConfigError {
        WebConfigError {
            path: path.to_path_buf(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Reads `path` through [`safefs`] with a config file's rules (it holds secrets: as root,
/// owned by root and not writable by group or others; a regular file of at most 1 MiB)
/// and checks it. Relative file names inside are taken relative to the file's directory,
/// as exporter-toolkit does.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = safefs::read_to_string_capped(path, ReadKind::Config)
        .map_err(|e| WebConfigError::new(path, "-", e.to_string()))?;
    let mut cfg = parse(&text, path)?;
    if cfg
        .tls_server_config
        .as_ref()
        .is_some_and(|t| t.key.is_some())
    {
        refuse_world_readable(path)
            .map_err(|m| WebConfigError::new(path, "tls_server_config.key", m))?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Some(tls) = cfg.tls_server_config.as_mut() {
        for p in [
            &mut tls.cert_file,
            &mut tls.key_file,
            &mut tls.client_ca_file,
        ] {
            if let Some(f) = p.as_mut().filter(|f| f.is_relative()) {
                *f = dir.join(&*f);
            }
        }
    }
    Ok(cfg)
}

/// Refuses a file that holds a TLS private key when every local user may read it (group
/// access is left to the operator: Debian's `ssl-cert` group reads keys by design).
pub fn refuse_world_readable(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::metadata(file) {
        Ok(m) if m.permissions().mode() & 0o004 != 0 => Err(format!(
            "{} holds a private key and every user may read it (mode {:04o}); chmod o-r it",
            crate::model::escape_controls(&file.display().to_string()),
            m.permissions().mode() & 0o7777
        )),
        // Missing or unreadable: the read that follows says so.
        _ => Ok(()),
    }
}

/// Parses and checks the text of a web config (`path` only names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
    if text.trim().is_empty() {
        return Ok(WebConfig::default());
    }
    let cfg: WebConfig = serde_norway::from_str(text).map_err(|e| {
        let msg = e.to_string().replace('\n', " ");
        // serde names the section (`tls_server_config: unknown field ...`) when it can.
        WebConfigError::new(path, "-", msg)
    })?;
    cfg.check(path)?;
    Ok(cfg)
}

impl WebConfig {
    fn check(&self, path: &Path) -> Result<(), WebConfigError> {
        for (user, hash) in &self.basic_auth_users {
            if user.contains(':') || user.is_empty() {
                return Err(WebConfigError::new(
                    path,
                    "basic_auth_users",
                    "a user name must be non-empty and without ':'",
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(WebConfigError::new(
                    path,
                    &format!("basic_auth_users.{}", user.escape_debug()),
                    "not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)",
                ));
            }
        }
        for (name, value) in &self.http_server_config.headers {
            let key = format!("http_server_config.headers.{}", name.escape_debug());
            if !ALLOWED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                let allowed = ALLOWED_HEADERS.join(", ");
                return Err(WebConfigError::new(
                    path,
                    &key,
                    format!("not an allowed header (allowed: {allowed})"),
                ));
            }
            if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
                return Err(WebConfigError::new(path, &key, "control characters"));
            }
        }
        let Some(tls) = &self.tls_server_config else {
            return Ok(());
        };
        let key = |k: &str| format!("tls_server_config.{k}");
        if tls.cert_file.is_some() == tls.cert.is_some() {
            return Err(WebConfigError::new(
                path,
                &key("cert_file"),
                "exactly one of cert_file and cert is required",
            ));
        }
        if tls.key_file.is_some() == tls.key.is_some() {
            return Err(WebConfigError::new(
                path,
                &key("key_file"),
                "exactly one of key_file and key is required",
            ));
        }
        if !tls.client_allowed_sans.is_empty() {
            return Err(WebConfigError::new(
                path,
                &key("client_allowed_sans"),
                "not supported by sockscope (restrict clients with client_ca_file)",
            ));
        }
        let auth = tls
            .client_auth()
            .map_err(|m| WebConfigError::new(path, &key("client_auth_type"), m))?;
        if auth != ClientAuth::None && tls.client_ca_file.is_none() {
            return Err(WebConfigError::new(
                path,
                &key("client_ca_file"),
                "required to verify client certificates",
            ));
        }
        if auth == ClientAuth::None && tls.client_ca_file.is_some() {
            return Err(WebConfigError::new(
                path,
                &key("client_auth_type"),
                "client_ca_file is set but NoClientCert asks for no certificate",
            ));
        }
        let (min, max) = tls
            .versions()
            .map_err(|(k, m)| WebConfigError::new(path, &key(k), m))?;
        if min > max {
            return Err(WebConfigError::new(
                path,
                &key("min_version"),
                "higher than max_version",
            ));
        }
        Ok(())
    }
}

impl TlsServerConfig {
    /// The client authentication asked for, or why it cannot be honoured.
    pub fn client_auth(&self) -> Result<ClientAuth, String> {
        match self.client_auth_type.as_deref().unwrap_or("NoClientCert") {
            "NoClientCert" => Ok(ClientAuth::None),
            "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
            "RequireAndVerifyClientCert" => Ok(ClientAuth::Require),
            t @ ("RequestClientCert" | "RequireAnyClientCert") => Err(format!(
                "{t} is not supported: rustls verifies every client certificate it accepts \
                 (use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file)"
            )),
            other => Err(format!(
                "unknown value '{}' (NoClientCert, VerifyClientCertIfGiven, \
                 RequireAndVerifyClientCert)",
                other.escape_debug()
            )),
        }
    }

    /// (lowest, highest) TLS minor version allowed: 2 for TLS 1.2, 3 for TLS 1.3; or the key
    /// and why not.
    pub fn versions(&self) -> Result<(u8, u8), (&'static str, String)> {
        let parse = |key: &'static str, v: &Option<String>, default: u8| match v.as_deref() {
            None => Ok(default),
            Some("TLS12") => Ok(2),
            Some("TLS13") => Ok(3),
            Some(old @ ("TLS10" | "TLS11")) => Err((
                key,
                format!("{old} is not supported by rustls (TLS12 or TLS13)"),
            )),
            Some(other) => Err((
                key,
                format!(
                    "unknown version '{}' (TLS12 or TLS13)",
                    other.escape_debug()
                ),
            )),
        };
        Ok((
            parse("min_version", &self.min_version, 2)?,
            parse("max_version", &self.max_version, 3)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$10$Bc9tQEQjYyvgbSQr8sfZJu5mlGNHyqovCbzbCXMUnW2AeIvclRefm";

    fn err(text: &str) -> String {
        parse(text, Path::new("w.yml")).unwrap_err().to_string()
    }

    #[test]
    fn the_toolkit_example_parses() {
        let text = format!(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
             min_version: TLS12\nhttp_server_config:\n  http2: true\n  headers:\n    \
             X-Frame-Options: deny\nbasic_auth_users:\n  alice: {HASH}\n"
        );
        let cfg = parse(&text, Path::new("w.yml")).unwrap();
        let tls = cfg.tls_server_config.unwrap();
        assert_eq!(tls.client_auth().unwrap(), ClientAuth::Require);
        assert_eq!(tls.versions().unwrap(), (2, 3));
        assert_eq!(cfg.basic_auth_users["alice"], HASH);
        assert_eq!(parse("", Path::new("w")).unwrap(), WebConfig::default());
    }

    #[test]
    fn the_shipped_example_parses() {
        let text = include_str!("../../assets/web-config.example.yml");
        let cfg = parse(text, Path::new("web-config.example.yml")).unwrap();
        assert!(cfg.tls_server_config.is_some());
        assert_eq!(cfg.basic_auth_users.len(), 1);
    }

    #[test]
    fn refusals_name_the_key_on_one_line() {
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  foo: 1\n");
        assert!(
            e.contains("unknown field `foo`") && !e.contains('\n'),
            "{e}"
        );
        assert!(err("nope: 1\n").contains("unknown field `nope`"));
        let e = err("basic_auth_users:\n  bob: plaintext\n");
        assert!(e.contains("basic_auth_users.bob: not a bcrypt hash"), "{e}");
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n");
        assert!(
            e.contains("tls_server_config.min_version: TLS10 is not supported"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAnyClientCert\n");
        assert!(
            e.contains("tls_server_config.client_auth_type: RequireAnyClientCert is not supported"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n");
        assert!(e.contains("client_ca_file: required"), "{e}");
        let e = err("tls_server_config:\n  key_file: b\n");
        assert!(
            e.contains("tls_server_config.cert_file: exactly one"),
            "{e}"
        );
        let e = err("http_server_config:\n  headers:\n    Server: x\n");
        assert!(
            e.contains("http_server_config.headers.Server: not an allowed header"),
            "{e}"
        );
        assert!(err(": : :\n").starts_with("--web-config w.yml: -: "));
    }
}
