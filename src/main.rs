//! sockscope binary: parse arguments, pick the mode, map errors to exit codes. Nothing else.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use sockscope::cli::{Cli, Command};
use sockscope::oneshot::{self, is_broken_pipe, RunError};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match &cli.command {
        Some(Command::Summary(args)) => oneshot::summary(&cli.global, args, &mut out),
        Some(Command::Sockets(args)) => oneshot::sockets(&cli.global, args, &mut out),
        Some(Command::Watch(args)) => sockscope::stream::watch(&cli.global, args, &mut out),
        Some(Command::Record(args)) => sockscope::stream::record(&cli.global, args),
        Some(Command::Serve(args)) => sockscope::stream::serve(&cli.global, args),
        Some(Command::DumpFloor) => oneshot::dump_floor(&mut out),
        Some(Command::Check(args)) => match oneshot::check(&cli.global, args, &mut out) {
            Ok(code) => return finish(out, code),
            Err(e) => Err(e),
        },
        Some(Command::Explain(args)) => oneshot::explain(&cli.global, args, &mut out),
        Some(Command::Replay(args)) => sockscope::stream::replay(&args.file),
        None => sockscope::stream::dashboard(&cli.global, cli.interval),
    };
    match result {
        Ok(()) => finish(out, 0),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(RunError::Signal(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(1)),
        Err(e) => {
            drop(out);
            eprintln!("sockscope: {e}");
            ExitCode::from(2)
        }
    }
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

/// clap's error as one line: its first line, and when that line ends in a colon (the
/// "required arguments were not provided:" list) the indented lines that complete it, so the
/// line names what is missing.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut line = first.trim_start_matches("error: ").to_string();
    if line.ends_with(':') {
        let rest: Vec<&str> = lines
            .take_while(|l| l.starts_with(' '))
            .map(str::trim)
            .collect();
        line = format!("{} {}", line, rest.join(", "));
    }
    line
}
