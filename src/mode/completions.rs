//! `sockscope completions SHELL`: the completion script for a shell, from the same clap
//! command the parser uses ([`crate::cli::write_completions`]).

use std::io::Write;

use super::RunError;
use crate::cli::CompletionsArgs;

/// Writes the completion script for `args.shell` to `out`.
pub fn completions(args: &CompletionsArgs, out: &mut impl Write) -> Result<(), RunError> {
    crate::cli::write_completions(args.shell, out)?;
    Ok(())
}
