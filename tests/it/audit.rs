//! Audit and handling records: the hash chain names the entry that was edited, deleted or
//! moved; the handling-status report lists every copy made and what is on disk now; every
//! file the tool writes is owner-only; text never becomes a formula; personal values stay
//! off the terminal.

use crate::harness::*;
use sha2::{Digest, Sha256};
use std::path::Path;

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A database with five entries: init, roster import, the export's pending copy, roster
/// export, batches list.
fn five_entries() -> Env {
    let e = Env::with_roster();
    e.run(&["roster", "export", "--out", "名簿.csv"]).ok();
    e.run(&["batches", "list"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM audit_log"), 5);
    e
}

fn hash_of(e: &Env, seq: i64) -> String {
    e.conn()
        .query_row("SELECT hash FROM audit_log WHERE seq=?1", [seq], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Every file inside an .xlsx (zip) whose name starts with `prefix`, as text.
fn xlsx_parts(path: &Path, prefix: &str) -> Vec<(String, String)> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name.starts_with(prefix) {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            out.push((name, s));
        }
    }
    assert!(!out.is_empty(), "no {prefix} in {}", path.display());
    out
}

#[track_caller]
fn assert_no_formula(path: &Path) {
    for (name, xml) in xlsx_parts(path, "xl/worksheets/sheet") {
        assert!(
            !xml.contains("<f>") && !xml.contains("<f "),
            "{name} of {} has a formula",
            path.display()
        );
    }
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

// ---- the chain ----------------------------------------------------------------------

#[test]
fn audit_verify_prints_the_head_hash() {
    let e = five_entries();
    let r = e.run(&["audit", "verify"]).ok();
    assert!(
        r.stdout.contains("監査ログ: 5 件、連鎖は正常です"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("先頭ハッシュ (head): {}", hash_of(&e, 5))),
        "{}",
        r.stdout
    );
    // The verification is itself recorded, and the chain moves on.
    let r = e.run(&["audit"]).ok();
    assert!(r.stdout.contains(&hash_of(&e, 6)), "{}", r.stdout);
}

#[test]
fn an_edited_entry_is_named() {
    let e = five_entries();
    let changed = e
        .conn()
        .execute(
            "UPDATE audit_log SET detail=replace(detail, '\"inserted\":60', '\"inserted\":59') WHERE seq=2",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("記録 2 の内容が書き換えられています")
        .stderr_has("audit chain broken at entry 2");
}

#[test]
fn a_deleted_entry_is_named_in_the_middle_and_at_the_end() {
    let e = five_entries();
    e.conn()
        .execute("DELETE FROM audit_log WHERE seq=2", [])
        .unwrap();
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("記録 2 がありません（削除されています）")
        .stderr_has("entry 2");

    // The last entry leaves a valid, shorter chain: the control values catch it.
    let e = five_entries();
    e.conn()
        .execute("DELETE FROM audit_log WHERE seq=5", [])
        .unwrap();
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("最後の記録 5 が削除されています")
        .stderr_has("audit chain broken at entry 5");
    // Later commands continue from the recorded end, so the gap stays visible.
    e.run(&["batches", "list"]).ok();
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("記録 5 がありません（削除されています）")
        .stderr_has("audit chain broken at entry 5");
}

#[test]
fn a_reordered_entry_is_named() {
    let e = five_entries();
    e.conn()
        .execute_batch(
            "UPDATE audit_log SET seq=100 WHERE seq=2; UPDATE audit_log SET seq=2 WHERE seq=3; \
             UPDATE audit_log SET seq=3 WHERE seq=100;",
        )
        .unwrap();
    e.run(&["audit", "verify"])
        .refused()
        .stderr_has("記録 2 の位置に元の記録 3 があります")
        .stderr_has("audit chain broken at entry 2");
}

#[test]
fn commands_finishing_together_each_get_an_entry() {
    let e = Env::with_roster();
    let children: Vec<_> = (0..6)
        .map(|_| {
            e.cmd()
                .args(["batches", "list"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(e.count("SELECT count(*) FROM audit_log"), 8);
    e.run(&["audit", "verify"])
        .ok()
        .stdout_has("監査ログ: 8 件");
}

// ---- the handling-status report -------------------------------------------------------

#[test]
fn the_handling_report_lists_every_copy_and_its_state_on_disk() {
    let e = Env::with_roster();
    e.run(&[
        "steps",
        "import",
        example("steps_long.csv").to_str().unwrap(),
    ])
    .ok();
    e.run(&["roster", "export", "--out", "名簿.csv"]).ok();
    e.run(&["steps", "export", "--out", "gone.xlsx"]).ok();
    e.run(&["steps", "export", "--out", "changed.csv"]).ok();
    std::fs::remove_file(e.path("gone.xlsx")).unwrap();
    std::fs::write(e.path("changed.csv"), "edited by hand\n").unwrap();
    let before = e.count("SELECT max(seq) FROM audit_log");

    e.run(&["audit", "--out", "取扱状況報告.xlsx"])
        .ok()
        .stderr_has(
            "取扱状況報告を書き出しました（操作 9 件、複製 3 件、うち現在ディスク上 2 件）",
        );
    let report = e.path("取扱状況報告.xlsx");

    let copies = read_xlsx(&report, "複製記録");
    assert_eq!(
        copies[0],
        [
            "記録",
            "日時",
            "操作者",
            "操作",
            "ファイル名",
            "場所（フォルダ）",
            "バイト数",
            "SHA-256",
            "現在の有無",
            "内容",
            "備考"
        ]
    );
    let row = |name: &str| {
        copies
            .iter()
            .find(|r| r.get(4).map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in 複製記録: {copies:?}"))
            .clone()
    };
    let roster = row("名簿.csv");
    let dir = std::fs::canonicalize(e.dir.path()).unwrap();
    assert_eq!(roster[2], OPERATOR);
    assert_eq!(roster[3], "名簿の書出し（roster export）");
    assert_eq!(
        std::fs::canonicalize(&roster[5]).unwrap(),
        dir,
        "folder of the copy"
    );
    assert_eq!(
        roster[6],
        std::fs::metadata(e.path("名簿.csv"))
            .unwrap()
            .len()
            .to_string()
    );
    assert_eq!(roster[7], sha256_of(&e.path("名簿.csv")));
    assert_eq!(&roster[8..], ["あり", "一致", "出力時のまま残っています"]);
    assert_eq!(
        &row("gone.xlsx")[8..],
        ["なし", "—", "削除済みか移動されています"]
    );
    assert_eq!(
        &row("changed.csv")[8..],
        ["あり", "不一致", "出力後に内容が変わっています"]
    );

    // 概要: the chain as it stood before this report's own entry.
    let overview = read_xlsx(&report, "概要");
    let field = |label: &str| {
        overview
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(label))
            .unwrap_or_else(|| panic!("{label} not in 概要: {overview:?}"))[1]
            .clone()
    };
    assert_eq!(field("先頭ハッシュ（SHA-256）"), hash_of(&e, before));
    assert!(field("監査ログの状態").starts_with("正常"));
    assert_eq!(field("取扱責任者"), "山田 太郎");
    assert_eq!(field("取扱者"), "佐藤 花子");
    assert_eq!(field("報告者（操作者）"), OPERATOR);
    assert_eq!(field("契約番号"), "R7-健-0123");

    let ops = read_xlsx(&report, "操作記録");
    assert_eq!(ops.len() as i64, before + 1, "one row per entry: {ops:?}");
    assert_eq!(ops[2][3], "名簿の取込み（roster import）");
    assert_eq!(ops[2][4], "完了");
    assert!(
        ops[2][5].starts_with("取込み番号 1、読んだ行 60、追加 60"),
        "{}",
        ops[2][5]
    );
    assert_eq!(ops[4][4], "複製の書出し予定");
    assert_eq!(ops[5][7], "名簿.csv");

    let held = read_xlsx(&report, "保有件数");
    let count = |table: &str| {
        held.iter()
            .find(|r| r.get(1).map(String::as_str) == Some(table))
            .unwrap_or_else(|| panic!("{table} not in 保有件数"))[2]
            .clone()
    };
    assert_eq!(count("participants"), "60");
    assert_eq!(count("steps"), "3010");
    assert_eq!(count("audit_log"), before.to_string());

    // The report is itself a copy, recorded with its hash.
    let (cmd, detail): (String, String) = e
        .conn()
        .query_row(
            "SELECT command, detail FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(cmd, "audit");
    assert!(detail.contains(&sha256_of(&report)), "{detail}");
    assert_eq!(
        e.count("SELECT count(*) FROM exports WHERE path LIKE '%取扱状況報告.xlsx'"),
        1
    );

    // No personal data in any cell, and no formula anywhere.
    let conn = e.conn();
    let mut stmt = conn
        .prepare("SELECT name, address, phone, birth_date FROM participants ORDER BY id")
        .unwrap();
    let personal: Vec<String> = stmt
        .query_map([], |r| {
            Ok([
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            ])
        })
        .unwrap()
        .flat_map(|r| r.unwrap())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(personal.len() > 100, "{}", personal.len());
    for sheet in ["概要", "操作記録", "複製記録", "保有件数"] {
        for r in read_xlsx(&report, sheet) {
            for cell in r {
                for p in &personal {
                    assert!(!cell.contains(p.as_str()), "{sheet}: {cell:?} holds {p:?}");
                }
            }
        }
    }
    assert_no_formula(&report);
}

#[test]
fn a_report_on_a_broken_chain_says_so_and_exits_1() {
    let e = five_entries();
    e.conn()
        .execute("DELETE FROM audit_log WHERE seq=4", [])
        .unwrap();
    e.run(&["audit", "--out", "report.xlsx"])
        .refused()
        .stderr_has("記録 4 がありません");
    let overview = read_xlsx(&e.path("report.xlsx"), "概要");
    let state = overview.iter().find(|r| r[0] == "監査ログの状態").unwrap()[1].clone();
    assert!(
        state.starts_with("異常: 記録 4 で連鎖が切れています"),
        "{state}"
    );
    // The gap has its own row, and the copy that entry made is still reported, from the
    // exports index.
    let ops = read_xlsx(&e.path("report.xlsx"), "操作記録");
    assert_eq!(
        ops[4][..2],
        ["4", "記録 4 がありません（削除されています）"]
    );
    let copies = read_xlsx(&e.path("report.xlsx"), "複製記録");
    let roster = copies.iter().find(|r| r[4] == "名簿.csv").unwrap();
    assert_eq!(roster[0], "4");
    assert_eq!(
        roster[10],
        "監査ログに記録 4 の記載がありません（索引にのみ残っています）"
    );
}

#[test]
fn the_report_is_xlsx_only_and_never_the_database() {
    let e = Env::init();
    e.run(&["audit", "--out", "report.csv"])
        .usage()
        .stderr_has("取扱状況報告は .xlsx で書き出します");
    e.run(&["audit", "verify", "--out", "report.xlsx"]).usage();
    std::fs::rename(e.db(), e.path("db.xlsx")).unwrap();
    std::fs::rename(e.path("stepcard.db.keys"), e.path("db.xlsx.keys")).unwrap();
    let o = e
        .cmd()
        .env("STEPCARD_DB", e.path("db.xlsx"))
        .args(["audit", "--out", "db.xlsx"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let still: i64 = open_keyed(&e.path("db.xlsx"))
        .query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert!(still >= 3, "the database is intact");
}

// ---- owner-only files -----------------------------------------------------------------

#[cfg(unix)]
mod modes {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// The command under `umask 000`, so only the tool's own choice of mode protects
    /// the files it creates.
    fn open_umask(e: &Env, args: &[&str]) -> Command {
        let harness = e.cmd();
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg("umask 000; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_stepcard"))
            .args(args)
            .current_dir(e.dir.path());
        // The same environment the harness gives the tool (database, operator).
        for (k, v) in harness.get_envs() {
            match v {
                Some(v) => sh.env(k, v),
                None => sh.env_remove(k),
            };
        }
        sh
    }

    fn run_umask(e: &Env, args: &[&str]) -> (i32, String) {
        let o = open_umask(e, args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p)
            .unwrap_or_else(|err| panic!("{}: {err}", p.display()))
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn every_file_the_tool_writes_is_owner_only() {
        let e = Env::new();
        e.write("program.toml", PROGRAM);
        let ok = |args: &[&str]| {
            let (code, err) = run_umask(&e, args);
            assert_eq!(code, 0, "{args:?}: {err}");
        };
        let refused = |args: &[&str]| {
            let (code, err) = run_umask(&e, args);
            assert_eq!(code, 1, "{args:?}: {err}");
        };
        ok(&["init", "--program", "program.toml"]);
        ok(&["roster", "import", example("roster.csv").to_str().unwrap()]);
        let bad = example("steps_bad.csv");
        let bad = bad.to_str().unwrap();
        refused(&["steps", "import", bad, "--errors", "e.csv"]);
        refused(&["steps", "import", bad, "--errors", "e.xlsx"]);
        ok(&["steps", "import", bad, "--partial"]);
        ok(&[
            "batches",
            "show",
            "2",
            "--rejected",
            "--out",
            "rejected.csv",
        ]);
        ok(&["roster", "export", "--out", "r.csv"]);
        ok(&["roster", "export", "--out", "r.xlsx"]);
        ok(&["steps", "export", "--out", "s.xlsx"]);
        // A file that was there, readable by all, is replaced by an owner-only one.
        e.write("old.csv", "old\n");
        std::fs::set_permissions(e.path("old.csv"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        ok(&["steps", "export", "--out", "old.csv"]);
        ok(&["audit", "--out", "a.xlsx"]);

        let written = [
            "stepcard.db",
            "e.csv",
            "e.xlsx",
            "rejected.csv",
            "r.csv",
            "r.xlsx",
            "s.xlsx",
            "old.csv",
            "a.xlsx",
        ];
        for name in written {
            assert_eq!(mode(&e.path(name)), 0o600, "{name}");
        }
        // Nothing else was left behind (temporary files of the atomic write, xlsx spills).
        let mut left: Vec<String> = std::fs::read_dir(e.dir.path())
            .unwrap()
            .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "program.toml" && !written.contains(&n.as_str()))
            // The key slots are the database's own (owner-only, checked with it).
            .filter(|n| n != "stepcard.db.keys")
            .collect();
        left.sort();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn the_database_journal_files_are_owner_only() {
        let e = Env::new();
        e.write("program.toml", PROGRAM);
        assert_eq!(run_umask(&e, &["init", "--program", "program.toml"]).0, 0);
        e.run(&["roster", "import", example("roster.csv").to_str().unwrap()])
            .ok();
        e.run(&[
            "steps",
            "import",
            example("steps_long.csv").to_str().unwrap(),
        ])
        .ok();
        e.run(&[
            "steps",
            "import",
            example("steps_card.xlsx").to_str().unwrap(),
            "--all-sheets",
        ])
        .ok();
        // A steps export to a pipe nobody reads yet: the tool holds the database open,
        // with its -wal and -shm, until the pipe is drained (the export is larger than a
        // pipe's buffer).
        let child = open_umask(&e, &["steps", "export"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let shm = e.path("stepcard.db-shm");
        let wal = e.path("stepcard.db-wal");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !(shm.exists() && wal.exists()) {
            assert!(
                std::time::Instant::now() < deadline,
                "the -wal and -shm files never appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(mode(&e.db()), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(mode(&shm), 0o600);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout.len() > 65536, "the export must outgrow a pipe");
    }
}

// ---- formula safety -----------------------------------------------------------------------

#[test]
fn formula_text_stays_text_in_xlsx_and_is_neutralized_in_csv() {
    let e = Env::init();
    e.run(&[
        "roster",
        "import",
        fixture("roster_formula_text.csv").to_str().unwrap(),
    ])
    .ok();
    let name: String = e
        .conn()
        .query_row(
            "SELECT name FROM participants WHERE id='F000001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "=HYPERLINK(\"http://x\",\"y\")", "stored as keyed");

    e.run(&["roster", "export", "--out", "r.xlsx"]).ok();
    let x = e.path("r.xlsx");
    assert_no_formula(&x);
    let rows = read_xlsx(&x, "名簿");
    assert_eq!(rows[1][1], "=HYPERLINK(\"http://x\",\"y\")");
    // Formula-like text sits in 方書: a 住所 must agree with its 郵便番号 to be taken.
    assert_eq!(rows[1][5], "@SUM(A1)");
    assert_eq!(rows[3][5], "=1+2");

    e.run(&["roster", "export", "--out", "r.csv"]).ok();
    let rows = csv_rows(&e.path("r.csv"));
    assert_eq!(
        rows[1][..10],
        [
            "F000001",
            "'=HYPERLINK(\"http://x\",\"y\")",
            "イコール",
            "160-0022",
            "東京都新宿区新宿1-1",
            "'@SUM(A1)",
            "1960-04-01",
            "",
            "女",
            "03-1234-5678"
        ]
    );
    assert_eq!(rows[2][1], "'-山田 花子");
    assert_eq!(rows[2][7], "70", "a number stays a number");
    assert_eq!(rows[3][1], "'+佐藤 一郎");
    assert_eq!(rows[3][5], "'=1+2");
}

#[test]
fn formula_text_in_an_error_report_stays_text() {
    let e = Env::with_roster();
    let f = fixture("steps_formula_text.csv");
    let f = f.to_str().unwrap();
    e.run(&["steps", "import", f, "--errors", "e.csv"])
        .refused();
    let rows = csv_rows(&e.path("e.csv"));
    let raws: Vec<&str> = rows[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(raws, ["'=1+1", "'@2025-06-02", "abc"]);
    e.run(&["steps", "import", f, "--errors", "e.xlsx"])
        .refused();
    assert_no_formula(&e.path("e.xlsx"));
    let rows = read_xlsx(&e.path("e.xlsx"), "誤り");
    assert_eq!(rows[1][5], "=1+1");
}

// ---- personal data off the terminal ---------------------------------------------------------

#[test]
fn personal_values_stay_off_the_terminal_but_reach_the_requested_report() {
    let e = Env::init();
    let f = fixture("roster_personal_errors.csv");
    let f = f.to_str().unwrap();
    let secrets = [
        "秘密 花子",
        "ひみつX",
        "12345",
        "秘密町",
        "1960-13-45",
        "03-ABCD-9999",
    ];
    let r = e
        .run(&["roster", "import", f, "--errors", "e.csv"])
        .refused()
        .stderr_has("phone.invalid")
        .stderr_has("birth_date.invalid")
        .stderr_has("個人情報の値は画面に出しません")
        // Not personal: the operator still sees what was keyed.
        .stderr_has("「不明」");
    for s in secrets {
        assert!(!r.stderr.contains(s), "stderr shows {s:?}:\n{}", r.stderr);
        assert!(!r.stdout.contains(s), "stdout shows {s:?}");
    }
    let report = std::fs::read_to_string(e.path("e.csv")).unwrap();
    for s in ["ひみつX", "12345", "1960-13-45", "03-ABCD-9999"] {
        assert!(report.contains(s), "the --errors report lacks {s:?}");
    }

    let r = e.run(&["roster", "import", f, "--partial"]).ok();
    for s in secrets {
        assert!(!r.stderr.contains(s), "stderr shows {s:?}:\n{}", r.stderr);
    }
    let r = e
        .run(&["batches", "show", "1"])
        .ok()
        .stdout_has("phone.invalid")
        .stdout_has("個人情報の値は画面に出しません");
    for s in secrets {
        assert!(
            !r.stdout.contains(s),
            "batches show prints {s:?}:\n{}",
            r.stdout
        );
    }
    // The audit log holds counts, never the values.
    let conn = e.conn();
    let mut stmt = conn
        .prepare("SELECT detail FROM audit_log ORDER BY seq")
        .unwrap();
    for d in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let d = d.unwrap();
        for s in secrets {
            assert!(!d.contains(s), "audit detail holds {s:?}: {d}");
        }
    }
}
