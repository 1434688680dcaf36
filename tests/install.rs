//! What a package installs comes out of the binary: `sockscope completions SHELL` for every
//! shell clap_complete knows (each checked by its own shell's parser when that shell is
//! installed), and `sockscope man`, rendered by man/groff, carrying the exit codes, the
//! environment, the files read and examples. Also: both refuse the socket options and a
//! closed pipe exits 0.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sockscope(args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("sockscope"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes `text` to a fresh temporary file (some shells' -n wants a file, not stdin).
fn temp_file(text: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    f.write_all(text).unwrap();
    f
}

fn completion(shell: &str) -> Vec<u8> {
    let out = sockscope(&["completions", shell]);
    assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
    assert!(out.stderr.is_empty(), "{shell}: {out:?}");
    out.stdout
}

#[test]
fn completions_for_every_shell_name_the_subcommands_and_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = String::from_utf8(completion(shell)).unwrap();
        // Flags without their dashes: fish spells them `-l all-netns`.
        for word in [
            "summary",
            "sockets",
            "completions",
            "all-netns",
            "top-processes",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        // Hidden flags stay out of completions as they stay out of --help.
        assert!(!script.contains("dump-floor"), "{shell}: {script}");
        assert!(!script.contains("from-snapshot"), "{shell}: {script}");
    }
}

#[test]
fn bash_completion_parses_and_completes() {
    let script = temp_file(&completion("bash"), ".bash");
    let path = script.path().to_str().unwrap();
    let out = Command::new("bash").args(["-n", path]).output().unwrap();
    assert!(out.status.success(), "bash -n: {out:?}");
    // Source it and ask for the words after `sockscope sum`, as a shell would on Tab.
    let probe = format!(
        "source {path}; COMP_WORDS=(sockscope sum); COMP_CWORD=1; COMP_LINE='sockscope sum'; \
         COMP_POINT=${{#COMP_LINE}}; _sockscope sockscope sum sockscope; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.lines().any(|w| w == "summary"),
        "completing `sum`: {out:?}"
    );
}

#[test]
fn zsh_and_fish_completions_parse_where_installed() {
    for (shell, suffix) in [("zsh", ".zsh"), ("fish", ".fish")] {
        if !have(shell) {
            eprintln!("{shell} not installed: its completion is checked only by the word test");
            continue;
        }
        let script = temp_file(&completion(shell), suffix);
        let out = Command::new(shell)
            .args(["-n", script.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell} -n: {out:?}");
    }
}

/// The man page as a reader sees it: rendered by man (or groff), formatting removed.
fn rendered_man() -> String {
    let out = sockscope(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let roff = out.stdout;
    let head = String::from_utf8_lossy(&roff[..roff.len().min(200)]).to_string();
    assert!(
        head.contains("\n.TH sockscope 1 "),
        "not a man page: {head}"
    );
    let file = temp_file(&roff, ".1");
    let path = file.path().to_str().unwrap();
    let rendered = if have("man") {
        Command::new("man")
            .args(["-l", path])
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap()
    } else if have("groff") {
        Command::new("groff")
            .args(["-man", "-Tutf8", "-P-cbou", path])
            .output()
            .unwrap()
    } else {
        eprintln!("neither man nor groff installed: checking the roff source only");
        return String::from_utf8(roff).unwrap().replace("\\-", "-");
    };
    assert!(rendered.status.success(), "{rendered:?}");
    // Fold the overstrike bold and underline some pagers leave, and hyphenation's breaks.
    let text = String::from_utf8_lossy(&rendered.stdout).to_string();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain.replace("\u{2010}\n", "").replace('\u{2010}', "-")
}

#[test]
fn man_page_renders_with_exit_codes_environment_files_and_examples() {
    let text = rendered_man();
    let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for heading in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
    ] {
        assert!(
            text.lines().any(|l| l.trim_end() == heading),
            "no {heading} section:\n{text}"
        );
    }
    for code in sockscope::cli::EXIT_STATUS.iter().map(|(c, _)| c) {
        let at_margin = text
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{code} ")));
        assert!(at_margin, "exit code {code} missing:\n{text}");
    }
    for needle in [
        "a usage error",
        "NO_COLOR",
        "SOCKSCOPE_CONFIG",
        "/etc/sockscope/sockscope.toml",
        "/proc/net/tcp",
        "/proc/PID/fd",
        "/run/netns",
        "sockscope summary --by process",
        "sockscope completions bash",
        // Each subcommand's own options, not only the global ones.
        "sockscope serve [OPTIONS]",
        "--top-processes",
        "sockscope explain [OPTIONS] TOPIC",
    ] {
        assert!(
            squeezed.contains(needle),
            "man page lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn help_carries_the_same_exit_codes() {
    let out = sockscope(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for (code, _) in sockscope::cli::EXIT_STATUS {
        assert!(help.contains(&format!("\n  {code}  ")), "{code}: {help}");
    }
}

#[test]
fn completions_and_man_refuse_socket_options_and_bad_shells() {
    for (args, needle) in [
        (&["completions", "tcsh"][..], "tcsh"),
        (&["completions"][..], "<SHELL>"),
        (&["man", "--state", "estab"][..], "--state"),
        (&["completions", "bash", "-x"][..], "--unix"),
    ] {
        let out = sockscope(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_closed_pipe_exits_0() {
    for args in [&["man"][..], &["completions", "bash"][..]] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("sockscope"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}: {out:?}"
        );
    }
}
