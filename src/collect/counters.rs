//! /proc/net/netstat (TcpExt) and /proc/net/snmp (Tcp) counters. Placeholder.

use crate::collect::CollectError;
use crate::model::KernelCounters;

/// Reads TcpExt and Tcp counters of the calling thread's network namespace.
pub fn read_counters() -> Result<KernelCounters, CollectError> {
    Ok(KernelCounters::default())
}
