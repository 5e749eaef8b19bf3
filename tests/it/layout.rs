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

/// The top-level modules `code` names through `crate::`, in `crate::x` and `crate::{x, y}`.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.insert(name);
            }
        } else {
            found.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

/// Every `.rs` file under `dir`, with its top-level module.
fn sources(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("an entry").path();
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let module = top.map_or(name.clone(), str::to_owned);
        if path.is_dir() {
            sources(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("a source file");
            let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            out.push((module, code.join("\n")));
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
        .filter_map(|l| l.trim().trim_start_matches("#[doc(hidden)]").trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect();
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(declared, listed, "lib.rs's Layout section must list every module it declares, once");
    assert_eq!(order.len(), listed.len(), "a module listed twice in the Layout section: {order:?}");
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    sources(&src, None, &mut files);
    let mut upward = Vec::new();
    for (module, code) in &files {
        let Some(own) = rank(module) else { continue }; // lib.rs and main.rs sit above all
        for target in referenced(code) {
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
    let code = "use crate::zone::Zones;\nuse crate::{config::Config, geo};\nlet x = crate::dns::wire::f();";
    let names: Vec<String> = referenced(code).into_iter().collect();
    assert_eq!(names, ["config", "dns", "geo", "zone"]);
    let lib = "//! # Layout\n//!\n//! - `geo`: a\n//!   more\n//! - `config`: b\n\npub mod x;";
    assert_eq!(layout_order(lib), ["geo", "config"]);
}
