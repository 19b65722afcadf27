//! Review of issue 14 through the binary: what a hostile or unlucky operator does, as
//! the issue lists it (real pipes, a cell holding terminal escapes, a 50 MB cell, an
//! export stopped by `ulimit -f`, the wider scan's forms planted on disk).

use crate::harness::*;
use std::path::Path;

/// Run `script` under bash (`$B` the binary) in the test's folder with the variables
/// `Env::cmd` sets; the script's exit code and stderr.
fn shell(e: &Env, script: &str) -> (i32, String) {
    let base = e.cmd();
    let mut c = std::process::Command::new("bash");
    c.arg("-c")
        .arg(script)
        .env("B", env!("CARGO_BIN_EXE_stepcard"));
    if let Some(dir) = base.get_current_dir() {
        c.current_dir(dir);
    }
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let o = c.output().expect("run bash");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn with_steps() -> Env {
    let e = Env::with_roster();
    e.run(&["steps", "import", &e.sample("steps_long.csv")])
        .ok();
    e
}

/// Case 9: through a real pipe, a reader that stops early (or never reads) ends the
/// command quietly: exit 0, no "Broken pipe", no panic (101), no abort (134).
#[test]
fn real_pipes_closed_early_end_the_command_quietly() {
    let e = with_steps();
    let mut failed = Vec::new();
    for script in [
        // 72 KB of steps: more than a pipe holds, so the writer meets the closed pipe.
        r#""$B" steps export | head -1 >/dev/null; exit ${PIPESTATUS[0]}"#,
        r#""$B" steps export | true; exit ${PIPESTATUS[0]}"#,
        r#""$B" batches list | head -c1 >/dev/null; exit ${PIPESTATUS[0]}"#,
        r#""$B" batches list | true; exit ${PIPESTATUS[0]}"#,
        r#""$B" demo --out demo1 2>&1 | head >/dev/null; exit ${PIPESTATUS[0]}"#,
        r#""$B" demo --out demo2 2>&1 | true; exit ${PIPESTATUS[0]}"#,
    ] {
        let (code, err) = shell(&e, script);
        if code != 0 || err.contains("Broken pipe") || err.contains("panicked") {
            failed.push(format!("{script}: exit {code}: {err}"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Case 9: a keyed cell holding terminal escapes is shown escaped on stderr (the
/// window title is not set, the screen not cleared), and a 50 MB cell is cut.
#[test]
fn a_cell_with_terminal_escapes_is_escaped_and_a_huge_cell_is_cut() {
    let e = Env::with_roster();
    e.write(
        "esc.csv",
        "参加者番号,日付,歩数\n\u{1b}]0;pwned\u{7}\u{1b}[2J,2025-10-01,5000\nC000001,2025-10-02,\u{1b}[2J\n",
    );
    let r = e.run(&["steps", "import", "esc.csv"]).refused();
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    let mut big = String::from("参加者番号,日付,歩数\n");
    big.push_str(&"X".repeat(50 << 20));
    big.push_str(",2025-10-01,5000\n");
    e.write("big.csv", &big);
    drop(big);
    let r = e.run(&["steps", "import", "big.csv"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.len() < 100_000,
        "{} bytes on stderr",
        r.stderr.len()
    );
}

/// 18,000 step rows (60 participants × 300 days): a 430 KB export, larger than the
/// database's own writes need, so a file-size limit can stop the export itself.
fn with_many_steps() -> Env {
    let e = Env::with_roster();
    let roster = std::fs::read(example("roster.csv")).unwrap();
    let (roster, _, _) = encoding_rs::SHIFT_JIS.decode(&roster);
    let mut csv = String::from("参加者番号,日付,歩数\n");
    for line in roster.lines().skip(4) {
        let id = line.split(',').next().unwrap_or("");
        if id.is_empty() {
            continue;
        }
        for day in 0..300 {
            let d =
                chrono::NaiveDate::from_ymd_opt(2025, 5, 14).unwrap() + chrono::Duration::days(day);
            csv.push_str(&format!("{id},{d},{}\n", 5000 + day));
        }
    }
    e.write("many.csv", &csv);
    e.run(&["steps", "import", "many.csv"]).ok();
    std::fs::remove_file(e.path("many.csv")).unwrap();
    e
}

/// Case 2: an export stopped by `ulimit -f` (SIGXFSZ) part-way through its temporary
/// file (300 KB) or after its rename, before it is settled (600 KB), leaves nothing the
/// close-out misses: it stops naming what is left, and `--erase-exports` erases it.
#[test]
fn an_export_stopped_by_ulimit_leaves_nothing_the_close_out_misses() {
    let mut left_temp = false;
    for limit_kb in [300, 600] {
        let e = with_many_steps();
        std::fs::create_dir(e.path("d")).unwrap();
        let (code, _) = shell(
            &e,
            &format!(r#"ulimit -f {limit_kb}; exec "$B" steps export --out d/s.csv"#),
        );
        assert_ne!(code, 0, "{limit_kb} KB cannot hold the 430 KB export");
        let left: Vec<_> = std::fs::read_dir(e.path("d"))
            .unwrap()
            .flatten()
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!left.is_empty(), "{limit_kb} KB: the export left nothing");
        left_temp |= left.iter().any(|f| f.contains("tmp"));
        let r = close_out(&e, &[]).refused();
        for f in &left {
            assert!(r.stderr.contains(f.as_str()), "{f}: {}", r.stderr);
        }
        assert!(!e.path("ret/消去証明書_R7-健-0123.xlsx").exists());
        e.run(&[
            "close-out",
            "--return-dir",
            "ret",
            "--confirm",
            CONTRACT,
            "--erase-exports",
        ])
        .ok();
        assert!(std::fs::read_dir(e.path("d")).unwrap().next().is_none());
    }
    assert!(
        left_temp,
        "one limit stops the export inside its temporary file"
    );
}

/// Case 6: each form the issue lists, planted on its own in a folder beside the
/// database, stops the certificate and is named.
#[test]
fn the_wider_scan_finds_each_form_through_the_binary() {
    use std::io::Write;
    let e = Env::with_roster();
    // C000001: イノウエ　ケイコ, 〒162-0041 東京都新宿区早稲田鶴巻町27番8号, 1956-07-10.
    std::fs::create_dir(e.path("old")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(example("roster.csv")).unwrap())
        .unwrap();
    e.write_bytes("old/roster.csv.gz", &gz.finish().unwrap());
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Enough text before the address that the stream is Huffman-coded, not stored:
    // the address is not in the file's bytes, only in the inflated stream.
    let page = "BT (page) Tj ET\n".repeat(200);
    z.write_all(format!("{page}BT (東京都新宿区早稲田鶴巻町27番8号) Tj ET").as_bytes())
        .unwrap();
    let mut pdf = b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode >>\nstream\r\n".to_vec();
    pdf.extend_from_slice(&z.finish().unwrap());
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    assert!(!pdf
        .windows("早稲田".len())
        .any(|w| w == "早稲田".as_bytes()));
    e.write_bytes("old/doc.pdf", &pdf);
    e.write("old/kana.txt", "memo ｲﾉｳｴ ｹｲｺ end");
    e.write(
        "old/addr.txt",
        "memo 東京都新宿区早稲田鶴巻町２７番８号 end",
    );
    e.write(
        "old/post.txt",
        "memo 〒162-0041 東京都新宿区早稲田鶴巻町27-8 end",
    );
    e.write("old/birth.txt", "memo 昭和31年7月10日 end");
    let names = [
        "roster.csv.gz",
        "doc.pdf",
        "kana.txt",
        "addr.txt",
        "post.txt",
        "birth.txt",
    ];
    let r = close_out(&e, &[]).refused();
    for n in names {
        assert!(r.stderr.contains(&format!("old/{n}")), "{n}: {}", r.stderr);
    }
    assert!(r.stderr.contains("old/doc.pdf!stream1"), "{}", r.stderr);
    assert!(r.stderr.contains("old/roster.csv.gz!gzip"), "{}", r.stderr);
    assert!(r.stderr.contains("6 件"), "{}", r.stderr);
    assert!(!Path::new(&e.path("ret/消去証明書_R7-健-0123.xlsx")).exists());
}

/// Case 9: a real write failure (the file-size limit, with SIGXFSZ ignored, so each
/// write fails as on a full disk) while the xlsx writer spills rows or saves the book
/// is a Japanese message naming the file, not a panic inside rust_xlsxwriter; the
/// temporary and spill files are removed and the pending record settled as not written.
#[test]
fn a_real_write_failure_of_an_xlsx_export_is_a_message_not_a_panic() {
    for (limit_kb, out) in [(300, "d/s.xlsx"), (600, "d/s.xlsx"), (300, "d/s.csv")] {
        let e = with_many_steps();
        std::fs::create_dir(e.path("d")).unwrap();
        let (code, err) = shell(
            &e,
            &format!(r#"trap '' XFSZ; ulimit -f {limit_kb}; exec "$B" steps export --out {out}"#),
        );
        assert_eq!(code, 1, "{limit_kb} KB {out}: {err}");
        assert!(
            err.contains(&format!(
                "{out}: 書き込めません: ファイルの大きさの上限を超えました"
            )),
            "{limit_kb} KB {out}: {err}"
        );
        assert!(!err.contains("内部エラー"), "{limit_kb} KB {out}: {err}");
        assert!(
            std::fs::read_dir(e.path("d")).unwrap().next().is_none(),
            "{limit_kb} KB {out}: temporary or spill files left"
        );
        assert_eq!(
            e.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%copy not written%'"),
            1,
            "{limit_kb} KB {out}"
        );
        e.run(&["audit", "verify"]).ok();
    }
}

/// Case 2: a real SIGTERM or SIGINT (Ctrl-C), sent once the export's temporary file is
/// on disk, leaves nothing the close-out misses.
#[cfg(unix)]
#[test]
fn an_export_stopped_by_sigterm_or_ctrl_c_leaves_nothing_the_close_out_misses() {
    use std::os::unix::process::ExitStatusExt;
    for signal in ["TERM", "INT"] {
        let mut hit = false;
        for _attempt in 0..5 {
            let e = with_many_steps();
            std::fs::create_dir(e.path("d")).unwrap();
            // Held at its temporary file (a hidden fault point), so the signal lands
            // while the export is writing, on a fast machine too.
            let mut child = e
                .cmd()
                .env("STEPCARD_FAULT", "write:temp:hold")
                .args(["steps", "export", "--out", "d/s.csv"])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = std::time::Instant::now();
            let temp_seen = loop {
                let seen = std::fs::read_dir(e.path("d"))
                    .unwrap()
                    .flatten()
                    .any(|f| f.file_name().to_string_lossy().contains("tmp"));
                if seen || started.elapsed().as_secs() > 20 {
                    break seen;
                }
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            };
            if temp_seen {
                let _ = std::process::Command::new("kill")
                    .args([&format!("-{signal}"), &child.id().to_string()])
                    .status();
            }
            let status = child.wait().unwrap();
            if status.signal().is_none() {
                continue; // finished before the signal: try again
            }
            hit = true;
            let left: Vec<_> = std::fs::read_dir(e.path("d"))
                .unwrap()
                .flatten()
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect();
            let r = close_out(&e, &[]);
            if !left.is_empty() {
                let r = r.refused();
                for f in &left {
                    assert!(r.stderr.contains(f.as_str()), "{signal} {f}: {}", r.stderr);
                }
                e.run(&[
                    "close-out",
                    "--return-dir",
                    "ret",
                    "--confirm",
                    CONTRACT,
                    "--erase-exports",
                ])
                .ok();
            } else {
                r.ok();
            }
            assert!(std::fs::read_dir(e.path("d")).unwrap().next().is_none());
            break;
        }
        assert!(hit, "SIG{signal} never landed while the export was writing");
    }
}
