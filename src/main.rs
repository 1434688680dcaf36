//! sockscope binary: parse arguments, pick the mode, map errors to exit codes. Nothing else.

use std::io::{self, Write};
use std::process::ExitCode;

use sockscope::cli::{Cli, Command};
use sockscope::mode::{self, is_broken_pipe, RunError};
use sockscope::model::escape_controls;

fn main() -> ExitCode {
    let cli = match sockscope::cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    // Not `stdout().lock()`: a lock held by this thread for the whole run would block every
    // other thread that writes to stdout, and the dashboard's panic hook does (it restores
    // the terminal from whichever thread panicked), so a collector panic hung forever.
    let mut out = io::BufWriter::new(io::stdout());
    let checked = check_config(&cli).and_then(|()| mode::check_flags(&cli.global));
    match checked.and_then(|()| run(&cli, &mut out)) {
        Ok(code) => finish(out, code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(RunError::Signal(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)),
        Err(e) => {
            drop(out);
            eprintln!("sockscope: {}", printable(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

/// A given `--config` or `--threshold` is checked in every mode, also those that use no
/// thresholds (summary, sockets, explain): a typo in it must not pass silently.
fn check_config(cli: &Cli) -> Result<(), RunError> {
    if cli.global.config.is_none() && cli.global.thresholds.is_empty() {
        return Ok(());
    }
    mode::thresholds(&cli.global).map(drop)
}

/// Runs the chosen mode; `Ok` carries the exit code (`check`'s verdict, else 0).
fn run(cli: &Cli, out: &mut impl Write) -> Result<i32, RunError> {
    let g = &cli.global;
    match &cli.command {
        Some(Command::Summary(args)) => mode::summary(g, args, out),
        Some(Command::Sockets(args)) => mode::sockets(g, args, out),
        Some(Command::Watch(args)) => mode::watch(g, args, out),
        Some(Command::Record(args)) => mode::record(g, args),
        Some(Command::Serve(args)) => mode::serve(g, args),
        Some(Command::DumpFloor) => mode::dump_floor(g, out),
        Some(Command::Check(args)) => return mode::check(g, args, out),
        Some(Command::Kill(args)) => return mode::kill(g, args, out),
        Some(Command::Explain(args)) => mode::explain(g, args, out),
        Some(Command::Replay(args)) => mode::replay(&args.file),
        Some(Command::Completions(args)) => mode::completions(args, out),
        Some(Command::Man) => mode::man(out),
        None => mode::dashboard(g, cli.interval, cli.read_only),
    }
    .map(|()| 0)
}

/// Flushes stdout and exits with `code`; a closed pipe still exits 0.
fn finish(mut out: impl Write, code: i32) -> ExitCode {
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("sockscope: writing output: {e}");
            ExitCode::from(2)
        }
        Err(_) => ExitCode::SUCCESS,
        Ok(()) => ExitCode::from(u8::try_from(code).unwrap_or(2)),
    }
}

/// Help and version go to stdout with 0; any usage error is one line on stderr with 2.
fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(io::stdout(), "{}", e.render());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("sockscope: {}", one_line(&e.render().to_string()));
            ExitCode::from(2)
        }
    }
}

/// clap's error as one line: its first paragraph (the error, and the list or the possible
/// values clap indents under it) joined, so the line names what is missing or allowed.
fn one_line(text: &str) -> String {
    let para = text.split("\n\n").next().unwrap_or_default();
    let mut lines = para.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    let rest: Vec<&str> = lines.collect();
    let line = match (rest.is_empty(), first.ends_with(':')) {
        (true, _) => first.to_string(),
        (false, true) => format!("{first} {}", rest.join(", ")),
        (false, false) => format!("{first} {}", rest.join(" ")),
    };
    printable(&line)
}

/// `s` with control and format characters escaped as every face escapes them (`\n`, `\e`,
/// `\xNN`, bidi controls as `\u{..}`): an error names the bad value, and a value with a
/// newline or an escape sequence must neither split the one line nor reach the terminal
/// raw. Backslashes stay: most messages quote their value already escaped (`{:?}`), and
/// escaping it again would make `\n` read `\\n`.
fn printable(s: &str) -> String {
    escape_controls(s)
}
