//! Copies (issue 14): every file the tool writes is recorded as pending in the hash chain
//! before it exists and settled after, so a crash at any step leaves a record (or a
//! temporary name) that the close-out finds; the copy records and the program file are
//! checked by `audit verify`; an output never lands on the database or an input.

use crate::harness::*;
use std::path::{Path, PathBuf};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .collect();
    v.sort();
    v
}

fn with_steps() -> Env {
    let e = Env::with_roster();
    e.run(&["steps", "import", &e.sample("steps_long.csv")])
        .ok();
    e
}

/// Kill `args` at each named step (the hidden fault points of the file writer and of
/// `ship`); each time, the close-out without `--erase-exports` stops naming what is on
/// disk, and with it erases everything and certifies.
fn killed_at_every_step(setup: fn() -> Env, args: &[&str], out_dir: &str, points: &[&str]) {
    for point in points {
        let e = setup();
        let r = run_env(&e, &[("STEPCARD_FAULT", point)], args);
        assert_eq!(r.code, 86, "{point}: not killed there: {}", r.stderr);
        let left = files_in(&e.path(out_dir));
        let pending = e.count(
            "SELECT count(*) FROM audit_log WHERE detail LIKE '%\"status\":\"copy pending\"%'",
        );
        assert_eq!(
            pending, 1,
            "{point}: the copy was recorded before it existed"
        );
        e.run(&["audit", "verify"]).ok();
        if !left.is_empty() {
            let r = close_out(&e, &[]).refused();
            for f in &left {
                let name = f.file_name().unwrap().to_string_lossy();
                assert!(
                    r.stderr.contains(&*name),
                    "{point}: {name} not named: {}",
                    r.stderr
                );
            }
        }
        close_out(&e, &["--erase-exports"]).ok();
        assert!(
            files_in(&e.path(out_dir)).is_empty(),
            "{point}: left behind {:?}",
            files_in(&e.path(out_dir))
        );
    }
}

#[test]
fn an_export_killed_at_every_step_leaves_nothing_the_close_out_misses() {
    let setup = || {
        let e = with_steps();
        std::fs::create_dir(e.path("out")).unwrap();
        e
    };
    for out in ["out/s.csv", "out/s.xlsx"] {
        killed_at_every_step(
            setup,
            &["steps", "export", "--out", out],
            "out",
            &["write:pending", "write:temp", "write:renamed"],
        );
    }
}

/// A refused import's error report: its pending record is written once the import's
/// transaction is over, so it survives the rollback and a crash while the file is written.
#[test]
fn an_error_report_killed_at_every_step_leaves_nothing_the_close_out_misses() {
    let setup = || {
        let e = Env::with_roster();
        std::fs::create_dir(e.path("out")).unwrap();
        // An unknown participant: the sheet holds nobody's data, only the report matters
        // (a killed import never records its input; the scan is the backstop for that).
        e.write("bad.csv", "参加者番号,日付,歩数\nZ999999,2025-06-01,-5\n");
        e
    };
    for out in ["out/e.csv", "out/e.xlsx"] {
        killed_at_every_step(
            setup,
            &["steps", "import", "bad.csv", "--errors", out],
            "out",
            &["write:pending", "write:temp", "write:renamed"],
        );
    }
}

fn shipment_ready() -> Env {
    let e = with_steps();
    std::fs::create_dir(e.path("out")).unwrap();
    e.run(&[
        "steps",
        "import",
        &e.sample("steps_card.xlsx"),
        "--all-sheets",
    ])
    .ok();
    let orders = e.sample("orders.csv");
    e.run(&["orders", "import", &orders]);
    assert!(e.count("SELECT count(*) FROM orders WHERE status='accepted'") > 0);
    e
}

#[test]
fn a_shipment_killed_at_every_step_leaves_nothing_the_close_out_misses() {
    killed_at_every_step(
        shipment_ready,
        &["ship", "--out", "out/ship.xlsx"],
        "out",
        &["ship:committed", "write:temp", "write:renamed"],
    );
    // The pending record is in the shipment's transaction: killed after the commit, the
    // shipment is recorded and its copy pending, together.
    let e = shipment_ready();
    let r = run_env(
        &e,
        &[("STEPCARD_FAULT", "ship:committed")],
        &["ship", "--out", "out/ship.xlsx"],
    );
    assert_eq!(r.code, 86);
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 1);
    assert_eq!(
        e.count(
            "SELECT count(*) FROM audit_log WHERE command='ship' AND detail LIKE '%copy pending%'"
        ),
        1
    );
}

#[test]
fn a_deleted_copy_record_is_named_and_the_copy_still_erased() {
    let e = Env::with_roster();
    let elsewhere = tempfile::tempdir().unwrap();
    let roster = elsewhere.path().join("roster.csv");
    e.run(&["roster", "export", "--out", roster.to_str().unwrap()])
        .ok();
    e.conn().execute("DELETE FROM exports", []).unwrap();
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("複製の索引（exports）にありません");
    // The close-out stops on it (nothing erased) until the index is restored.
    close_out(&e, &["--erase-exports"]).refused();
    assert!(roster.exists());
    e.conn()
        .execute(
            "INSERT INTO exports(audit_seq, path, sha256, bytes, at) SELECT seq, json_extract(detail,'$.files[0].path'), json_extract(detail,'$.files[0].sha256'), json_extract(detail,'$.files[0].bytes'), at FROM audit_log WHERE command='roster export' AND detail LIKE '%\"files\":[{%'",
            [],
        )
        .unwrap();
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn a_forged_handler_is_refused_and_named() {
    let e = Env::with_roster();
    let text: String = e
        .conn()
        .query_row("SELECT value FROM meta WHERE key='program_toml'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let forged = format!("{text}\n[[handlers]]\nname = \"偽 太郎\"\nrole = \"responsible\"\n");
    e.conn()
        .execute(
            "UPDATE meta SET value=?1 WHERE key='program_toml'",
            [forged],
        )
        .unwrap();
    // The forged name has no key slot: refused before the database opens.
    e.run_as("偽 太郎", &["roster", "export", "--out", "r.csv"])
        .refused()
        .stderr_has("取扱者として指定されていません");
    assert!(!e.path("r.csv").exists());
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("プログラム");
}

#[test]
fn an_output_onto_the_database_or_an_input_is_refused() {
    let e = Env::with_roster();
    let db = e.db();
    let before = std::fs::read(&db).unwrap();
    let out = format!("{}.csv", db.display());
    std::fs::rename(&db, &out).unwrap();
    std::fs::rename(e.path("stepcard.db.keys"), format!("{out}.keys")).unwrap();
    // (the database under a .csv name, so the output's extension is accepted)
    let r = run_env(
        &e,
        &[("STEPCARD_DB", &out)],
        &["roster", "export", "--out", &out],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("出力先が、データベース"), "{}", r.stderr);
    std::fs::rename(&out, &db).unwrap();
    std::fs::rename(format!("{out}.keys"), e.path("stepcard.db.keys")).unwrap();
    assert_eq!(std::fs::read(&db).unwrap().len(), before.len());

    // --errors onto the sheet being imported.
    let sheet = e.write("bad.csv", "参加者番号,日付,歩数\nC000001,2025-10-01,-5\n");
    let keyed = std::fs::read(&sheet).unwrap();
    let r = e.run(&["steps", "import", "bad.csv", "--errors", "bad.csv"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("このコマンドが読むファイル"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&sheet).unwrap(), keyed);
}

#[test]
fn imported_source_files_stop_the_certificate_until_erased_as_imported() {
    let e = with_steps();
    let roster = e.path("samples/roster.csv");
    let steps = e.path("samples/steps_long.csv");
    // Without --erase-inputs: each sheet still on disk is named, no certificate.
    let r = e
        .run(&["close-out", "--return-dir", "ret", "--confirm", CONTRACT])
        .refused();
    for f in [&roster, &steps] {
        assert!(r.stderr.contains(&*f.display().to_string()), "{}", r.stderr);
    }
    assert!(r.stderr.contains("--erase-inputs"), "{}", r.stderr);
    assert!(!e.path("ret/消去証明書_R7-健-0123.xlsx").exists());
    // A sheet changed since it was imported is not the tool's to erase: still named.
    std::fs::write(&steps, "参加者番号,日付,歩数\n").unwrap();
    let r = close_out(&e, &[]).refused();
    assert!(
        r.stderr.contains("内容が変わって残っています"),
        "{}",
        r.stderr
    );
    assert!(!roster.exists(), "the sheet as imported is erased");
    std::fs::remove_file(&steps).unwrap();
    e.run(&["close-out", "--return-dir", "ret", "--confirm", CONTRACT])
        .ok();
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.path("ret/消去記録_R7-健-0123.json")).unwrap())
            .unwrap();
    let inputs = rec["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert!(inputs.iter().any(|i| i["status"] == "erased"));
}

/// Run `args`, read `keep` bytes of stdout (or stderr), then close the pipe, as `head`
/// does; the exit code.
fn closed_early(e: &Env, args: &[&str], from_stderr: bool, keep: usize) -> (i32, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut c = e.cmd();
    c.args(args);
    if from_stderr {
        c.stderr(Stdio::piped()).stdout(Stdio::null());
    } else {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = c.spawn().unwrap();
    let mut buf = vec![0u8; keep];
    {
        let mut pipe: Box<dyn Read> = if from_stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        pipe.read_exact(&mut buf).unwrap();
    }
    let mut err = String::new();
    if !from_stderr {
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
    }
    (child.wait().unwrap().code().unwrap_or(-1), err)
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let e = with_steps();
    let (code, err) = closed_early(&e, &["steps", "export"], false, 1);
    assert_eq!(code, 0, "steps export | head -1: {err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    let (code, err) = closed_early(&e, &["batches", "list"], false, 1);
    assert_eq!(code, 0, "batches list | head -c1: {err}");
    let demo = e.path("demo");
    let (code, _) = closed_early(&e, &["demo", "--out", demo.to_str().unwrap()], true, 10);
    assert_eq!(code, 0, "demo 2>&1 | head");
}

#[test]
fn terminal_messages_escape_control_characters_and_cut_long_values() {
    let e = Env::with_roster();
    let r = e
        .run_as("\u{1b}]0;pwned\u{7}\u{1b}[2J", &["batches", "list"])
        .refused();
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    assert!(r.stderr.contains("\\u{1b}]0;pwned"), "{:?}", r.stderr);
    let long = "あ".repeat(30_000);
    let r = e.run_as(&long, &["batches", "list"]).refused();
    assert!(
        r.stderr.chars().count() < 10_000,
        "{} chars",
        r.stderr.len()
    );
    assert!(r.stderr.contains("文字省略"), "{}", &r.stderr[..200]);
}

#[test]
fn a_write_that_fails_names_the_file_removes_the_temp_and_settles_the_record() {
    let e = with_steps();
    std::fs::create_dir(e.path("out")).unwrap();
    for out in ["out/s.csv", "out/s.xlsx"] {
        let r = run_env(
            &e,
            &[("STEPCARD_FAULT", "write:enospc")],
            &["steps", "export", "--out", out],
        );
        assert_eq!(r.code, 1, "{out}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("書き込めません: ディスクの空きがありません"),
            "{out}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(out), "{out}: {}", r.stderr);
        assert!(!r.stderr.contains("内部エラー"), "{out}: {}", r.stderr);
        assert!(
            files_in(&e.path("out")).is_empty(),
            "{out}: {:?}",
            files_in(&e.path("out"))
        );
    }
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%copy not written%'"),
        2
    );
    e.run(&["audit", "verify"]).ok();
}

#[cfg(unix)]
#[test]
fn a_database_readable_by_others_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::with_roster();
    std::fs::set_permissions(e.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    e.run(&["batches", "list"])
        .refused()
        .stderr_has("chmod 600")
        .stderr_has("644");
    std::fs::set_permissions(e.db(), std::fs::Permissions::from_mode(0o600)).unwrap();
    e.run(&["batches", "list"]).ok();
    // The sidecars SQLite made are owner-only too.
    for side in ["stepcard.db-wal", "stepcard.db-shm"] {
        if let Ok(m) = std::fs::metadata(e.path(side)) {
            assert_eq!(m.permissions().mode() & 0o077, 0, "{side}");
        }
    }
}

#[test]
fn verify_refuses_an_erasure_record_edited_after_the_certificate() {
    let e = Env::with_roster();
    close_out(&e, &[]).ok();
    let record = "ret/消去記録_R7-健-0123.json";
    let package = "ret/返還データ_R7-健-0123.zip";
    let certificate = "ret/消去証明書_R7-健-0123.xlsx";
    e.run(&["close-out", "--verify", record, "--package", package])
        .ok()
        .stdout_has("消去証明書の値と一致します");
    // Counts set to 0 and the erasure moved back a day: the package still matches
    // the record, but the record no longer matches the certificate.
    let text = std::fs::read_to_string(e.path(record)).unwrap();
    let edited = text.replace("\"records\": 60", "\"records\": 0").replacen(
        "\"erased_at\": \"20",
        "\"erased_at\": \"19",
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(e.path(record), &edited).unwrap();
    e.run(&["close-out", "--verify", record, "--package", package])
        .refused()
        .stderr_has("消去記録が書き換えられています");
    e.run(&[
        "close-out",
        "--verify",
        record,
        "--package",
        package,
        "--certificate",
        certificate,
    ])
    .refused()
    .stderr_has("消去記録が書き換えられています");
    let sha = {
        use sha2::{Digest, Sha256};
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    e.run(&[
        "close-out",
        "--verify",
        record,
        "--package",
        package,
        "--record-sha256",
        &sha,
    ])
    .refused();
    std::fs::write(e.path(record), &text).unwrap();
    e.run(&[
        "close-out",
        "--verify",
        record,
        "--package",
        package,
        "--record-sha256",
        &sha,
    ])
    .ok();
}

#[cfg(unix)]
#[test]
fn a_half_done_close_out_holds_through_any_path_and_resumes_only_on_what_was_packaged() {
    let packaged = || {
        let e = with_steps();
        let r = run_env(
            &e,
            &[("STEPCARD_FAULT", "close-out:packaged")],
            &[
                "close-out",
                "--return-dir",
                "ret",
                "--confirm",
                CONTRACT,
                "--erase-inputs",
            ],
        );
        assert_eq!(r.code, 86, "{}", r.stderr);
        e
    };
    let e = packaged();
    let alias = e.path("alias.db");
    std::os::unix::fs::symlink(e.db(), &alias).unwrap();
    let roster = e.sample("roster.csv");
    let r = run_env(
        &e,
        &[("STEPCARD_DB", alias.to_str().unwrap())],
        &["roster", "import", &roster, "--update"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("close-out）が途中です"), "{}", r.stderr);
    std::fs::remove_file(e.path("samples/roster.csv")).unwrap();
    close_out(&e, &[]).ok();

    // Changed behind the tool's back after packaging: nothing is erased.
    let e = packaged();
    e.conn()
        .execute(
            "UPDATE participants SET name='別人 です' WHERE id=(SELECT min(id) FROM participants)",
            [],
        )
        .unwrap();
    close_out(&e, &[])
        .refused()
        .stderr_has("返還データを作った後に変更されています");
    assert!(e.db().exists());
}
