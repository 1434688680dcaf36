//! `sockscope explain TOPIC`: what a state or rule means, with this namespace's sysctls.

use std::io::Write;

use super::{one_namespace, RunError};
use crate::cli::{ExplainArgs, GlobalArgs};

/// `sockscope explain TOPIC`, with the sysctls of the selected namespace.
pub fn explain(
    global: &GlobalArgs,
    args: &ExplainArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    one_namespace(global, "explain")?;
    if let Some(ns) = &global.netns {
        crate::collect::netns::enter(ns).map_err(|e| RunError::Usage(e.to_string()))?;
    }
    let sysctls = crate::collect::sysctl::read_sysctls();
    match crate::explain::explain(&args.topic, Some(&sysctls)) {
        Some(text) => {
            for line in text.lines() {
                writeln!(out, "{}", wrap(line, 78))?;
            }
            Ok(())
        }
        None => Err(RunError::Usage(format!(
            "unknown topic '{}'; valid topics: {}",
            args.topic,
            crate::explain::topics().join(", ")
        ))),
    }
}

/// Wraps one line at `width` columns on spaces, keeping its leading indentation on every
/// continuation line.
pub fn wrap(line: &str, width: usize) -> String {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    for word in line.split_whitespace() {
        let w = word.chars().count();
        if col == 0 {
            out.push_str(&indent);
            col = indent.chars().count();
        } else if col + 1 + w > width {
            out.push('\n');
            out.push_str(&indent);
            col = indent.chars().count();
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_keeps_indent_and_width() {
        let text = format!("  {}", "word ".repeat(40));
        let wrapped = super::wrap(&text, 30);
        assert!(wrapped
            .lines()
            .all(|l| l.len() <= 30 && l.starts_with("  word")));
        assert_eq!(wrapped.split_whitespace().count(), 40);
        assert_eq!(super::wrap("", 30), "");
    }
}
