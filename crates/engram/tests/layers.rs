//! The floor plan holds: a file imports only from its own folder or lower floors, and no
//! algorithm imports another except a named variant (A3C runs A2C's loop). The floors are the
//! ones `src/lib.rs` documents.

use std::fs;
use std::path::Path;

/// Top-level modules by floor, lowest first.
const FLOORS: &[(&str, u32)] = &[
    ("error", 1),
    ("config", 2),
    ("agent", 3),
    ("runtime", 4),
    ("onpolicy", 5),
    ("offpolicy", 5),
    ("tabular", 5),
    ("plot", 5),
    ("search", 5),
    ("algos", 6),
    ("train", 7),
    ("play", 7),
    ("export", 8),
    ("bench", 8),
    ("seeds", 8),
    ("inspect", 8),
];

/// Algorithm files that may import another algorithm's file: (variant, base).
const NAMED_VARIANTS: &[(&str, &str)] = &[("a3c", "a2c"), ("ddpg", "td3")];

fn floor(module: &str) -> Option<u32> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// `(path relative to src, source without its test module)` of every file.
fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, code));
        }
    }
}

/// The top-level modules a file names through `crate::` or `super::` paths.
fn imports(rel: &str, code: &str) -> Vec<String> {
    let own_top = rel.split('/').next().unwrap().trim_end_matches(".rs");
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .trim_start_matches('{')
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    // `super::x` inside a folder stays in that folder; at the top it names a sibling module.
    if !rel.contains('/') {
        for (i, _) in code.match_indices("super::") {
            let rest = &code[i + "super::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found.retain(|m| m != own_top && floor(m).is_some());
    found
}

#[test]
fn files_import_only_from_their_folder_or_lower_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut violations = Vec::new();
    for (rel, code) in &files {
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
        if top == "lib" {
            continue;
        }
        let Some(own) = floor(top) else {
            violations.push(format!(
                "{rel}: module `{top}` has no floor in tests/layers.rs"
            ));
            continue;
        };
        for m in imports(rel, code) {
            let f = floor(&m).unwrap_or(0);
            if f > own || (f == own && m != top) {
                violations.push(format!("{rel} (floor {own}) imports `{m}` (floor {f})"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_algorithm_imports_another_except_a_named_variant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root.join("algos"), &root, &mut files);
    let algos: Vec<String> = files
        .iter()
        .filter_map(|(rel, _)| rel.strip_prefix("algos/"))
        .filter(|f| *f != "mod.rs" && f.ends_with(".rs"))
        .map(|f| f.trim_end_matches(".rs").to_string())
        .collect();
    assert!(algos.len() >= 4, "{algos:?}");
    let mut violations = Vec::new();
    for (rel, code) in &files {
        let Some(me) = rel
            .strip_prefix("algos/")
            .map(|f| f.trim_end_matches(".rs"))
        else {
            continue;
        };
        for other in algos.iter().filter(|o| o.as_str() != me) {
            let named = code.contains(&format!("super::{other}"))
                || code.contains(&format!("algos::{other}"));
            if named && !NAMED_VARIANTS.contains(&(me, other.as_str())) {
                violations.push(format!("algos/{me}.rs imports algos/{other}.rs"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
