//! Which global options each subcommand takes: the parser [`command`] hides from a
//! subcommand's help the global options it ignores, and [`parse`] refuses them when given,
//! naming them, so `explain close-wait --state estab` is an error, not silently the same
//! as `explain close-wait`.

use super::Cli;

/// The subcommands that read sockets differently, each with why and the socket options
/// it keeps; every other one of [`EVERY_SOCKET_OPTION`] is hidden from its help and
/// refused when given ([`parse`]), so `explain close-wait --state estab` is not silently the
/// same as `explain close-wait`. `--config` and `--threshold` stay: every mode checks them.
const IGNORED: &[(&str, &str, &[&str])] = &[
    (
        "explain",
        "it filters no sockets (it takes a TOPIC and --netns)",
        &["netns", "from_snapshot"],
    ),
    (
        "replay",
        "it shows what the recording holds (it takes a FILE)",
        &[],
    ),
    (
        "completions",
        "it prints a script for a shell (it takes a SHELL)",
        &[],
    ),
    ("man", "it prints the manual page", &[]),
];

/// The socket options subcommand entry `kept` does not use: [`EVERY_SOCKET_OPTION`] but
/// the ones it keeps, so an option added there is refused by each of them at once.
fn ignored(kept: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    EVERY_SOCKET_OPTION
        .iter()
        .copied()
        .filter(move |id| !kept.contains(id))
}

/// Every global option but `--config` and `--threshold`: what a subcommand that reads no
/// sockets ignores.
const EVERY_SOCKET_OPTION: &[&str] = &[
    "source",
    "netns",
    "all_netns",
    "max_netns",
    "state",
    "sport",
    "dport",
    "src",
    "dst",
    "process",
    "owner",
    "ipv4",
    "ipv6",
    "path",
    "unit",
    "container",
    "tcp",
    "udp",
    "unix",
    "from_snapshot",
    "save_snapshot",
    "force",
];

/// The parser: [`Cli`]'s command with the global options a subcommand ignores hidden from
/// that subcommand's help (also what completions and the man page should be made from).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // clap copies a global option into a subcommand at build time unless the subcommand
    // already has one by that id: give these subcommands hidden copies first.
    for (sub, _, kept) in IGNORED {
        let ids: Vec<&str> = ignored(kept).collect();
        let hidden: Vec<clap::Arg> = cmd
            .get_arguments()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(true))
            .collect();
        cmd = cmd.mut_subcommand(*sub, |sc| sc.args(hidden));
    }
    cmd
}

/// Parses `args` (program name first): clap's parse, then a refusal of the global options
/// the chosen subcommand ignores, naming them (`explain does not take --state: …`).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let m = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))?;
    if let Some((sub, sub_m)) = m.subcommand() {
        if let Some((_, why, kept)) = IGNORED.iter().find(|(n, _, _)| *n == sub) {
            let given: Vec<String> = ignored(kept)
                .filter(|id| {
                    [&m, sub_m].iter().any(|mm| {
                        mm.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
                    })
                })
                .map(|id| flag_name(&cmd, id))
                .collect();
            if !given.is_empty() {
                let msg = format!("{sub} does not take {}: {why}", given.join(", "));
                return Err(cmd.error(clap::error::ErrorKind::ArgumentConflict, msg));
            }
        }
    }
    Ok(cli)
}

/// How the user spells argument `id`: `--long`, else `-s`.
fn flag_name(cmd: &clap::Command, id: &str) -> String {
    cmd.get_arguments()
        .find(|a| a.get_id() == id)
        .and_then(|a| {
            a.get_long()
                .map(|l| format!("--{l}"))
                .or_else(|| a.get_short().map(|c| format!("-{c}")))
        })
        .unwrap_or_else(|| id.to_string())
}
