//! The core's modules depend on each other without cycles.
//!
//! Reads the `crate::…` and `super::…` paths of every file under `core/src` (production
//! code only: comments, `tests.rs` files and the `#[cfg(test)]` part at the end of a file
//! are skipped) and builds the graph of "file A uses file B", one node per module file
//! (`client`, `config`, `webhook::parse`, `inbox`, …). A path is resolved to the file that
//! defines the item: a name that a `mod.rs` (or `lib.rs`) imports or re-exports
//! (`pub use parse::parse;`) counts as the file it comes from, as `cargo modules` resolves
//! uses. A parent's `mod x; pub use x::Y;` (a relative path) is ownership and not read; every
//! `crate::` / `super::` path is. The test also fails when production code uses a `testing`
//! module.
//!
//! A cycle fails the test with the lines that create it. Hand-written rather than
//! `cargo modules` so the rule runs in `cargo test` with nothing to install; it reads
//! paths, not types, which is enough for `use` lines and inline `crate::x::f()` calls.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One source file: its module path (`["webhook", "parse"]`) and its production text.
struct Source {
    module: Vec<String>,
    is_facade: bool,
    file: String,
    lines: Vec<(usize, String)>,
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, root, out);
            continue;
        }
        if p.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let rel = p.strip_prefix(root).unwrap();
        let mut module: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let stem = module.last().cloned().unwrap_or_default();
        if stem == "tests" {
            // `#[cfg(test)] mod tests;` kept in its own file.
            continue;
        }
        let is_facade = stem == "mod" || stem == "lib";
        if is_facade {
            module.pop();
        }
        let text = fs::read_to_string(&p).unwrap();
        let mut lines = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("#[cfg(test)]") {
                break;
            }
            if t.starts_with("//") {
                continue;
            }
            let code = match line.find("//") {
                Some(at) if !line[..at].contains('"') => &line[..at],
                _ => line,
            };
            lines.push((i + 1, code.to_string()));
        }
        out.push(Source {
            module,
            is_facade,
            file: format!("core/src/{}", rel.display()),
            lines,
        });
    }
}

/// Expand a use-tree such as `a::{b, c::{d, e as f}, self}` into its paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    // Split the top level of a `{…}` group on commas.
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(prefix, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(prefix, &inner[start..], out);
        return;
    }
    match tree.find("::") {
        Some(at) if !tree[..at].contains('{') => {
            let mut p = prefix.to_vec();
            p.push(tree[..at].trim().to_string());
            expand(&p, &tree[at + 2..], out);
        }
        _ => {
            let name = tree.split_whitespace().next().unwrap_or("");
            let mut p = prefix.to_vec();
            if name != "self" && name != "*" {
                p.push(name.to_string());
            }
            out.push(p);
        }
    }
}

/// Every path written after `crate::` or `super::` on a line (the root kept as first segment).
fn paths_in(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for root in ["crate::", "super::"] {
        let mut rest = line;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().last();
            rest = &rest[at + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // Take identifiers, `::` and balanced braces.
            let mut depth = 0;
            let mut end = 0;
            for (i, ch) in rest.char_indices() {
                let ok = match ch {
                    '{' => {
                        depth += 1;
                        true
                    }
                    '}' => {
                        if depth == 0 {
                            false
                        } else {
                            depth -= 1;
                            true
                        }
                    }
                    c if c.is_alphanumeric() || c == '_' || c == ':' => true,
                    ',' | ' ' => depth > 0,
                    _ => false,
                };
                if !ok {
                    break;
                }
                end = i + ch.len_utf8();
            }
            let tree = rest[..end].trim_end_matches(':');
            let mut found = Vec::new();
            expand(&[root.trim_end_matches(':').to_string()], tree, &mut found);
            out.extend(found);
        }
    }
    out
}

#[test]
fn core_modules_have_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = Vec::new();
    collect(&root, &root, &mut sources);

    // Files per module path, and the names each facade re-exports from which child.
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let mut reexports: BTreeMap<(Vec<String>, String), String> = BTreeMap::new();
    for s in sources.iter().filter(|s| s.is_facade) {
        let text: String = s
            .lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        for stmt in text.split(';') {
            let stmt = stmt.trim();
            let Some(tree) = ["pub use ", "pub(crate) use ", "use "]
                .iter()
                .find_map(|p| stmt.strip_prefix(p))
            else {
                continue;
            };
            let tree = tree.trim().trim_start_matches("self::");
            let mut found = Vec::new();
            expand(&[], tree, &mut found);
            for p in found {
                if let (Some(first), Some(last)) = (p.first(), p.last())
                    && modules.contains(&[s.module.clone(), vec![first.clone()]].concat())
                {
                    reexports.insert((s.module.clone(), last.clone()), first.clone());
                }
            }
        }
    }

    // Resolve an absolute path to the deepest module file it names: a submodule of a
    // directory, or the child a facade re-exports the item from.
    let resolve = |abs: &[String]| -> Vec<String> {
        let mut m: Vec<String> = Vec::new();
        for seg in abs {
            let mut next = m.clone();
            next.push(seg.clone());
            if modules.contains(&next) {
                m = next;
            } else if let Some(child) = reexports.get(&(m.clone(), seg.clone())) {
                m.push(child.clone());
                break;
            } else {
                break;
            }
        }
        m
    };

    // (graph name, from, to) → the lines that create the edge.
    let name = |m: &[String]| {
        if m.is_empty() {
            "crate".to_string()
        } else {
            m.join("::")
        }
    };
    let mut edges: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let mut uses_testing = Vec::new();
    for s in &sources {
        for (n, line) in &s.lines {
            for p in paths_in(line) {
                let abs: Vec<String> = if p[0] == "crate" {
                    p[1..].to_vec()
                } else {
                    // `super::` of `a/b.rs` is `a`; of `a/mod.rs` or `a.rs` the crate root.
                    let mut base = s.module.clone();
                    base.pop();
                    [base, p[1..].to_vec()].concat()
                };
                let target = resolve(&abs);
                if target.last().is_some_and(|t| t == "testing")
                    && s.module.last().is_none_or(|m| m != "testing")
                {
                    uses_testing.push(format!("    {}:{n}: {}", s.file, line.trim()));
                }
                if target != s.module {
                    edges
                        .entry(("core".into(), name(&s.module), name(&target)))
                        .or_default()
                        .push(format!("{}:{n}: {}", s.file, line.trim()));
                }
            }
        }
    }

    // Every strongly connected group of two or more modules is a cycle; report each with
    // the lines that tie it together. (The graphs are small: plain reachability is enough.)
    let graphs: BTreeSet<String> = edges.keys().map(|(g, _, _)| g.clone()).collect();
    let mut failures = Vec::new();
    for g in graphs {
        let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (gg, a, b) in edges.keys() {
            if *gg == g {
                adj.entry(a.as_str()).or_default().insert(b.as_str());
                adj.entry(b.as_str()).or_default();
            }
        }
        let reach = |from: &str| -> BTreeSet<&str> {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from];
            while let Some(n) = todo.pop() {
                for &m in &adj[n] {
                    if seen.insert(m) {
                        todo.push(m);
                    }
                }
            }
            seen
        };
        let reached: BTreeMap<&str, BTreeSet<&str>> = adj.keys().map(|&n| (n, reach(n))).collect();
        let mut done = BTreeSet::new();
        for &n in adj.keys() {
            if done.contains(n) || !reached[n].contains(n) {
                continue;
            }
            let group: BTreeSet<&str> = reached[n]
                .iter()
                .copied()
                .filter(|m| reached[m].contains(n))
                .collect();
            done.extend(group.iter().copied());
            let mut msg = format!(
                "cycle among {g} modules: {}\n",
                group.iter().copied().collect::<Vec<_>>().join(", ")
            );
            for (gg, a, b) in edges.keys() {
                if *gg == g && group.contains(a.as_str()) && group.contains(b.as_str()) {
                    let lines: BTreeSet<&String> =
                        edges[&(gg.clone(), a.clone(), b.clone())].iter().collect();
                    for at in lines {
                        msg.push_str(&format!("    {a} -> {b}: {at}\n"));
                    }
                }
            }
            failures.push(msg);
        }
    }
    assert!(
        uses_testing.is_empty(),
        "production code uses a test helper (move what it needs into production code):\n{}",
        uses_testing.join("\n")
    );
    assert!(
        failures.is_empty(),
        "module cycles (move the shared item into its own module):\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_path_reader_understands_use_trees() {
    let p = paths_in("use crate::webhook::{events::{Event, EventKind}, parse::parse as p};");
    assert_eq!(
        p,
        vec![
            vec!["crate", "webhook", "events", "Event"],
            vec!["crate", "webhook", "events", "EventKind"],
            vec!["crate", "webhook", "parse", "parse"],
        ]
    );
    let p = paths_in("let d = crate::governor::pair_backoff(1); super::x::Y");
    assert_eq!(
        p,
        vec![
            vec!["crate", "governor", "pair_backoff"],
            vec!["super", "x", "Y"],
        ]
    );
}
