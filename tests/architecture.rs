//! The module tree is the architecture, and this test keeps it honest: data flows one way,
//! collect → model → analyze → present, and the dashboard's files form no circle.
//!
//! It reads `src/` as text (no compiler plugin): every `crate::…` path outside comments,
//! including the members of `use crate::{…}` groups, and every `super::…` inside `src/tui`.
//! A path names a module by its leading segments; a file's module comes from its place in
//! the tree (`a/b.rs` and `a/b/mod.rs` are `a::b`; `a/b_tests.rs` belongs to `a::b`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use its own top-level module and any module of a
/// strictly lower layer, nothing else: no two presenters borrow from each other.
const LAYERS: &[(&str, &[&str])] = &[
    ("vocabulary", &["model", "fasthash"]),
    ("files", &["safefs"]),
    ("filters", &["filter"]),
    ("kernel, settings, texts", &["collect", "config", "explain"]),
    ("analysis", &["analyze"]),
    ("recordings", &["record"]),
    ("presenters", &["report", "tui"]),
    // The endpoint serves one of the report formats (`report::prometheus`) over HTTP.
    ("endpoint", &["serve"]),
    ("arguments", &["cli"]),
    ("modes", &["mode"]),
];

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file, relative to `src/`: `tui/views/overview.rs` →
/// `["tui", "views", "overview"]`; a `*_tests.rs` or `tests.rs` file belongs to its parent.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().expect("file name");
    let stem = file.trim_end_matches(".rs");
    let stem = stem.strip_suffix("_tests").unwrap_or(stem);
    if !matches!(stem, "mod" | "lib" | "main" | "tests") {
        parts.push(stem.to_string());
    }
    parts
}

/// Code without comments: `//` to the end of the line (doc comments included, their links
/// are not imports) and string literals left alone (no source here spells `crate::` in one).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| {
        let code = match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        };
        (i + 1, code)
    })
}

/// Expands the paths that start at `rest` (just after `crate::` or `super::`): a plain path
/// gives one, a `{a::b, c}` group gives each member. Paths are returned as segments.
fn paths_at(rest: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (&s[..end], &s[end..])
    }
    fn parse(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
        let s0 = s.len();
        let mut s = s.trim_start();
        let mut path = prefix.to_vec();
        loop {
            if let Some(inner) = s.strip_prefix('{') {
                let mut rest = inner;
                loop {
                    let used = parse(rest, &path, out);
                    rest = rest[used..].trim_start();
                    if let Some(r) = rest.strip_prefix(',') {
                        rest = r.trim_start();
                    }
                    if let Some(r) = rest.strip_prefix('}') {
                        return s0 - r.len();
                    }
                    if rest.is_empty() || used == 0 {
                        return s0 - rest.len();
                    }
                }
            }
            let (id, rest) = ident(s);
            if id.is_empty() {
                break;
            }
            path.push(id.to_string());
            s = rest;
            match s.strip_prefix("::") {
                Some(r) => s = r,
                None => break,
            }
        }
        if path.len() > prefix.len() {
            out.push(path);
        }
        s0 - s.len()
    }
    let mut out = Vec::new();
    parse(rest, &[], &mut out);
    out
}

struct Ref {
    file: String,
    line: usize,
    target: Vec<String>,
}

fn reference(
    module: &[String],
    rel: &Path,
    line: usize,
    target: Vec<String>,
) -> (Vec<String>, Ref) {
    let file = rel.display().to_string();
    (module.to_vec(), Ref { file, line, target })
}

/// Every `crate::` path (and, resolved against the file's module, every `super::` path) in
/// each file under `src/`.
fn references() -> Vec<(Vec<String>, Ref)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut refs = Vec::new();
    for path in files {
        let rel = path.strip_prefix(&src).expect("under src").to_path_buf();
        let module = module_of(&rel);
        let text = fs::read_to_string(&path).expect("read source");
        // An inline `mod tests { … }` (by house rule the file's last item) is one level
        // deeper than the file: its `super` is the file's own module.
        let mut inline_tests = false;
        for (line, code) in code_lines(&text) {
            if code.trim_start().starts_with("mod tests {") {
                inline_tests = true;
            }
            for (at, _) in code.match_indices("crate::") {
                // `sockscope_crate::` or `$crate::` are not this crate's root.
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    continue;
                }
                for target in paths_at(&code[at + "crate::".len()..]) {
                    refs.push(reference(&module, &rel, line, target));
                }
            }
            for (at, _) in code.match_indices("super::") {
                let before = code[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                // `super` of `a/b.rs` and of `a/b/mod.rs` is `a`; a tests file is the
                // `tests` module inside the one it tests, so its `super` is that module.
                let mut base = module.clone();
                if !rel.to_string_lossy().ends_with("tests.rs") && !inline_tests {
                    base.pop();
                }
                for tail in paths_at(&code[at + "super::".len()..]) {
                    let mut target = base.clone();
                    target.extend(tail);
                    refs.push(reference(&module, &rel, line, target));
                }
            }
        }
    }
    refs
}

/// The imports that run against the flow, and the top-level modules with no layer.
fn violations(refs: &[(Vec<String>, Ref)]) -> (Vec<String>, BTreeSet<String>) {
    let mut bad = Vec::new();
    let mut unknown = BTreeSet::new();
    for (module, r) in refs {
        let Some(from) = module.first() else { continue };
        let Some(to) = r.target.first() else { continue };
        if from == to {
            continue;
        }
        let (Some(lf), Some(lt)) = (layer_of(from), layer_of(to)) else {
            if layer_of(from).is_none() {
                unknown.insert(from.clone());
            }
            if layer_of(to).is_none() && to.chars().all(|c| c.is_lowercase() || c == '_') {
                unknown.insert(to.clone());
            }
            continue;
        };
        if lt >= lf {
            bad.push(format!(
                "{}:{}: {from} ({}) uses {} ({})",
                r.file,
                r.line,
                LAYERS[lf].0,
                r.target.join("::"),
                LAYERS[lt].0
            ));
        }
    }
    (bad, unknown)
}

#[test]
fn no_import_runs_against_the_flow() {
    let refs = references();
    assert!(
        refs.len() > 200,
        "the scan found almost no imports: the test is broken"
    );
    let (bad, unknown) = violations(&refs);
    assert!(
        unknown.is_empty(),
        "top-level modules with no layer (add them to LAYERS): {unknown:?}"
    );
    assert!(
        bad.is_empty(),
        "imports against the flow:\n{}",
        bad.join("\n")
    );
}

type Graph = BTreeMap<String, BTreeMap<String, (String, usize)>>;

/// The dashboard's own modules (`tui::a::b` → `a::b`), one node per file, and which import
/// which (with the first place each import is written).
fn tui_graph(refs: &[(Vec<String>, Ref)]) -> Graph {
    let nodes: BTreeSet<String> = refs
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|t| t == "tui") && m.len() > 1)
        .map(|(m, _)| m[1..].join("::"))
        .collect();
    let mut graph = Graph::new();
    for (module, r) in refs {
        if module.first().is_none_or(|t| t != "tui") || module.len() < 2 {
            continue;
        }
        if r.target.first().is_none_or(|t| t != "tui") {
            continue;
        }
        let from = module[1..].join("::");
        // The longest prefix of the target that is a file of ours.
        let tail = &r.target[1..];
        let to = (1..=tail.len())
            .rev()
            .map(|n| tail[..n].join("::"))
            .find(|cand| nodes.contains(cand));
        if let Some(to) = to.filter(|to| *to != from) {
            graph
                .entry(from)
                .or_default()
                .entry(to)
                .or_insert((r.file.clone(), r.line));
        }
    }
    graph
}

/// Every circle a depth-first search meets (each back edge once), as `a → b → a`.
fn circles(g: &Graph) -> Vec<String> {
    fn visit<'a>(
        n: &'a str,
        g: &'a Graph,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        found: &mut Vec<String>,
    ) {
        state.insert(n, 1);
        stack.push(n);
        for (next, (file, line)) in g.get(n).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut c: Vec<&str> = stack[at..].to_vec();
                    c.push(next);
                    found.push(format!("{} (closed at {file}:{line})", c.join(" → ")));
                }
                Some(_) => {}
                None => visit(next, g, state, stack, found),
            }
        }
        stack.pop();
        state.insert(n, 2);
    }
    let mut state = BTreeMap::new();
    let mut found = Vec::new();
    for n in g.keys() {
        if !state.contains_key(n.as_str()) {
            visit(n, g, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[test]
fn the_dashboard_has_no_circle() {
    let graph = tui_graph(&references());
    assert!(
        graph.len() > 5,
        "the scan found almost no tui imports: the test itself is broken"
    );
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "circles in src/tui:\n{}",
        found.join("\n")
    );
}

/// The checks themselves: a test that cannot fail proves nothing, so each must catch a
/// made-up violation.
#[test]
fn the_checks_catch_a_made_up_violation() {
    let r = |module: &str, target: &str| {
        let split = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
        reference(&split(module), Path::new("x.rs"), 1, split(target))
    };
    let (bad, unknown) = violations(&[
        r("collect::procmap", "analyze::aggregate::ListenerIndex"),
        r("tui::views::overview", "report::SummaryView"),
        r("analyze::engine", "model::Snapshot"),
        r("newthing", "model::Snapshot"),
    ]);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].contains("collect (kernel, settings, texts) uses analyze"));
    assert!(bad[1].contains("tui (presenters) uses report"));
    assert_eq!(unknown.into_iter().collect::<Vec<_>>(), ["newthing"]);
    let g = tui_graph(&[
        r("tui::state::app", "tui::state::rows::Rows"),
        r("tui::state::rows", "tui::views::sockets::age"),
        r("tui::views::sockets", "tui::state::app::App"),
        r("tui::views::fmt", "model::TcpState"),
    ]);
    let found = circles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("state::app → state::rows → views::sockets → state::app"));
}

/// The scanner reads `use` groups, nested paths and file names as rustc does.
#[test]
fn the_scanner_reads_groups_and_nested_paths() {
    let got = paths_at("{analyze::finding::{RuleId, Subject}, model::Snapshot};");
    let want: Vec<Vec<String>> = [
        vec!["analyze", "finding", "RuleId"],
        vec!["analyze", "finding", "Subject"],
        vec!["model", "Snapshot"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        paths_at("tui::app::App;"),
        vec![vec!["tui".to_string(), "app".into(), "App".into()]]
    );
    assert_eq!(
        module_of(Path::new("collect/procmap_tests.rs")),
        vec!["collect", "procmap"]
    );
    assert_eq!(
        module_of(Path::new("tui/views/mod.rs")),
        vec!["tui", "views"]
    );
    assert_eq!(layer_of("collect"), Some(3));
    assert!(layer_of("analyze") > layer_of("collect"));
    assert!(layer_of("tui") > layer_of("analyze"));
}
