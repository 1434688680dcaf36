//! `sockscope sockets`: the sockets themselves, like `ss -tanp`.

use std::io::{self, Write};

use super::snapshot::collect_once;
use super::{collect_config, one_namespace, RunError};
use crate::analyze::aggregate::aggregate;
use crate::cli::{Format, GlobalArgs, SocketsArgs};
use crate::report::{self};

/// `sockscope sockets`.
pub fn sockets(
    global: &GlobalArgs,
    args: &SocketsArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    one_namespace(global, "sockets")?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.tcp_info = args.info;
    let snap = collect_once(global, cfg)?;
    super::note_empty(global, snap.sockets.len() as u64);
    let mut list: Vec<&crate::model::SocketRecord> = snap.sockets.iter().collect();
    list.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(a.local.cmp(&b.local))
            .then(a.remote.cmp(&b.remote))
    });
    match args.format {
        Format::Json => report::json::write_sockets(out, &snap, &list)?,
        Format::Text | Format::Table => {
            report::sockets::write(out, &snap, &list, args.info)?;
            let agg = aggregate(&snap);
            report::write_notes(&mut io::stderr(), &snap, &agg)?;
        }
    }
    Ok(())
}
