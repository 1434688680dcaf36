//! The live dashboard (no subcommand): the collector on a tick thread, the ratatui app on
//! the calling one. On that thread [`live::LiveDashboard`] also reads the destroy events
//! (the churn panel) and carries out `K` kills.

mod live;

use std::time::Duration;

use super::fleet::NamespaceFleet;
use super::{collect_config, probe, thresholds, RunError};
use crate::cli::{GlobalArgs, SourceArg};
use crate::collect::destroy::has_net_admin;
use crate::tui;
use crate::tui::state::kill::KillGate;
use crate::tui::TuiError;
use crate::tui::TuiOptions;

/// The live dashboard (no subcommand). Like `serve`, the collector lives on the tick
/// thread, and a probe open first turns a bad namespace into a usage error before the
/// terminal switches to the alternate screen. A panic on the collector thread is resumed
/// here once the terminal is restored, so it ends the process as any panic does (101).
///
/// `read_only` (`--read-only`) turns `K` off entirely.
pub fn dashboard(global: &GlobalArgs, interval: Duration, read_only: bool) -> Result<(), RunError> {
    if !tui::is_tty() {
        return Err(RunError::Usage(TuiError::NotATerminal.to_string()));
    }
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    cfg.tcp_info = true;
    return_large_frees();
    probe(&cfg)?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(1000);
    let mut opts = TuiOptions::new(host.trim(), interval_ms);
    opts.lines = tui::TrendLines::from_thresholds(&th);
    // -t/-u/-x: the first asked for is shown first; `p` cycles through them.
    opts.protocols = cfg.protocols;
    if global.all_netns {
        // Unreadable namespaces go to the header, not stderr (the alternate screen is up).
        let mut fleet = NamespaceFleet::new(cfg, th).quiet();
        let result = tui::run_fleet(opts, move || {
            let ticks = fleet.tick();
            let mut failures: Vec<tui::NetnsFailure> = fleet
                .failures()
                .iter()
                .map(|(netns, reason)| tui::NetnsFailure {
                    netns: netns.clone(),
                    reason: reason.clone(),
                })
                .collect();
            // Namespaces left out by the bounds go through the same channel as unreadable
            // ones: the header names them.
            if let Some((netns, reason)) = fleet.skipped_failure() {
                failures.push(tui::NetnsFailure { netns, reason });
            }
            Ok((ticks, failures))
        });
        return tui_result(result);
    }
    let gate = kill_gate(global, read_only);
    let result = tui::run(opts, live::LiveDashboard::new(cfg, th, gate));
    tui_result(result)
}

/// Whether `K` may kill: never under `--read-only`; not over `/proc` (no cookies); greyed
/// out, the plan still shown, without CAP_NET_ADMIN.
fn kill_gate(global: &GlobalArgs, read_only: bool) -> KillGate {
    if read_only {
        KillGate::ReadOnly
    } else if global.source == SourceArg::Proc {
        KillGate::Unavailable(
            "--source proc: /proc/net/tcp has no socket cookies to kill by".into(),
        )
    } else if has_net_admin() == Some(false) {
        KillGate::Greyed(
            "needs CAP_NET_ADMIN (sock_diag SOCK_DESTROY), which this process lacks".into(),
        )
    } else {
        KillGate::Ready
    }
}

/// Makes glibc hand every large block (a tick's socket vector is megabytes) back to the
/// kernel when it is freed, for the dashboard's lifetime. By default glibc raises its mmap
/// threshold to the size of the first such block freed (up to 32 MiB) and from then on
/// carves them from its heaps, which shrink only from the top; with the collector thread
/// allocating each tick and the UI thread freeing the previous one, RSS at rest then
/// wandered with the heaps' layout (31 to 45 MB at 20k sockets). A fixed threshold turns
/// that adjustment off: RSS at rest follows the live data (24 to 25 MB), plus one tick's
/// worth while the next is built. Measured in RELIABILITY.md section 4. Not needed for
/// correctness, so a refusal is ignored; other C libraries keep their defaults.
pub(super) fn return_large_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Blocks above this are mapped on their own and unmapped when freed; 128 KiB is
        // glibc's own starting value.
        const MMAP_THRESHOLD: i32 = 128 * 1024;
        // SAFETY: mallopt only sets a malloc tunable (under malloc's own lock).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

pub(super) fn tui_result(result: Result<(), TuiError>) -> Result<(), RunError> {
    result.map_err(tui_error)
}

pub(super) fn tui_error(e: TuiError) -> RunError {
    match e {
        TuiError::Io(e) => RunError::Output(e),
        TuiError::Signal(sig) => RunError::Signal(sig),
        // A panic on the collector thread is a bug like any other panic: the terminal is
        // restored by now and the panic message printed, so end as a panic does (exit 101),
        // not as a usage error.
        TuiError::Collector(why) => {
            eprintln!("sockscope: dashboard stopped: {why} (a bug: please report it)");
            std::panic::resume_unwind(Box::new(why))
        }
        e => RunError::Usage(e.to_string()),
    }
}
