//! The exit-code table: one list that both `--help` (wrapped text) and the man page's
//! EXIT STATUS section (one entry per code) are made from, so the two cannot drift.

/// Each exit status sockscope uses: (the code, what it means), unwrapped.
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "ok (check: no findings)"),
    ("1", "check: a warning finding"),
    (
        "2",
        "check: a critical finding; a usage error (bad flag, filter, config or namespace); \
         or sockets could not be collected (watch/record: after 5 failed ticks in a row)",
    ),
    ("3", "check: unknown (the check could not run)"),
    (
        "kill",
        "0 every targeted socket is gone; 1 some could not be killed or remain; 2 nothing \
         was touched (no filter, no --yes without a terminal, over --max, no CAP_NET_ADMIN)",
    ),
    (
        "101",
        "a bug: sockscope panicked (the dashboard restores the terminal first)",
    ),
    (
        "128+N",
        "the dashboard or replay was ended by signal N (SIGTERM 143, SIGINT 130, SIGHUP 129, \
         also when the terminal hangs up); the terminal is restored first",
    ),
];

/// The line after the table: a closed pipe is not an error.
pub const CLOSED_PIPE: &str = "Output into a closed pipe (| head) exits 0.";

/// Width `--help` wraps the table at (the command's `max_term_width` less a margin).
const WIDTH: usize = 92;
/// Continuation lines are indented under the meaning, past the code column.
const INDENT: usize = 5;

/// The table as `--help` prints it after the options: `Exit codes:`, one entry per code,
/// wrapped with continuation lines indented, then the closed-pipe line.
pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_STATUS {
        let mut line = format!("  {code}  ");
        let mut fresh = true;
        for word in meaning.split_whitespace() {
            if !fresh && line.len() + 1 + word.len() > WIDTH {
                s.push_str(&line);
                s.push('\n');
                line = " ".repeat(INDENT);
                fresh = true;
            }
            if !fresh {
                line.push(' ');
            }
            line.push_str(word);
            fresh = false;
        }
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str(CLOSED_PIPE);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_every_code_and_wraps() {
        let help = exit_codes_help();
        assert!(help.starts_with("Exit codes:\n"), "{help}");
        for (code, _) in EXIT_STATUS {
            assert!(help.contains(&format!("\n  {code}  ")), "{code}: {help}");
        }
        assert!(help.lines().all(|l| l.len() <= WIDTH), "{help}");
        let continued = help
            .lines()
            .filter(|l| l.starts_with("     ") && !l[5..].starts_with(' '))
            .count();
        assert!(continued >= 3, "long meanings wrap, indented: {help}");
        assert!(help.ends_with(CLOSED_PIPE));
    }
}
