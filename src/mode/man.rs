//! `sockscope man`: the manual page as roff, from the same clap command the parser uses
//! ([`crate::cli::write_man`]).

use std::io::Write;

use super::RunError;

/// Writes sockscope(1) to `out`.
pub fn man(out: &mut impl Write) -> Result<(), RunError> {
    crate::cli::write_man(out)?;
    Ok(())
}
