//! Robustness: an import killed at any moment leaves the database whole and its batch
//! all there or not at all, and running it again completes it; four imports into one
//! database at once all land; the sheet readers never panic, whatever the bytes, and
//! read back exactly what was written.

use crate::harness::*;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// First day of the sample program's period (examples/program.toml).
const FIRST_DAY: (i32, u32, u32) = (2025, 5, 14);

fn pid(i: usize) -> String {
    format!("C{:05}", i + 1)
}

/// A roster of card participants `pid(0)..pid(n)`.
fn roster(n: usize) -> String {
    let mut s = String::from("参加者番号,氏名,郵便番号,住所,生年月日,性別,利用区分\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},試験 {i}号,160-0022,東京都新宿区新宿{}丁目1番1号,1960-04-0{},{},台紙\n",
            pid(i),
            i % 7 + 1,
            i % 9 + 1,
            if i % 2 == 0 { "男" } else { "女" }
        ));
    }
    s
}

/// The steps a participant keyed on a day (deterministic, 0..20000).
fn steps_of(i: usize, d: u32) -> u64 {
    (i as u64 * 7919 + u64::from(d) * 104_729) % 20_000
}

/// Long-layout steps for participants `ids`, `days` days from the program's first day.
fn long_steps(ids: std::ops::Range<usize>, days: u32) -> String {
    let (y, m, d) = FIRST_DAY;
    let first = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let dates: Vec<String> = (0..days)
        .map(|k| (first + chrono::Days::new(u64::from(k))).to_string())
        .collect();
    let mut s = String::from("参加者番号,日付,歩数\n");
    for i in ids {
        let p = pid(i);
        for (k, date) in dates.iter().enumerate() {
            s.push_str(&format!("{p},{date},{}\n", steps_of(i, k as u32)));
        }
    }
    s
}

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn integrity(e: &Env) -> String {
    e.conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// The database is whole and the file's batch is all there or not at all.
/// `true` when the batch is there.
#[track_caller]
fn all_or_nothing(e: &Env, sha: &str, rows: i64) -> bool {
    use rusqlite::OptionalExtension;
    assert_eq!(integrity(e), "ok");
    let conn = e.conn();
    let batch: Option<(i64, i64)> = conn
        .query_row(
            "SELECT id, inserted FROM batches WHERE kind='steps' AND sha256=?1",
            [sha],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap();
    let stored = e.count("SELECT count(*) FROM steps");
    match batch {
        Some((id, inserted)) => {
            assert_eq!(inserted, rows, "batch {id} records every row");
            assert_eq!(
                e.count(&format!("SELECT count(*) FROM steps WHERE batch_id={id}")),
                rows
            );
            assert_eq!(stored, rows);
            true
        }
        None => {
            assert_eq!(stored, 0, "no batch, yet rows are stored");
            assert_eq!(
                e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
                0
            );
            assert_eq!(e.count("SELECT count(*) FROM problems"), 0);
            false
        }
    }
}

fn spawn_import(e: &Env, file: &str) -> Child {
    e.cmd()
        .args(["--quiet", "steps", "import", file])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stepcard")
}

#[test]
fn an_import_killed_at_any_point_is_all_or_nothing_and_a_rerun_completes_it() {
    const PEOPLE: usize = 600;
    const DAYS: u32 = 300;
    let rows = (PEOPLE as i64) * i64::from(DAYS);
    let e = Env::init();
    e.write("roster.csv", &roster(PEOPLE));
    e.run(&["roster", "import", "roster.csv"]).ok();
    let file = e.write("big.csv", &long_steps(0..PEOPLE, DAYS));
    let sha = sha256_of(&file);

    // SIGKILL after growing delays: while the file is hashed, rows are inserted, the
    // transaction commits, the WAL is checkpointed. Stop once an import got through.
    let mut killed_mid_import = 0;
    for ms in [15, 40, 90, 180, 300, 450, 650, 900, 1300, 1800] {
        let mut child = spawn_import(&e, "big.csv");
        std::thread::sleep(Duration::from_millis(ms));
        let running = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        let landed = all_or_nothing(&e, &sha, rows);
        if running && !landed {
            killed_mid_import += 1;
        }
        if landed {
            break;
        }
    }
    assert!(
        killed_mid_import >= 2,
        "only {killed_mid_import} kill(s) hit a running import; the test proves nothing"
    );

    // Running it again completes it (or, if a kill came after the commit, says so).
    e.run(&["steps", "import", "big.csv"]).ok();
    assert!(all_or_nothing(&e, &sha, rows));
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps' AND status='committed'"),
        1
    );
    assert_eq!(
        e.steps(&pid(PEOPLE - 1), "2025-05-14"),
        Some(steps_of(PEOPLE - 1, 0) as i64)
    );
    e.run(&["steps", "import", "big.csv"])
        .ok()
        .stderr_has("取り込み済み");
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn four_imports_into_one_database_at_once_all_land() {
    const PEOPLE: usize = 400;
    const DAYS: u32 = 320;
    let e = Env::init();
    e.write("roster.csv", &roster(PEOPLE));
    e.run(&["roster", "import", "roster.csv"]).ok();
    let quarter = PEOPLE / 4;
    let names: Vec<String> = (0..4).map(|k| format!("part{k}.csv")).collect();
    for (k, name) in names.iter().enumerate() {
        e.write(name, &long_steps(k * quarter..(k + 1) * quarter, DAYS));
    }

    let mut children: Vec<Child> = names.iter().map(|n| spawn_import(&e, n)).collect();
    let mut running = 0;
    for c in children.iter_mut() {
        if c.try_wait().unwrap().is_none() {
            running += 1;
        }
    }
    assert!(
        running >= 2,
        "the imports did not overlap; the test proves nothing"
    );
    for (child, name) in children.into_iter().zip(&names) {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("locked"), "{name}: {stderr}");
    }

    let per_file = (quarter as i64) * i64::from(DAYS);
    assert_eq!(integrity(&e), "ok");
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps' AND inserted=rows_read"),
        4
    );
    assert_eq!(
        e.count(&format!(
            "SELECT count(*) FROM batches WHERE kind='steps' AND inserted={per_file}"
        )),
        4
    );
    assert_eq!(e.count("SELECT count(*) FROM steps"), 4 * per_file);
    for k in 0..4 {
        let last = (k + 1) * quarter - 1;
        assert_eq!(
            e.steps(&pid(last), "2025-05-14"),
            Some(steps_of(last, 0) as i64)
        );
    }
    // Every import has its audit entry and the chain holds.
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE command='steps import'"),
        4
    );
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn commands_finishing_at_once_each_record_their_audit_entry() {
    // Every command appends to the audit chain when it ends; six operators' commands
    // ending at the same moment must all get their entry, none refused on the chain.
    let e = Env::init();
    let before = e.count("SELECT count(*) FROM audit_log");
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..8 {
                    e.run(&["batches", "list"]).ok();
                }
            });
        }
    });
    assert_eq!(e.count("SELECT count(*) FROM audit_log"), before + 48);
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn the_same_file_imported_twice_at_once_lands_once() {
    // Two operators import the same sheet at the same moment: one batch, and the
    // other is told it is already imported (not a second, all-duplicate batch).
    const PEOPLE: usize = 100;
    let e = Env::init();
    e.write("roster.csv", &roster(PEOPLE));
    e.run(&["roster", "import", "roster.csv"]).ok();
    let file = e.write("same.csv", &long_steps(0..PEOPLE, 300));
    let sha = sha256_of(&file);
    let children: Vec<Child> = (0..2)
        .map(|_| {
            e.cmd()
                .args(["steps", "import", "same.csv"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut said = String::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        said.push_str(&stderr);
    }
    assert!(all_or_nothing(&e, &sha, (PEOPLE as i64) * 300));
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        1
    );
    assert!(said.contains("取り込み済み"), "{said}");
}
