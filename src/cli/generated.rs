//! The man page, sockscope(1), and the shell completions: both made from the parser
//! ([`super::command`]) so they cannot drift from the flags. clap_mangen renders what clap
//! knows (name, synopsis, description, options); this file adds what it does not: a section
//! per subcommand with its own options, EXIT STATUS (from [`super::exit_codes`]),
//! ENVIRONMENT, FILES and EXAMPLES. Writes only to the given writer.

use std::io::{self, Write};

use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use super::exit_codes::{CLOSED_PIPE, EXIT_STATUS};

/// The environment variables sockscope reads, and what each changes.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SOCKSCOPE_CONFIG",
        "The threshold file to read first, before the search path under FILES (ignored when \
         --config is given).",
    ),
    (
        "XDG_CONFIG_HOME",
        "Searched for sockscope/sockscope.toml, only when the directory is owned by the user \
         running sockscope (under sudo, the invoking user's is not read).",
    ),
    (
        "HOME",
        "Searched for .config/sockscope/sockscope.toml, with the same ownership rule.",
    ),
    (
        "NO_COLOR",
        "When set to anything non-empty, the dashboard and replay draw without colour.",
    ),
];

/// The files sockscope reads (it writes only the file `record -o` names).
const FILES: &[(&str, &str)] = &[
    (
        "/etc/sockscope/sockscope.toml",
        "The system-wide threshold file, the last of the search path \
         ($SOCKSCOPE_CONFIG, $XDG_CONFIG_HOME/sockscope/sockscope.toml, \
         ~/.config/sockscope/sockscope.toml, /etc/sockscope/sockscope.toml; the first that \
         exists is read). As root it must be owned by root and writable by no one else.",
    ),
    (
        "/proc/net/tcp, /proc/net/tcp6, /proc/net/udp, /proc/net/udp6, /proc/net/unix",
        "The socket tables, read when sock_diag netlink is unavailable (--source proc, or \
         auto after a failed dump).",
    ),
    (
        "/proc/PID/fd, /proc/PID/stat, /proc/PID/status, /proc/PID/comm",
        "Which process owns each socket (needs root, or CAP_SYS_PTRACE with \
         CAP_DAC_READ_SEARCH, to see other users' processes).",
    ),
    (
        "/proc/net/netstat, /proc/net/snmp, /proc/net/snmp6",
        "The kernel's TCP and UDP counters (the dashboard, check, serve).",
    ),
    (
        "/proc/sys/net/ipv4, /proc/sys/net/core",
        "The sysctls the verdicts and explain cite (tcp_fin_timeout, somaxconn, …).",
    ),
    (
        "/run/netns/NAME, /proc/PID/ns/net",
        "Network namespaces for --netns and --all-netns.",
    ),
    (
        "/usr/share/sockscope",
        "Installed by the package: Prometheus alert rules and a Grafana dashboard for serve.",
    ),
];

/// Command lines worth copying, each with what it shows.
const EXAMPLES: &[(&str, &str)] = &[
    ("sockscope", "The live dashboard (needs a terminal)."),
    (
        "sockscope summary --by process",
        "Sockets per process and state.",
    ),
    (
        "sockscope sockets --state close-wait --sort age --top 10",
        "The ten oldest CLOSE_WAIT sockets and their owners, like ss -tanp.",
    ),
    (
        "sockscope check",
        "Findings with a Nagios-style exit code (see EXIT STATUS).",
    ),
    (
        "sockscope explain close-wait",
        "What a state means, with this host's sysctls.",
    ),
    (
        "sockscope watch -n 2 -f jsonl",
        "One JSON line every 2 seconds, like vmstat.",
    ),
    (
        "sockscope record -o incident.jsonl",
        "Record ticks; replay them with sockscope replay incident.jsonl.",
    ),
    (
        "sockscope serve --listen 127.0.0.1:9847",
        "Prometheus metrics on /metrics.",
    ),
    (
        "sockscope summary -tux --all-netns",
        "TCP, UDP and UNIX sockets in every network namespace.",
    ),
    (
        "sockscope kill --state close-wait --process app --dry-run",
        "What kill would destroy, touching nothing.",
    ),
    (
        "sockscope completions bash > /etc/bash_completion.d/sockscope",
        "Install the bash completions (also zsh, fish, elvish, powershell).",
    ),
];

/// Writes the completion script for `shell` to `out`.
pub fn write_completions(shell: Shell, out: &mut impl Write) -> io::Result<()> {
    // clap_complete panics when its writer fails; a closed pipe must exit 0, so the script
    // is built in memory and written here, where an error is returned.
    let mut buf = Vec::new();
    let mut cmd = super::command();
    cmd.build();
    clap_complete::generate(shell, &mut visible(&cmd), "sockscope", &mut buf);
    out.write_all(&buf)
}

/// `cmd` without its hidden arguments and subcommands: clap_complete offers hidden ones
/// too, and those are test hooks or the copies [`super::command`] hides so that a
/// subcommand can refuse them (`explain --state`), which no one should be offered.
fn visible(cmd: &clap::Command) -> clap::Command {
    // `cmd` is built, so globals were already copied into each subcommand, and help and
    // version are arguments: the copy regenerates those two itself.
    let args = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !["help", "version"].contains(&a.get_id().as_str()))
        .map(|a| a.clone().global(false));
    let subs = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(visible);
    let mut v = clap::Command::new(cmd.get_name().to_string())
        .args(args)
        .subcommands(subs);
    if let Some(about) = cmd.get_about() {
        v = v.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        v = v.version(version.to_string());
    }
    v
}

/// Writes sockscope(1) as roff to `out` (`sockscope man | man -l -`).
pub fn write_man(out: &mut impl Write) -> io::Result<()> {
    let mut cmd = super::command();
    cmd.build();
    let man = Man::new(cmd.clone());
    let mut page = Page::default();
    man.render_title(&mut page.chunk())?;
    page.push();
    man.render_name_section(&mut page.chunk())?;
    page.push();
    man.render_synopsis_section(&mut page.chunk())?;
    page.push();
    man.render_description_section(&mut page.chunk())?;
    page.push();
    man.render_options_section(&mut page.chunk())?;
    page.push();
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    page.roff(&roff);
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        subcommand(sub, &mut page)?;
    }
    let mut roff = Roff::new();
    section(&mut roff, "EXIT STATUS", EXIT_STATUS);
    roff.control("PP", []);
    roff.text([roman(CLOSED_PIPE)]);
    section(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    section(&mut roff, "FILES", FILES);
    roff.control("SH", ["EXAMPLES"]);
    for (line, what) in EXAMPLES {
        roff.control("TP", []);
        roff.text([bold(*line)]);
        roff.text([roman(*what)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("ss"),
        roman("(8), "),
        bold("netstat"),
        roman("(8), "),
        bold("systemctl"),
        roman("(1); the README and RELIABILITY.md in the source tree."),
    ]);
    page.roff(&roff);
    man.render_version_section(&mut page.chunk())?;
    page.push();
    out.write_all(page.text.as_bytes())
}

/// The page being assembled. Every roff render starts with the same two-line apostrophe
/// preamble; the page keeps the first and drops the repeats.
#[derive(Default)]
struct Page {
    text: String,
    pending: Vec<u8>,
}

/// What `roff` puts ahead of every render (it defines `\*(Aq` for apostrophes).
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

impl Page {
    /// The buffer the next render writes into; [`Page::push`] appends it.
    fn chunk(&mut self) -> &mut Vec<u8> {
        self.pending.clear();
        &mut self.pending
    }

    fn push(&mut self) {
        let chunk = String::from_utf8_lossy(&self.pending).into_owned();
        self.append(&chunk);
    }

    fn roff(&mut self, roff: &Roff) {
        self.append(&roff.render());
    }

    fn append(&mut self, chunk: &str) {
        let body = match self.text.is_empty() {
            true => chunk,
            false => chunk.strip_prefix(PREAMBLE).unwrap_or(chunk),
        };
        self.text.push_str(body);
    }
}

/// One `.SS` per subcommand: its synopsis, its description and its own options (the
/// global ones are listed once, under OPTIONS).
fn subcommand(sub: &clap::Command, page: &mut Page) -> io::Result<()> {
    let own: Vec<clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set() && a.get_id() != "help")
        .cloned()
        .collect();
    let operands: Vec<String> = own
        .iter()
        .filter(|a| a.is_positional())
        .flat_map(|a| a.get_value_names().unwrap_or_default().iter())
        .map(|n| n.to_string())
        .collect();
    let title = format!(
        "sockscope {} [OPTIONS] {}",
        sub.get_name(),
        operands.join(" ")
    );
    let mut roff = Roff::new();
    roff.control("SS", [title.trim_end()]);
    if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    page.roff(&roff);
    let flags = own.into_iter().filter(|a| !a.is_positional());
    // Only the options section is rendered, so the name is never printed.
    let only_own = clap::Command::new("options")
        .disable_help_flag(true)
        .args(flags);
    if only_own.get_arguments().next().is_none() {
        return Ok(());
    }
    Man::new(only_own).render_options_section(&mut page.chunk())?;
    // clap_mangen heads the list with its own `.SH OPTIONS`; here it sits under the `.SS`.
    let rendered = String::from_utf8_lossy(&page.pending).into_owned();
    let body = rendered.strip_prefix(PREAMBLE).unwrap_or(&rendered);
    page.append(body.strip_prefix(".SH OPTIONS\n").unwrap_or(body));
    Ok(())
}

/// A `.SH` with one `.TP` entry per (term, text) pair.
fn section(roff: &mut Roff, name: &str, entries: &[(&str, &str)]) {
    roff.control("SH", [name]);
    for (term, text) in entries {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}
