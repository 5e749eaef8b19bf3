//! The modules point one way (STYLE.md section 11): the `//! # Layout` section of `lib.rs`
//! lists every top-level module from the leaves to the edges, and a module may import only
//! from modules listed before it. A `crate::` path in code (not in a comment) that names a
//! module listed later, or a module missing from the list, fails this test.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The modules as the Layout section lists them: the first `name` of each `//! - ` bullet.
fn layout_order(lib: &str) -> Vec<String> {
    let section = lib.split("//! # Layout").nth(1).expect("lib.rs has a Layout section");
    section
        .lines()
        .skip(1) // the rest of the heading's line
        .take_while(|l| l.starts_with("//!"))
        .filter_map(|l| l.strip_prefix("//! - `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// The top-level modules `code` names through `crate::` (`crate::x::..`, `crate::{x, y::{..}}`)
/// or through `super::` chains that climb to the crate root from `depth` (the number of
/// modules the file is inside: 1 for `src/dns/mod.rs`, 2 for `src/dns/udp.rs`).
fn referenced(code: &str, depth: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        top_level_items(&code[at + "crate::".len()..], &mut found);
    }
    for (at, _) in code.match_indices("super::") {
        // Only the first `super::` of a chain, so that each chain is counted once.
        if code[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &code[at..];
        let mut climbs = 0;
        while let Some(next) = rest.strip_prefix("super::") {
            rest = next;
            climbs += 1;
        }
        if climbs >= depth {
            top_level_items(rest, &mut found);
        }
    }
    found.retain(|n| !n.is_empty() && n != "self" && n != "super");
    found
}

/// The first path segment of `rest`, or of each item of the `{..}` group it opens (nested
/// groups skipped to their closing brace).
fn top_level_items(rest: &str, found: &mut BTreeSet<String>) {
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let Some(group) = rest.strip_prefix('{') else {
        found.insert(ident(rest));
        return;
    };
    let (mut depth, mut item_start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                found.insert(ident(&group[item_start..i]));
                return;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                found.insert(ident(&group[item_start..i]));
                item_start = i + 1;
            }
            _ => {}
        }
    }
}

/// A source file: its top-level module, how many modules deep it sits, its code.
struct Source {
    module: String,
    depth: usize,
    code: String,
}

/// Every `.rs` file under `dir` (`depth` modules deep), with its top-level module.
fn sources(dir: &Path, top: Option<&str>, depth: usize, out: &mut Vec<Source>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("an entry").path();
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let module = top.map_or(name.clone(), str::to_owned);
        if path.is_dir() {
            sources(&path, Some(&module), depth + 1, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("a source file");
            let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            // `x/mod.rs` is module `x` itself; `x/y.rs` is inside it.
            let depth = if name == "mod" { depth } else { depth + 1 };
            out.push(Source { module, depth, code: code.join("\n") });
        }
    }
}

#[test]
fn top_level_modules_import_only_from_modules_listed_before_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = layout_order(&lib);
    let declared: BTreeSet<String> = lib
        .lines()
        .map(|l| l.trim())
        .filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("mod ")))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect();
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(declared, listed, "lib.rs's Layout section must list every module it declares, once");
    assert_eq!(order.len(), listed.len(), "a module listed twice in the Layout section: {order:?}");
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    sources(&src, None, 0, &mut files);
    assert!(files.len() > 50, "the walk found the source files: {}", files.len());
    let mut upward = Vec::new();
    for Source { module, depth, code } in &files {
        let Some(own) = rank(module) else { continue }; // lib.rs and main.rs sit above all
        for target in referenced(code, *depth) {
            if target != *module && rank(&target).is_some_and(|r| r > own) {
                upward.push(format!("{module} -> {target}"));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "imports that point back up the Layout order of lib.rs: {upward:?}");
}

#[test]
fn the_reference_finder_sees_both_forms_and_the_order_reader_every_bullet() {
    let code = "use crate::zone::Zones;\nuse crate::{config::{A, B}, control::C, geo};\nlet x = crate::dns::wire::f();";
    let names: Vec<String> = referenced(code, 1).into_iter().collect();
    assert_eq!(names, ["config", "control", "dns", "geo", "zone"]);
    // From src/dns/udp.rs (depth 2): `super::super::x` is top-level `x`, `super::x` is dns's.
    let code = "use super::super::control::Change;\nuse super::tcp;";
    assert_eq!(referenced(code, 2).into_iter().collect::<Vec<_>>(), ["control"]);
    assert_eq!(referenced("use super::{api, app};", 1).into_iter().collect::<Vec<_>>(), ["api", "app"]);
    let lib = "//! # Layout\n//!\n//! - `geo`: a\n//!   more\n//! - `config`: b\n\npub mod x;";
    assert_eq!(layout_order(lib), ["geo", "config"]);
}
