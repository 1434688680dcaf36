//! Running things as `nobody`: the `setpriv` prefix, a private `/proc` mounted with
//! `hidepid`, copies of the binary with file capabilities, and socket populations owned by
//! `nobody`. Every process started here is in its own process group, killed on drop.

use super::*;

/// uid and gid of `nobody`.
pub const NOBODY: u32 = 65534;

/// `setpriv` arguments that drop to `nobody` with no supplementary groups.
pub const SETPRIV_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// A `/proc` for a run as `nobody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcMount {
    /// The host's `/proc` as it is.
    Host,
    /// A fresh proc instance with these options (`hidepid=2`, `hidepid=2,gid=65534`), in a
    /// private mount namespace that dies with the command.
    Private(&'static str),
}

/// `program args…` as `nobody`, inside `netns`, under `proc`.
pub fn as_nobody(netns: &str, proc: ProcMount, program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", netns]);
    match proc {
        ProcMount::Host => {
            c.arg("setpriv").args(SETPRIV_NOBODY);
        }
        ProcMount::Private(opts) => {
            // "$0" "$@" pass the program and its arguments through without quoting them.
            let script = format!(
                "mount -t proc -o {opts} proc /proc && exec setpriv {} \"$0\" \"$@\"",
                SETPRIV_NOBODY.join(" ")
            );
            c.args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
                .arg(script);
        }
    }
    c.arg(program).args(args).current_dir("/");
    c
}

/// Runs `program args…` as root inside `netns`, bounded to 30 s.
pub fn as_root(netns: &str, program: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", netns])
        .arg(program)
        .args(args)
        .current_dir("/");
    run_bounded(&mut c, Duration::from_secs(30))
}

/// True when `setcap` is installed. Without it: prints why the test is skipped and returns
/// false, except under `CI`, where `tests/run-all.sh` installs libcap2-bin.
pub fn require_setcap() -> bool {
    if Command::new("setcap").arg("-v").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "setcap (libcap2-bin) is required under CI"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED: setcap is not installed");
    false
}

/// A world-executable copy of the binary with file capabilities `caps` (as `setcap` spells
/// them, e.g. `cap_sys_ptrace,cap_dac_read_search+ep`); `getcap` must show them.
pub fn copy_with_caps(caps: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, bin) = world_executable_copy();
    run_ok(Command::new("setcap").arg(caps).arg(&bin));
    let shown = run_ok(Command::new("getcap").arg(&bin));
    let want = caps.trim_end_matches("+ep");
    for cap in want.split(',') {
        assert!(shown.contains(cap), "getcap {}: {shown}", bin.display());
    }
    (dir, bin)
}

/// A `pop.py` generator running as `nobody` inside `netns`; its process group is killed on
/// drop.
pub struct NobodyPopulation {
    child: Option<Child>,
    /// The JSON ready line.
    pub ready: Value,
    /// A world-readable copy of pop.py: the checkout may sit in a directory nobody cannot
    /// enter (a 0700 `mktemp -d`).
    _script_dir: tempfile::TempDir,
}

impl NobodyPopulation {
    /// Spawns `pop.py --hold 90 <args…>` as `nobody` and waits up to 30 s for its ready line.
    pub fn spawn(netns: &str, args: &[&str]) -> NobodyPopulation {
        use std::os::unix::fs::PermissionsExt;
        let script_dir = tempfile::Builder::new()
            .prefix("ssc-pop-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(script_dir.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let script = script_dir.path().join("pop.py");
        std::fs::copy(pop_script(), &script).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", netns, "setpriv"])
            .args(SETPRIV_NOBODY)
            .arg(python())
            .arg(&script)
            .args(["--hold", "90"])
            .args(args)
            .current_dir("/")
            .stderr(Stdio::inherit());
        let (child, rx, desc) = super::population::start_generator(&mut c);
        let mut pop = NobodyPopulation {
            child: Some(child),
            ready: Value::Null,
            _script_dir: script_dir,
        };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let parsed: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
        if parsed["ready"] != Value::Bool(true) {
            drop(pop);
            panic!("generator {desc} not ready: line={line:?}");
        }
        pop.ready = parsed;
        pop
    }

    /// The generator's pid.
    pub fn pid(&self) -> u32 {
        u32::try_from(self.ready["pid"].as_u64().unwrap()).unwrap()
    }
}

impl Drop for NobodyPopulation {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            super::population::stop_generator(child);
        }
    }
}

/// stdout and stderr of a run that must exit 0.
pub fn ok(o: &Output, what: &str) -> (String, String) {
    let (code, stdout, stderr) = parts(o);
    assert_eq!(
        code, 0,
        "{what}: exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// The JSON stdout of a run that must exit 0.
pub fn json(o: &Output, what: &str) -> Value {
    let (stdout, _) = ok(o, what);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}):\n{stdout}"))
}

/// The perfdata after ` | ` on a check status line (the per-state counts).
pub fn perfdata(stdout: &str) -> String {
    let first = stdout.lines().next().unwrap_or("");
    first
        .split_once(" | ")
        .unwrap_or_else(|| panic!("no perfdata in {first:?}"))
        .1
        .to_string()
}
