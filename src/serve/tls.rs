//! What `--web-config` turns on: TLS through rustls (ring provider), basic auth against
//! bcrypt hashes, and extra response headers.
//!
//! Owns building the rustls server configuration from a checked
//! [`WebConfig`] (reading the certificate and key files through [`crate::safefs`], with the
//! config file's root rules: the key is a secret) and checking credentials. A successful
//! bcrypt verification is cached per user (bcrypt costs 50–250 ms and a scraper comes
//! every few seconds), and the cached password is compared in constant time; a miss, a
//! wrong password or an unknown user pays one bcrypt run, off the async workers.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hyper::header::{HeaderName, HeaderValue};
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::web::{ClientAuth, TlsServerConfig, WebConfig, WebConfigError};
use crate::safefs::{self, ReadKind};

/// A bcrypt hash (cost 10) of a random password, verified against for unknown users so
/// that their answer takes as long as a wrong password's; see [`dummy_for`] for other costs.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// TLS, basic auth and headers, ready to serve.
pub struct Web {
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) auth: Option<Auth>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth.is_some())
            .field("headers", &self.headers)
            .finish()
    }
}

/// Basic-auth users and the cache of verified passwords.
pub(crate) struct Auth {
    users: BTreeMap<String, String>,
    verified: Mutex<BTreeMap<String, Vec<u8>>>,
    /// What an unknown user's password is checked against: the costliest configured hash's
    /// cost, so that the answer's time does not tell which user names exist.
    dummy: String,
    /// One bcrypt run at a time: a flood of wrong credentials costs at most one core, and
    /// the collection thread and the scrapes keep the other. A waiting check is dropped with
    /// its connection (cancelled, not queued forever).
    bcrypt_slot: Arc<tokio::sync::Semaphore>,
}

/// The cost field of a bcrypt hash (`$2y$10$…` → 10).
fn cost_of(hash: &str) -> Option<u32> {
    hash.split('$').nth(2)?.parse().ok()
}

/// A dummy hash as costly as the costliest of `hashes` (the built-in one when that is 10
/// or none parses).
fn dummy_for<'a>(hashes: impl Iterator<Item = &'a String>) -> String {
    match hashes.filter_map(|h| cost_of(h)).max() {
        Some(cost) if cost != 10 => {
            bcrypt::hash("sockscope: no such user", cost).unwrap_or_else(|_| DUMMY_HASH.to_string())
        }
        _ => DUMMY_HASH.to_string(),
    }
}

impl Web {
    /// Builds TLS and auth from a checked web config read from `path` (named in errors).
    pub fn build(cfg: &WebConfig, path: &Path) -> Result<Web, WebConfigError> {
        let tls = match &cfg.tls_server_config {
            Some(t) => Some(TlsAcceptor::from(Arc::new(server_config(t, path)?))),
            None => None,
        };
        let auth = (!cfg.basic_auth_users.is_empty()).then(|| Auth {
            users: cfg.basic_auth_users.clone(),
            verified: Mutex::new(BTreeMap::new()),
            dummy: dummy_for(cfg.basic_auth_users.values()),
            bcrypt_slot: Arc::new(tokio::sync::Semaphore::new(1)),
        });
        let mut headers = Vec::new();
        for (name, value) in &cfg.http_server_config.headers {
            let key = format!("http_server_config.headers.{}", name.escape_debug());
            let bad = |_| WebConfigError::new(path, &key, "not a valid header");
            headers.push((
                HeaderName::try_from(name.as_str()).map_err(|e| bad(e.to_string()))?,
                HeaderValue::try_from(value.as_str()).map_err(|e| bad(e.to_string()))?,
            ));
        }
        Ok(Web { tls, auth, headers })
    }

    /// Whether connections speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

fn read(path: &Path, file: &Path, key: &str) -> Result<Vec<u8>, WebConfigError> {
    safefs::read_capped(file, ReadKind::Config)
        .map_err(|e| WebConfigError::new(path, key, e.to_string()))
}

fn server_config(t: &TlsServerConfig, path: &Path) -> Result<rustls::ServerConfig, WebConfigError> {
    let key = |k: &str| format!("tls_server_config.{k}");
    let err = |k: &str, m: String| WebConfigError::new(path, &key(k), m);
    // ring rather than aws-lc-rs: it builds with a C compiler alone (no cmake, no nasm).
    // rustls deprecates it for lacking post-quantum key exchange; classic ECDHE stays.
    #[allow(deprecated)]
    let mut p = provider::default_provider();
    if !t.cipher_suites.is_empty() {
        let mut kept: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .copied()
            .collect();
        for name in &t.cipher_suites {
            let found = provider::ALL_CIPHER_SUITES.iter().find(|s| {
                let n = format!("{:?}", s.suite());
                s.version() == &rustls::version::TLS12
                    && (n == *name || n == format!("{name}_SHA256"))
            });
            match found {
                Some(s) => kept.push(*s),
                None => {
                    return Err(err(
                        "cipher_suites",
                        format!(
                            "{} is not a TLS 1.2 suite rustls offers (it has ECDHE with AES-GCM \
                             or ChaCha20-Poly1305 only)",
                            name.escape_debug()
                        ),
                    ))
                }
            }
        }
        p.cipher_suites = kept;
    }
    if !t.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &t.curve_preferences {
            let g = match name.as_str() {
                "X25519" => provider::kx_group::X25519,
                "CurveP256" => provider::kx_group::SECP256R1,
                "CurveP384" => provider::kx_group::SECP384R1,
                other => {
                    return Err(err(
                        "curve_preferences",
                        format!(
                            "{} is not supported (X25519, CurveP256, CurveP384)",
                            other.escape_debug()
                        ),
                    ))
                }
            };
            groups.push(g);
        }
        p.kx_groups = groups;
    }
    let (min, max) = t.versions().map_err(|(k, m)| err(k, m))?;
    let versions: Vec<_> = [(2, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, v)| v)
        .collect();
    let cert_pem = match (&t.cert_file, &t.cert) {
        (Some(f), _) => read(path, f, &key("cert_file"))?,
        (None, Some(inline)) => inline.clone().into_bytes(),
        (None, None) => return Err(err("cert_file", "missing".into())),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(f), _) => {
            crate::config::web::refuse_world_readable(f).map_err(|m| err("key_file", m))?;
            read(path, f, &key("key_file"))?
        }
        (None, Some(inline)) => inline.clone().into_bytes(),
        (None, None) => return Err(err("key_file", "missing".into())),
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("cert_file", format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(err("cert_file", "no certificate in it".into()));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| err("key_file", format!("no usable PEM private key: {e}")))?;

    let provider = Arc::new(p);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| err("cipher_suites", format!("no usable suite left: {e}")))?;
    let auth = t.client_auth().map_err(|m| err("client_auth_type", m))?;
    let builder = match (auth, &t.client_ca_file) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (auth, Some(ca)) => {
            let pem = read(path, ca, &key("client_ca_file"))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c =
                    c.map_err(|e| err("client_ca_file", format!("not a PEM certificate: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| err("client_ca_file", format!("unusable CA: {e}")))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if auth == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| err("client_ca_file", e.to_string()))?,
            )
        }
    };
    let mut config = builder
        .with_single_cert(certs, private)
        .map_err(|e| err("key_file", format!("does not fit the certificate: {e}")))?;
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(false);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `a == b` in time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Whether `authorization` (the request's header) carries a configured user's password.
    pub(crate) async fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
        else {
            return false;
        };
        let cached = match self.verified.lock() {
            Ok(g) => g.get(&user).is_some_and(|p| same(p, password.as_bytes())),
            Err(_) => false,
        };
        if cached {
            return true;
        }
        let hash = self.users.get(&user).cloned();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.clone());
        let pw = password.clone();
        let Ok(slot) = Arc::clone(&self.bcrypt_slot).acquire_owned().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || {
            let ok = bcrypt::verify(pw, &hash).unwrap_or(false);
            drop(slot);
            ok
        })
        .await
        .unwrap_or(false)
            && known;
        if ok {
            if let Ok(mut g) = self.verified.lock() {
                g.insert(user, password.into_bytes());
            }
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }

    #[tokio::test]
    async fn a_verified_password_is_cached_and_a_wrong_one_is_not() {
        let users: BTreeMap<String, String> =
            [("u".to_string(), bcrypt::hash("pw", 8).unwrap())].into();
        let auth = Auth {
            dummy: dummy_for(users.values()),
            users,
            verified: Mutex::new(BTreeMap::new()),
            bcrypt_slot: Arc::new(tokio::sync::Semaphore::new(1)),
        };
        let header = |pw: &str| {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("u:{pw}"));
            HeaderValue::from_str(&format!("Basic {b}")).unwrap()
        };
        let t = std::time::Instant::now();
        assert!(auth.allows(Some(&header("pw"))).await);
        let first = t.elapsed();
        let t = std::time::Instant::now();
        assert!(auth.allows(Some(&header("pw"))).await);
        let cached = t.elapsed();
        assert!(cached * 20 < first, "cached {cached:?} vs bcrypt {first:?}");
        assert!(!auth.allows(Some(&header("pX"))).await);
        assert!(!auth.allows(Some(&header("p"))).await);
        assert!(!auth.allows(None).await);
        assert!(
            !auth
                .allows(Some(&HeaderValue::from_static("Bearer x")))
                .await
        );
    }

    #[test]
    fn the_dummy_hash_is_a_bcrypt_hash() {
        assert!(!bcrypt::verify("", DUMMY_HASH).unwrap());
        assert_eq!(cost_of(DUMMY_HASH), Some(10));
    }

    #[test]
    fn the_dummy_costs_what_the_costliest_user_hash_costs() {
        let cheap = bcrypt::hash("pw", 5).unwrap();
        let dear = bcrypt::hash("pw", 6).unwrap();
        assert_eq!(cost_of(&dummy_for([cheap.clone()].iter())), Some(5));
        assert_eq!(cost_of(&dummy_for([cheap, dear].iter())), Some(6));
        assert_eq!(dummy_for(["garbage".to_string()].iter()), DUMMY_HASH);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bcrypt_runs_one_at_a_time() {
        let users: BTreeMap<String, String> =
            [("u".to_string(), bcrypt::hash("pw", 8).unwrap())].into();
        let auth = Arc::new(Auth {
            dummy: dummy_for(users.values()),
            users,
            verified: Mutex::new(BTreeMap::new()),
            bcrypt_slot: Arc::new(tokio::sync::Semaphore::new(1)),
        });
        let b = base64::engine::general_purpose::STANDARD.encode("u:wrong");
        let wrong = HeaderValue::from_str(&format!("Basic {b}")).unwrap();
        // While the one slot is taken, a check waits (and runs no bcrypt); freed, it runs.
        let held = Arc::clone(&auth.bcrypt_slot).acquire_owned().await.unwrap();
        let waiting = {
            let (a, w) = (Arc::clone(&auth), wrong.clone());
            tokio::spawn(async move { a.allows(Some(&w)).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "a check ran without the bcrypt slot"
        );
        drop(held);
        assert!(!waiting.await.unwrap());
        assert_eq!(auth.bcrypt_slot.available_permits(), 1);
    }
}
