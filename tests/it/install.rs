//! What an installed binary tells about itself, run as the real `meridian`: the version with
//! its commit and build date, a description for every positional argument in `--help`, shell
//! completions that the shells accept, and a man page that `man` renders.

use std::process::{Command, Output, Stdio};

use crate::support::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run meridian")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let text = stdout(&run(&["--version"]));
    // meridian 0.1.0 (commit 5f4db4c, built 2026-12-02)
    let rest = text.trim().strip_prefix(&format!("meridian {} (commit ", env!("CARGO_PKG_VERSION"))).expect(&text);
    let (commit, rest) = rest.split_once(", built ").expect(&text);
    let date = rest.strip_suffix(')').expect(&text);
    let is_hex = commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit());
    assert!(is_hex || commit == "unknown", "commit {commit:?}");
    // From a checkout, the commit is its HEAD (a tarball build says "unknown").
    let head =
        Command::new("git").args(["rev-parse", "--short", "HEAD"]).current_dir(env!("CARGO_MANIFEST_DIR")).output();
    let head = head.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(head) = head {
        assert_eq!(commit, head, "built from this checkout's HEAD");
    }
    let parts: Vec<u32> = date.split('-').map(|p| p.parse().expect(date)).collect();
    assert!(matches!(parts[..], [y, 1..=12, 1..=31] if y >= 2024), "a UTC date: {date:?}");
}

/// The subcommands `help` lists under "Commands:" (but `help` itself).
fn subcommands(help: &str) -> Vec<String> {
    section(help, "Commands:")
        .iter()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// The lines of a section of `--help`, up to the blank line that ends it.
fn section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    help.lines().skip_while(|l| *l != heading).skip(1).take_while(|l| !l.trim().is_empty()).collect()
}

/// The positional arguments of a `--help` without a description.
fn undescribed(help: &str) -> Vec<String> {
    let lines = section(help, "Arguments:");
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !(trimmed.starts_with('<') || trimmed.starts_with('[')) || line.len() - trimmed.len() > 4 {
            continue; // a description's own line
        }
        let name_end = trimmed.find("  ").unwrap_or(trimmed.len());
        let same_line = !trimmed[name_end..].trim().is_empty();
        let next_line = lines.get(i + 1).is_some_and(|n| n.len() - n.trim_start().len() > 4);
        if !same_line && !next_line {
            missing.push(trimmed[..name_end].to_owned());
        }
    }
    missing
}

#[test]
fn every_positional_argument_in_help_has_a_description() {
    let mut pending = vec![Vec::<String>::new()];
    let mut checked = 0;
    let mut missing = Vec::new();
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout(&run(&args));
        for arg in undescribed(&help) {
            missing.push(format!("meridian {} {arg}", path.join(" ")));
        }
        checked += section(&help, "Arguments:").len();
        for sub in subcommands(&help) {
            pending.push(path.iter().cloned().chain([sub]).collect());
        }
    }
    assert!(checked >= 8, "the walk reached the subcommands' arguments: {checked}");
    assert!(missing.is_empty(), "positional arguments without a description: {missing:#?}");
    // The check itself sees a bare argument.
    assert_eq!(undescribed("Arguments:\n  <FILE>\n  <NAME>  The name\n\nOptions:\n"), ["<FILE>"]);
}

#[test]
fn completions_are_scripts_the_shells_accept() {
    let bash = stdout(&run(&["completions", "bash"]));
    assert!(bash.contains("complete -F") && bash.contains("check-config"), "{bash}");
    let dir = TempDir::new("install");
    let script = dir.write("meridian.bash", &bash);
    let checked = Command::new("bash").arg("-n").arg(&script).output().expect("bash");
    assert!(checked.status.success(), "bash -n: {}", String::from_utf8_lossy(&checked.stderr));
    // Sourced, it completes the subcommands.
    let complete = format!(
        "source {}; COMP_WORDS=(meridian che); COMP_CWORD=1; COMP_LINE='meridian che'; COMP_POINT=12; \
         _meridian meridian che meridian; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let offered = Command::new("bash").args(["-c", &complete]).output().expect("bash");
    assert_eq!(String::from_utf8_lossy(&offered.stdout).trim(), "check-config", "{offered:?}");
    let zsh = stdout(&run(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef meridian"), "{zsh}");
    let fish = stdout(&run(&["completions", "fish"]));
    assert!(fish.contains("complete -c meridian"), "{fish}");
    let refused = run(&["completions", "tcsh"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("possible values: bash"), "{refused:?}");
}

#[test]
fn the_man_page_renders_and_man_out_writes_a_page_per_command() {
    let page = stdout(&run(&["man"]));
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "roff: {}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH meridian 1"), "{page}");
    // `man -l -` renders it as a reader sees it.
    let mut man = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    if let Ok(child) = man.as_mut() {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
        let rendered = man.unwrap().wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
        assert!(text.contains("NAME") && text.contains("check-config"), "{text}");
    } else {
        assert!(std::env::var_os("CI").is_none(), "man is missing and CI is set");
        eprintln!("NOTICE: man not found; the page is checked as roff text only");
    }
    let dir = TempDir::new("install");
    let out = dir.path().join("man1");
    stdout(&run(&["man", "--out", out.to_str().unwrap()]));
    for page in ["meridian.1", "meridian-serve.1", "meridian-check-config.1", "meridian-ctl.1", "meridian-ctl-drain.1"]
    {
        let text = std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let blocked = dir.write("a-file", "");
    let refused = run(&["man", "--out", blocked.join("sub").to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot write man pages in"), "{refused:?}");
}
