//! Structure checks that read the source instead of running it, in the spirit of
//! rust-analyzer's `xtask/src/tidy.rs`: the module dependencies written in
//! docs/architecture.md are the ones the code has, every test file runs, and nothing
//! writes to stdout (the protocol channel) by accident.
//!
//! Each check fails with the file, the line and what to do about it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (the manifest is server/Cargo.toml).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The text with comment lines blanked (line numbers kept) and the contents of string
/// literals on each line replaced by spaces, so that neither counts as code. Good enough
/// for this source: no raw strings span a `crate::` path or a print macro.
fn code_only(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                return String::new();
            }
            let mut code = String::with_capacity(line.len());
            let (mut in_string, mut escaped) = (false, false);
            for c in line.chars() {
                match (in_string, escaped, c) {
                    (true, true, _) => escaped = false,
                    (true, false, '\\') => escaped = true,
                    (_, false, '"') => in_string = !in_string,
                    (true, false, _) => {}
                    (false, _, _) => code.push(c),
                }
                if in_string {
                    code.push(' ');
                }
            }
            // A trailing comment is not code either.
            match code.find("//") {
                Some(at) => code[..at].to_string(),
                None => code,
            }
        })
        .collect()
}

/// The top-level module a file of server/src belongs to (`lsp/review.rs` → `lsp`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Every top-level module a file names through `crate::…` (grouped `use crate::{a, b}`
/// included), with the 1-based line of each use.
fn crate_uses(code: &[String]) -> Vec<(usize, String)> {
    let text = code.join("\n");
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut uses = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `$crate::` or part of a longer name
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(end, _)| end);
            let (mut depth, mut item) = (0, 0);
            let mut items = Vec::new();
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&group[item..i]);
                        item = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&group[item..end]);
            for item in items {
                uses.push((line_of(at), ident(item.trim_start())));
            }
        } else {
            uses.push((line_of(at), ident(rest)));
        }
    }
    uses
}

/// The "Dependencies" list of docs/architecture.md: module → the modules it may use.
fn documented_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let doc = fs::read_to_string(repo_root().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("\n## ")
        .find(|section| section.starts_with("Dependencies"))
        .expect("docs/architecture.md has a `## Dependencies` section (tests/it/tidy.rs reads it)");
    let names = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut allowed = BTreeMap::new();
    // The first list of the section; the notes after it are a list too.
    let list = section
        .lines()
        .skip_while(|l| !l.starts_with("- `"))
        .take_while(|l| l.starts_with("- `"));
    for line in list {
        let (modules, uses) = line.split_once('→').unwrap_or_else(|| {
            panic!("docs/architecture.md, Dependencies: `{line}` has no `→`; write `- `a` → `b`, `c`` or `- `a` → nothing`")
        });
        for module in names(modules) {
            let previous = allowed.insert(module.clone(), names(uses).into_iter().collect());
            assert!(
                previous.is_none(),
                "docs/architecture.md, Dependencies: `{module}` is listed twice"
            );
        }
    }
    allowed
}

#[test]
fn module_dependencies_are_the_documented_ones() {
    let src = repo_root().join("server/src");
    let allowed = documented_dependencies();

    // Every module is in the list, so a new one comes with a decision about its place.
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<String> = allowed.keys().cloned().collect();
    assert_eq!(
        modules, listed,
        "the modules of server/src/lib.rs and the Dependencies list of docs/architecture.md \
         differ; list each module there with the modules it may use"
    );

    // The list itself points one way: no module reaches itself through it.
    for start in allowed.keys() {
        let mut path = vec![start.clone()];
        assert_acyclic(&allowed, start, &mut path);
    }

    let mut forbidden = Vec::new();
    for file in rust_files(&src) {
        let module = module_of(&src, &file);
        if module == "lib" || module == "main" {
            continue; // the crate root and the binary sit above every module
        }
        let code = code_only(&fs::read_to_string(&file).unwrap());
        if module != "lsp"
            && let Some(line) = code.iter().position(|l| l.contains("tower_lsp_server"))
        {
            forbidden.push(format!(
                "{}:{}: `{module}` uses tower-lsp, which only `lsp` may know about",
                file.strip_prefix(repo_root()).unwrap().display(),
                line + 1
            ));
        }
        for (line, used) in crate_uses(&code) {
            if used == module || used.is_empty() {
                continue;
            }
            if !allowed[&module].contains(&used) {
                forbidden.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`",
                    file.strip_prefix(repo_root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        forbidden.is_empty(),
        "\n{}\n\nThese dependencies are not in the Dependencies list of docs/architecture.md. \
         Move the code so the dependency points down the list, or, if the new edge is right, \
         add it there (and to the picture) — the list must stay free of cycles.\n",
        forbidden.join("\n")
    );
}

fn assert_acyclic(allowed: &BTreeMap<String, BTreeSet<String>>, at: &str, path: &mut Vec<String>) {
    for next in allowed.get(at).into_iter().flatten() {
        if let Some(start) = path.iter().position(|m| m == next) {
            panic!(
                "docs/architecture.md, Dependencies: the list has a cycle: {} → {next}",
                path[start..].join(" → ")
            );
        }
        assert!(
            allowed.contains_key(next),
            "docs/architecture.md, Dependencies: `{at}` may use `{next}`, which is not a module"
        );
        path.push(next.clone());
        assert_acyclic(allowed, next, path);
        path.pop();
    }
}

#[test]
fn every_test_file_is_a_module_of_the_test_binary() {
    let dir = repo_root().join("tests/it");
    let main = fs::read_to_string(dir.join("main.rs")).unwrap();
    let declared: BTreeSet<&str> = main
        .lines()
        .filter_map(|l| l.strip_prefix("mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let missing: Vec<String> = rust_files(&dir)
        .iter()
        .filter(|f| f.parent() == Some(dir.as_path()))
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|stem| stem != "main" && !declared.contains(stem.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/it/{{{}}}.rs never run: add `mod <name>;` for each to tests/it/main.rs",
        missing.join(",")
    );
}

#[test]
fn nothing_prints_to_stdout_without_saying_why() {
    let src = repo_root().join("server/src");
    let mut unmarked = Vec::new();
    for file in rust_files(&src) {
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, code) in code_only(&text).iter().enumerate() {
            let prints = ["println!", "print!", "dbg!"].iter().any(|mac| {
                code.match_indices(mac).any(|(at, _)| {
                    !code[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            });
            let marked =
                lines[i].contains("// stdout-ok") || i > 0 && lines[i - 1].contains("// stdout-ok");
            if prints && !marked {
                unmarked.push(format!(
                    "{}:{}: {}",
                    file.strip_prefix(repo_root()).unwrap().display(),
                    i + 1,
                    lines[i].trim()
                ));
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "\n{}\n\nstdout is the LSP channel: log with `tracing` (it goes to stderr). A line that \
         is deliberate CLI output says so with a `// stdout-ok: <why>` comment.\n",
        unmarked.join("\n")
    );
}
