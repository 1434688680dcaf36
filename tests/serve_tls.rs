//! `serve --web-config`: TLS, client certificates and basic auth, driven with `curl` against
//! the real binary and certificates this test generates (rcgen): a CA, a server certificate
//! for 127.0.0.1, a client certificate, and a second CA nobody trusts. Bad web configs are
//! one line and exit 2.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files in a temporary directory (root-owned, 0644, as `--web-config` requires).
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(rcgen::DnType::CommonName, name.to_string());
            CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
        };
        let (ca, other_ca) = (ca("sockscope test CA"), ca("untrusted CA"));
        let leaf = |sans: Vec<String>, issuer: &CertifiedIssuer<'_, KeyPair>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()], &ca);
        let (client, client_key) = leaf(vec!["scraper".into()], &ca);
        let (stranger, stranger_key) = leaf(vec!["stranger".into()], &other_ca);
        for (name, pem) in [
            ("ca.pem", ca.pem()),
            ("other-ca.pem", other_ca.pem()),
            ("server.pem", server),
            ("server.key", server_key),
            ("client.pem", client),
            ("client.key", client_key),
            ("stranger.pem", stranger),
            ("stranger.key", stranger_key),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
            if name.ends_with(".key") {
                // As keys are kept: sockscope refuses one every user may read.
                std::fs::set_permissions(
                    dir.path().join(name),
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .unwrap();
            }
        }
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` as the web config `name` and returns its path.
    fn web_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// `serve --web-config cfg` run to its exit (a refused config exits at once).
fn serve_once(cfg: &Path) -> std::process::Output {
    run_bounded(
        Command::new(sockscope_path()).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--web-config",
            cfg.to_str().unwrap(),
        ]),
        std::time::Duration::from_secs(20),
    )
}

/// A server with `--web-config cfg`; its `host:port` from the https serving line.
fn serve(cfg: &Path) -> (Server, String) {
    let mut s = Server::start(
        "",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--web-config",
            cfg.to_str().unwrap(),
        ],
    );
    let addr = wait_for(
        "the https serving line",
        std::time::Duration::from_secs(30),
        || {
            s.stderr().iter().find_map(|l| {
                let rest = l.split("serving metrics on https://").nth(1)?;
                Some(rest.trim_end_matches("/metrics").to_string())
            })
        },
    );
    (s, addr)
}

/// `curl` with `args` then the URL: (HTTP status or 0, stdout, curl's exit code).
fn curl(url: &str, args: &[&str]) -> (u16, String, i32) {
    let out = run_bounded(
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
            .args(args)
            .arg(url),
        std::time::Duration::from_secs(15),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        body.to_string(),
        out.status.code().unwrap_or(-1),
    )
}

fn tls_config(pki: &Pki, extra: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
        pki.path("server.pem").display(),
        pki.path("server.key").display()
    )
}

#[test]
fn tls_and_basic_auth_with_curl() {
    if !require_root(
        "tls_and_basic_auth_with_curl",
        "the web config must be root-owned",
    ) {
        return;
    }
    let pki = Pki::new();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let cfg = pki.web_config(
        "web.yml",
        &format!(
            "{}http_server_config:\n  headers:\n    X-Frame-Options: deny\n\
             basic_auth_users:\n  prometheus: '{hash}'\n",
            tls_config(&pki, "")
        ),
    );
    let (_s, addr) = serve(&cfg);
    let url = format!("https://{addr}/metrics");
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();

    let (code, body, _) = curl(&url, &["--cacert", ca, "-u", "prometheus:s3cret"]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("sockscope_up 1"), "{body}");
    // The first verification is cached: the next ones skip bcrypt (and still pass).
    let (code, body, _) = curl(
        &url,
        &[
            "--cacert",
            ca,
            "-u",
            "prometheus:s3cret",
            "--compressed",
            "-D",
            "-",
        ],
    );
    assert_eq!(code, 200);
    assert!(
        body.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{body}"
    );
    assert!(
        body.to_ascii_lowercase().contains("x-frame-options: deny"),
        "{body}"
    );
    assert!(
        body.contains("sockscope_up 1"),
        "gzip body decoded by curl: {body}"
    );

    let (code, body, _) = curl(&url, &["--cacert", ca, "-u", "prometheus:wrong", "-D", "-"]);
    assert_eq!(code, 401, "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{body}"
    );
    assert!(!body.contains("sockscope_"), "{body}");
    assert_eq!(curl(&url, &["--cacert", ca, "-u", "nobody:s3cret"]).0, 401);
    let (code, body, _) = curl(&url, &["--cacert", ca, "-D", "-"]);
    assert_eq!(code, 401, "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{body}"
    );

    // A CA that did not sign the server certificate: curl refuses the handshake.
    let (code, _, rc) = curl(
        &url,
        &["--cacert", pki.path("other-ca.pem").to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert_eq!(rc, 60, "curl exit 60 is a certificate it cannot verify");

    // Plain HTTP to the TLS port: no response, the connection is closed, the server lives.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(!String::from_utf8_lossy(&got).contains("sockscope_"));
    assert_eq!(
        curl(&url, &["--cacert", ca, "-u", "prometheus:s3cret"]).0,
        200
    );
}

#[test]
fn client_certificates_are_required_and_verified() {
    if !require_root(
        "client_certificates_are_required_and_verified",
        "the web config must be root-owned",
    ) {
        return;
    }
    let pki = Pki::new();
    let cfg = pki.web_config(
        "mtls.yml",
        &tls_config(
            &pki,
            &format!(
                "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS12\n",
                pki.path("ca.pem").display()
            ),
        ),
    );
    let (_s, addr) = serve(&cfg);
    let url = format!("https://{addr}/healthz");
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    let p = |n: &str| pki.path(n).to_str().unwrap().to_string();
    let with_cert = [
        "--cacert",
        ca,
        "--cert",
        &p("client.pem"),
        "--key",
        &p("client.key"),
    ];
    let ok = wait_for(
        "healthz ok over mTLS",
        std::time::Duration::from_secs(20),
        || {
            let (code, body, _) = curl(&url, &with_cert);
            (code == 200).then_some(body)
        },
    );
    assert_eq!(ok, "ok\n");
    // No client certificate, or one from a CA the server does not trust: the handshake fails.
    let (code, _, rc) = curl(&url, &["--cacert", ca]);
    assert_eq!(code, 0);
    assert_ne!(rc, 0);
    let stranger = [
        "--cacert",
        ca,
        "--cert",
        &p("stranger.pem"),
        "--key",
        &p("stranger.key"),
    ];
    let (code, _, rc) = curl(&url, &stranger);
    assert_eq!((code, rc != 0), (0, true));
    assert_eq!(curl(&url, &with_cert).0, 200);
}

#[test]
fn bad_web_configs_are_one_line_and_exit_2() {
    if !require_root(
        "bad_web_configs_are_one_line_and_exit_2",
        "the web config must be root-owned",
    ) {
        return;
    }
    let pki = Pki::new();
    let cases: Vec<(String, &str)> = vec![
        ("tls_server_config: [unclosed\n".into(), "--web-config"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cert_fiel: c\n".into(),
            "unknown field `cert_fiel`",
        ),
        (
            "rate_limit:\n  interval: 1s\n".into(),
            "unknown field `rate_limit`",
        ),
        (
            tls_config(&pki, "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
            "tls_server_config.cipher_suites: TLS_RSA_WITH_RC4_128_SHA",
        ),
        (
            tls_config(&pki, "  min_version: TLS10\n"),
            "tls_server_config.min_version",
        ),
        (
            tls_config(&pki, "  client_auth_type: RequestClientCert\n"),
            "tls_server_config.client_auth_type",
        ),
        (
            tls_config(&pki, "  curve_preferences: [CurveP521]\n"),
            "tls_server_config.curve_preferences",
        ),
        (
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n"
                .into(),
            "tls_server_config.cert_file",
        ),
        (
            "basic_auth_users:\n  alice: hunter2\n".into(),
            "basic_auth_users.alice: not a bcrypt hash",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let cfg = pki.web_config(&format!("bad{i}.yml"), text);
        let out = serve_once(&cfg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{text}: {err}");
        assert!(err.contains(want), "{text}: want {want:?} in {err}");
        assert!(err.contains(&format!("bad{i}.yml")), "{err}");
    }
    // A web config another user could have written is refused, as a config file is.
    let cfg = pki.web_config("loose.yml", "");
    std::fs::set_permissions(&cfg, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let out = serve_once(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("writable by group/others"), "{err}");

    // A private key every local user may read is refused, naming the key.
    let loose_key = pki.path("loose.key");
    std::fs::copy(pki.path("server.key"), &loose_key).unwrap();
    std::fs::set_permissions(
        &loose_key,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let cfg = pki.web_config(
        "loose-key.yml",
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            pki.path("server.pem").display(),
            loose_key.display()
        ),
    );
    let out = serve_once(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("key_file") && err.contains("every user may read"),
        "{err}"
    );
}

/// The hostile-client bounds hold on the TLS port too: 300 connections that never finish
/// (or never start) a handshake do not fail a scrape, and they are closed after the head
/// timeout (which covers the handshake).
#[test]
fn slow_handshakes_do_not_stop_scrapes() {
    if !require_root(
        "slow_handshakes_do_not_stop_scrapes",
        "the web config must be root-owned",
    ) {
        return;
    }
    let pki = Pki::new();
    let cfg = pki.web_config("slow.yml", &tls_config(&pki, ""));
    let (_s, addr) = serve(&cfg);
    let url = format!("https://{addr}/metrics");
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    wait_for("first scrape", std::time::Duration::from_secs(20), || {
        (curl(&url, &["--cacert", ca]).0 == 200).then_some(())
    });
    // Half send nothing, half the first bytes of a TLS record (a ClientHello cut short).
    let mut held: Vec<TcpStream> = (0..300)
        .filter_map(|i| {
            let mut s = TcpStream::connect(&addr).ok()?;
            if i % 2 == 0 {
                let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
            }
            Some(s)
        })
        .collect();
    assert!(held.len() >= 290, "only {} connected", held.len());
    let t0 = std::time::Instant::now();
    for i in 0..10 {
        let (code, body, rc) = curl(&url, &["--cacert", ca]);
        assert_eq!(
            (code, rc),
            (200, 0),
            "scrape {i} under slow handshakes: {body}"
        );
    }
    let took = t0.elapsed();
    assert!(
        took < std::time::Duration::from_secs(8),
        "10 scrapes took {took:?}"
    );
    // After the 5 s head timeout the server has closed them (EOF or reset, no response).
    std::thread::sleep(std::time::Duration::from_secs(6));
    for s in held.iter_mut().take(20) {
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) => assert!(n == 0 || buf[0] == 0x15, "not closed: {:?}", &buf[..n]),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
}
