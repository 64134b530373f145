//! The module structure docs/architecture.md describes holds in the code: data flows one way
//! between the library's top-level modules (no import cycle), and the command line stays a thin
//! adapter (no long function in `src/cli/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::repo;

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the top-level modules its code names through `crate::` (comments aside).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| module_of(p)).collect();
    let path = regex::Regex::new(r"crate::(\{[^}]*\}|[a-z_]+)").unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = module_of(f);
        let text = std::fs::read_to_string(f).unwrap();
        // `use crate::{a, b::c}` may span lines: join the code lines, drop comments.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ");
        for m in path.captures_iter(&code) {
            let names: Vec<String> = m[1]
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                .collect();
            for to in names {
                if to != from && modules.contains(&to) {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    graph
}

/// A cycle through `node`, if any (depth-first).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(i) = stack.iter().position(|n| n == node) {
        let mut cycle = stack[i..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    stack.push(node.to_string());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(c) = cycle_from(graph, next, stack, done) {
            return Some(c);
        }
    }
    stack.pop();
    done.insert(node.to_string());
    None
}

/// The wrong answer this prevents: `report` asking `evidence` for file names while `evidence`
/// renders the report (or `engine` and `evidence` calling each other), so that no module can be
/// read, tested or reused without the one above it.
#[test]
fn the_library_modules_import_each_other_without_a_cycle() {
    let graph = module_graph();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    // The layers the architecture names: the report and the bundle layout sit below the engine,
    // the pipeline and the command line.
    let below = |m: &str| graph.get(m).cloned().unwrap_or_default();
    for low in ["report", "bundle", "engine", "evidence"] {
        for high in ["cli", "pipeline"] {
            assert!(!below(low).contains(high), "{low} depends on {high}");
        }
    }
    assert!(
        !below("report").contains("evidence"),
        "{:?}",
        below("report")
    );
    assert!(
        !below("engine").contains("evidence"),
        "{:?}",
        below("engine")
    );
}

/// The wrong answer this prevents: the command line growing back into where `check` happens
/// (a 200-line function deciding verdicts, waivers and exit codes), so that the next feature
/// cannot reuse it as a library call.
#[test]
fn the_command_line_is_thin_adapters_with_no_rule() {
    let dir = repo().join("src/cli");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() >= 10, "one file per subcommand: {files:?}");
    let fn_start = regex::Regex::new(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn ").unwrap();
    // Names only the library's rules use: verdicts, waivers, expiry, gates, bundle writing.
    let rules = [
        "Verdict",
        "waiver::",
        "enforce_max_age",
        "stamp_expiry",
        "examined_nothing",
        "failed_at",
        "regressions_at",
        "write_bundle",
    ];
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(m) = fn_start.captures(line) else {
                continue;
            };
            let end = format!("{}}}", &m[1]);
            let len = lines[i..].iter().position(|l| *l == end).unwrap_or(0) + 1;
            if len > 60 {
                long.push(format!("{}:{}: {len} lines", f.display(), i + 1));
            }
        }
        for rule in rules {
            assert!(
                !text.contains(rule),
                "{} names `{rule}`: that rule belongs in the library",
                f.display()
            );
        }
    }
    assert!(
        long.is_empty(),
        "functions over 60 lines in src/cli/: {long:#?}"
    );
}
