//! `sockscope replay FILE`: a recording in the dashboard.

use super::dashboard::tui_error;
use super::RunError;
use crate::tui;
use crate::tui::TuiOptions;

/// `sockscope replay FILE`: the dashboard over a recording, with the recording's host and
/// interval in the header.
pub fn replay(file: &std::path::Path) -> Result<(), RunError> {
    let rec = crate::record::Recording::open(file).map_err(|e| RunError::Usage(e.to_string()))?;
    let h = rec.header();
    let opts = TuiOptions::new(h.host.clone(), h.interval_ms);
    tui::replay(opts, rec).map_err(tui_error)
}
