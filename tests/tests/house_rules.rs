//! The rules of the house that a reader of the code relies on, checked on
//! the sources themselves: no source file longer than a room one can hold
//! in mind (800 lines, its `#[cfg(test)] mod tests` block aside).
//!
//! The files still over the limit when the rule was written are listed
//! with their length then: none may grow, none may join them, and a file
//! split below the limit must leave the list (so the list only shrinks).

use std::path::{Path, PathBuf};

const LIMIT_LINES: usize = 800;

/// Still too long, each with the length it may not exceed: to be split.
const STILL_TOO_LONG: &[(&str, usize)] = &[
    ("social-tariff/src/storage.rs", 2400),
    ("billing/src/storage/mod.rs", 1595),
    ("provisioning/src/service.rs", 1506),
    ("src/social/pages.rs", 1479),
    ("src/platform/config.rs", 1297),
    ("inventory/src/storage.rs", 1272),
    ("billing/src/storage/ledger.rs", 1258),
    ("billing/src/takeover.rs", 1223),
    ("src/platform/storage.rs", 1032),
    ("provisioning/src/storage.rs", 1023),
    ("inventory/src/gracethd/mod.rs", 917),
    ("src/network/lines.rs", 875),
];

/// The source files of the workspace: every `.rs` file but the test
/// modules (`tests/` directories), build output and dependencies.
fn sources(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | "node_modules" | "tests" | ".git") {
                sources(&path, root, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
}

/// Lines before the file's `#[cfg(test)] mod tests` block, if it has one.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len())
}

#[test]
fn no_source_file_grows_past_800_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap();
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    // The tests crate's own sources (tests/src) are sources too.
    sources(&root.join("tests/src"), &root, &mut files);
    assert!(files.len() > 100, "{} files found", files.len());
    let mut faults = Vec::new();
    for file in &files {
        let shown = file.to_string_lossy().replace('\\', "/");
        let n = code_lines(&std::fs::read_to_string(root.join(file)).unwrap());
        match STILL_TOO_LONG.iter().find(|(f, _)| *f == shown) {
            Some((_, ceiling)) if n > *ceiling => faults.push(format!(
                "{shown}: {n} lines, more than its {ceiling}: split it"
            )),
            Some(_) if n <= LIMIT_LINES => faults.push(format!(
                "{shown}: {n} lines now: take it off STILL_TOO_LONG"
            )),
            Some(_) => {}
            None if n > LIMIT_LINES => {
                faults.push(format!("{shown}: {n} lines, over {LIMIT_LINES}: split it"))
            }
            None => {}
        }
    }
    for (f, _) in STILL_TOO_LONG {
        if !files
            .iter()
            .any(|p| p.to_string_lossy().replace('\\', "/") == *f)
        {
            faults.push(format!("{f}: listed in STILL_TOO_LONG but gone"));
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_test_block_is_not_counted() {
    assert_eq!(code_lines("a\nb\n#[cfg(test)]\nmod tests {\n}\n"), 2);
    assert_eq!(code_lines("a\nb\n"), 2);
}

#[test]
fn a_domains_pages_never_import_its_api_handlers() {
    // Pages and API handlers of a domain share the domain's functions
    // (mod.rs, scope.rs, files.rs, documents.rs …), never each other's
    // modules: a page that called a handler's module once linked to a
    // bearer-only route.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let mut faults = Vec::new();
    for domain in ["network", "monitoring", "billing", "social"] {
        let dir = root.join(domain);
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("_api.rs") || name == "api.rs" || name == "mod.rs" {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.contains("_api::") || line.contains(&format!("crate::{domain}::api::")) {
                    faults.push(format!("src/{domain}/{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}
