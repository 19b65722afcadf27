//! The README's walkthrough, run as written: every command of its first shell block, in a
//! folder holding a copy of `examples/`, with `stepcard` on the PATH. The two commands the
//! README shows being refused (the bad sheet, the disagreeing keyings) must exit 1; every
//! other must succeed, and the close-out must leave the certificate and nothing to erase.

use crate::harness::*;
use std::path::Path;

/// The walkthrough's commands: the first ```sh block after its heading, continuation
/// lines joined, comments left out.
fn walkthrough_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## Walkthrough on `examples/`")
        .nth(1)
        .expect("README has the walkthrough");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a shell block");
    let mut out = Vec::new();
    let mut buf = String::new();
    for line in block.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            buf.push_str(cont);
            buf.push(' ');
            continue;
        }
        buf.push_str(line);
        out.push(std::mem::take(&mut buf));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let commands = walkthrough_commands();
    assert!(commands.len() > 20, "{commands:?}");
    let e = Env::new();
    copy_dir(&example("."), &e.path("examples"));
    let bin = e.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_stepcard"), bin.join("stepcard")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // One shell, so the `export`s hold for the commands after them; each command's exit
    // code is printed after it.
    let mut script = String::new();
    for (i, c) in commands.iter().enumerate() {
        script.push_str(c);
        script.push_str(&format!("\necho \"@@ {i} $?\"\n"));
    }
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(e.dir.path())
        .env("PATH", path)
        .env_remove("STEPCARD_DB")
        .env_remove("STEPCARD_OPERATOR")
        .env_remove("STEPCARD_PASSWORD_FILE")
        .env_remove("STEPCARD_NOW")
        .env("STEPCARD_TEST_CHEAP_KDF", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let codes: Vec<(usize, i32)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@@ "))
        .map(|l| {
            let mut it = l.split(' ');
            (
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes.len(), commands.len(), "{stdout}\n{stderr}");
    for (i, code) in codes {
        let c = &commands[i];
        let refused =
            c.contains("steps_bad.csv --errors") || c.contains("steps_verify_b.xlsx --out");
        let want = if refused { 1 } else { 0 };
        assert_eq!(code, want, "`{c}` exited {code}\n{stderr}");
    }
    let ret = e.path("return");
    assert!(ret.join("消去証明書_R7-健-0123.xlsx").exists(), "{stderr}");
    assert!(ret.join("消去証明書_R7-健-0123.pdf").exists(), "{stderr}");
    // Everything the tool read or wrote in work/ is gone: the sheets, the exports.
    let left: Vec<String> = walk(&e.path("work"))
        .into_iter()
        .filter(|p| !p.ends_with("password.txt") && !p.ends_with(".closeout.json"))
        .collect();
    assert!(left.is_empty(), "left in work/: {left:?}");
    // The repository's examples (here: their copy) are untouched.
    assert!(e.path("examples/roster.csv").exists());
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
