//! Close-out: the return package against the database, erasure, the remnant scan, the
//! erasure record and certificate, resumption after a crash, and `--verify`.

use crate::harness::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const PACKAGE: &str = "ret/返還データ_R7-健-0123.zip";
const RECORD: &str = "ret/消去記録_R7-健-0123.json";
const CERTIFICATE: &str = "ret/消去証明書_R7-健-0123.xlsx";

/// How a test changes a package entry: new bytes, or `None` to leave it out.
type Change<'a> = &'a dyn Fn(&str, &[u8]) -> Option<Vec<u8>>;

/// Roster, steps and a changed participant (so the history table is not empty).
fn full_env() -> Env {
    let e = Env::with_roster();
    e.run(&["steps", "import", &e.sample("steps_long.csv")])
        .ok();
    e
}

/// Every personal value stored, for the checks that they are gone.
struct Personal {
    ids: Vec<String>,
    /// Names, kana, phones, e-mails, addresses and birth dates, with the spellings a
    /// copy may have (no space, full-width space, phone digits only).
    values: Vec<String>,
}

fn personal(e: &Env) -> Personal {
    let c = e.conn();
    let mut stmt = c
        .prepare("SELECT id, name, name_kana, phone, email, address, birth_date FROM participants ORDER BY id")
        .unwrap();
    let mut ids = Vec::new();
    let mut values = Vec::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((0..7)
                .map(|i| r.get::<_, Option<String>>(i).unwrap())
                .collect::<Vec<_>>())
        })
        .unwrap();
    for row in rows {
        let row = row.unwrap();
        ids.push(row[0].clone().unwrap());
        for v in row.into_iter().skip(1).flatten() {
            values.push(v.replace(' ', ""));
            values.push(v.replace(' ', "\u{3000}"));
            values.push(v.chars().filter(|c| *c != '-').collect());
            values.push(v);
        }
    }
    values.retain(|v| v.chars().count() >= 4);
    Personal { ids, values }
}

/// Every file under `dir` (recursively), except under `skip`.
fn files_under(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.starts_with(skip) {
            continue;
        }
        if p.is_dir() {
            files_under(&p, skip, out);
        } else {
            out.push(p);
        }
    }
}

fn zip_entries(path: &Path, password: Option<&str>) -> Vec<(String, Vec<u8>, zip::DateTime, bool)> {
    let mut ar = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..ar.len() {
        let mut f = match password {
            Some(pw) => ar.by_index_decrypt(i, pw.as_bytes()).unwrap(),
            None => ar.by_index(i).unwrap(),
        };
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((
            f.name().unwrap().to_string(),
            data,
            f.last_modified().unwrap(),
            f.encrypted(),
        ));
    }
    out
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "CSV starts with a BOM for Excel"
    );
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn wrong_confirmation_or_handler_is_refused() {
    let e = Env::with_roster();
    e.run(&["close-out", "--return-dir", "ret", "--confirm", "R7-健-9999"])
        .refused()
        .stderr_has("--confirm の契約番号「R7-健-9999」が、このデータベースの契約番号「R7-健-0123」と一致しません");
    e.add_handler("佐藤 花子");
    e.run_as(
        "佐藤 花子",
        &["close-out", "--return-dir", "ret", "--confirm", CONTRACT],
    )
    .refused()
    .stderr_has("契約終了の手続き（返還・消去・証明書）は取扱責任者が行います: 山田 太郎");
    assert!(e.db().exists());
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
    assert!(!e.path(PACKAGE).exists());
    assert!(!e.path("stepcard.db.closeout.json").exists());
    // Both refusals are in the audit log, and it still verifies.
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE command='close-out' AND detail LIKE '%\"status\":\"refused\"%'"),
        2
    );
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn the_package_holds_every_table_as_the_database_does() {
    let e = full_env();
    // A changed participant, so the history table has a row too.
    e.write(
        "update.csv",
        "参加者番号,氏名,郵便番号,住所,年齢,電話番号\nC000001,井上 恵子,1620041,東京都新宿区早稲田鶴巻町1,69,03-1111-2222\n",
    );
    e.run(&["roster", "import", "update.csv", "--update"]).ok();
    std::fs::remove_file(e.path("update.csv")).unwrap();
    // What the database holds, read before close-out, in the package's order.
    let c = e.conn();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let participants: Vec<Vec<String>> = c
        .prepare("SELECT * FROM participants ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((0..14)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                    other => panic!("unexpected {other:?}"),
                })
                .collect())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let counts: BTreeMap<String, i64> = tables
        .iter()
        .map(|t| (t.clone(), e.count(&format!("SELECT count(*) FROM \"{t}\""))))
        .collect();
    drop(c);
    assert_eq!(counts["participant_history"], 1);

    let r = run_env(
        &e,
        &[("STEPCARD_NOW", "2026-03-31T17:30:00+09:00")],
        &[
            "close-out",
            "--return-dir",
            "ret",
            "--confirm",
            CONTRACT,
            "--erase-inputs",
        ],
    )
    .ok();
    assert!(r.stdout.contains("返還データ_R7-健-0123.zip"));

    let entries = zip_entries(&e.path(PACKAGE), None);
    let names: Vec<&str> = entries.iter().map(|(n, ..)| n.as_str()).collect();
    let mut want: Vec<String> = tables.iter().map(|t| format!("{t}.csv")).collect();
    want.push("README.txt".into());
    want.push("manifest.json".into());
    assert_eq!(
        names, want,
        "tables in name order, then README and manifest"
    );
    for (name, _, time, encrypted) in &entries {
        assert_eq!(
            (
                time.year(),
                time.month(),
                time.day(),
                time.hour(),
                time.minute()
            ),
            (2026, 3, 31, 0, 0),
            "{name}: fixed time, the program's last day"
        );
        assert!(!encrypted);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&entries.last().unwrap().1).unwrap();
    // The last audit row in the package is the close-out's own, and its hash is the
    // manifest's head.
    let audit = csv_rows(
        &entries
            .iter()
            .find(|(n, ..)| n == "audit_log.csv")
            .unwrap()
            .1,
    );
    let last = audit.last().unwrap();
    assert_eq!(last[3], "close-out");
    assert_eq!(last[6], manifest["audit"]["head"].as_str().unwrap());
    for f in manifest["files"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let (_, data, ..) = entries.iter().find(|(n, ..)| n == name).unwrap();
        assert_eq!(f["sha256"].as_str().unwrap(), sha256(data), "{name}");
        assert_eq!(f["bytes"].as_u64().unwrap(), data.len() as u64, "{name}");
        if let Some(t) = f["table"].as_str() {
            let rows = csv_rows(data);
            // The close-out's own audit entry and its start (in meta) are in the package.
            let expected = counts[t] + i64::from(t == "audit_log" || t == "meta");
            assert_eq!(f["records"].as_i64().unwrap(), expected, "{name}");
            assert_eq!(rows.len() as i64 - 1, expected, "{name}: rows in the file");
        }
    }
    let (_, data, ..) = entries
        .iter()
        .find(|(n, ..)| n == "participants.csv")
        .unwrap();
    let rows = csv_rows(data);
    assert_eq!(rows[0][..3], ["id", "name", "name_kana"]);
    assert_eq!(
        rows[1..],
        participants[..],
        "participants.csv is the table, row for row"
    );
    let (_, data, ..) = entries.iter().find(|(n, ..)| n == "steps.csv").unwrap();
    let steps = csv_rows(data);
    assert_eq!(steps.len() as i64 - 1, counts["steps"]);
    assert!(
        steps[1..]
            .windows(2)
            .all(|w| (&w[0][0], &w[0][1]) < (&w[1][0], &w[1][1])),
        "steps in key order"
    );
}

#[test]
fn close_out_leaves_no_remnant_and_the_certificate_says_so() {
    let e = full_env();
    let elsewhere = tempfile::tempdir().unwrap();
    let out_csv = elsewhere.path().join("steps_export.csv");
    std::fs::create_dir(e.path("work")).unwrap();
    e.run(&["roster", "export", "--out", "work/roster.xlsx"])
        .ok();
    e.run(&["steps", "export", "--out", out_csv.to_str().unwrap()])
        .ok();
    // A file no one exported but that holds no personal data stays and is scanned.
    e.write("work/notes.txt", "引継ぎメモ: 特になし\n");
    let people = personal(&e);

    close_out(&e, &["--erase-exports"]).ok();
    for f in [
        "stepcard.db",
        "stepcard.db-wal",
        "stepcard.db-shm",
        "stepcard.db-journal",
        "work/roster.xlsx",
    ] {
        assert!(!e.path(f).exists(), "{f} erased");
    }
    assert!(
        !out_csv.exists(),
        "the export outside the database's folder is erased too"
    );
    assert!(e.path("work/notes.txt").exists());
    assert!(e.path(CERTIFICATE).exists() && e.path(RECORD).exists());

    let rec = json(&e.path(RECORD));
    let scan = &rec["verification"]["scan"];
    assert_eq!(scan["hits"], 0);
    assert!(scan["values"].as_u64().unwrap() >= 120, "{scan}");
    assert!(
        scan["files"].as_u64().unwrap() >= 2,
        "state file and notes at least: {scan}"
    );
    assert_eq!(
        rec["verification"]["database_after_logical_erasure"]["hits"],
        0
    );
    let statuses: Vec<&str> = rec["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["erased", "erased"]);
    assert_eq!(rec["erased_files"][0]["role"], "データベース本体");

    // Independently of the tool's own scan: nothing left holds a participant's value.
    let mut files = Vec::new();
    files_under(e.dir.path(), &e.path("ret"), &mut files);
    files_under(elsewhere.path(), &e.path("ret"), &mut files);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for v in people.values.iter().chain(&people.ids) {
            assert!(!text.contains(v.as_str()), "{} holds {v}", f.display());
        }
    }
    // And the data is all in the package.
    let entries = zip_entries(&e.path(PACKAGE), None);
    let participants = String::from_utf8(
        entries
            .iter()
            .find(|(n, ..)| n == "participants.csv")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(people
        .ids
        .iter()
        .all(|id| participants.contains(id.as_str())));
}

#[test]
fn a_planted_remnant_blocks_the_certificate_until_it_is_gone() {
    let e = Env::with_roster();
    let people = personal(&e);
    let name = e
        .conn()
        .query_row(
            "SELECT name FROM participants WHERE id='C000001'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    std::fs::create_dir(e.path("old")).unwrap();
    // A copy saved by hand in CP932 (Excel's CSV), one in UTF-16 (a Windows text file).
    e.write_cp932(
        "old/名簿の写し.csv",
        &format!("番号,氏名\nC000001,{}\n", name.replace(' ', "\u{3000}")),
    );
    let utf16: Vec<u8> = format!("memo {}", people.values[0])
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    e.write_bytes("old/memo.txt", &utf16);

    let r = close_out(&e, &[]).refused();
    assert!(r.stderr.contains("消去後の検査で、参加者の情報が残っているファイルが 2 件見つかりました。消去証明書は作成していません"), "{}", r.stderr);
    assert!(
        r.stderr.contains("old/名簿の写し.csv: ") && r.stderr.contains("CP932"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("old/memo.txt: ") && r.stderr.contains("UTF-16LE"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(name.as_str()),
        "the report names no personal value"
    );
    assert!(!e.path(CERTIFICATE).exists() && !e.path(RECORD).exists());
    assert!(e.path(PACKAGE).exists());
    assert!(!e.db().exists(), "the database was erased before the scan");
    let state = json(&e.path("stepcard.db.closeout.json"));
    assert_eq!(state["step"], "erased");
    // Other commands wait for the close-out to finish.
    e.run(&["batches", "list"])
        .refused()
        .stderr_has("契約終了の手続き（close-out）が途中です");

    std::fs::remove_file(e.path("old/名簿の写し.csv")).unwrap();
    std::fs::remove_file(e.path("old/memo.txt")).unwrap();
    close_out(&e, &[])
        .ok()
        .stderr_has("途中の契約終了の手続きを続けます（消去済み・残存検査前）");
    assert!(e.path(CERTIFICATE).exists());
    assert_eq!(json(&e.path(RECORD))["runs"].as_array().unwrap().len(), 2);
}

/// Many participants are searched for in batches (here four at a time, through the
/// tests' switch; 20,000 in use): a remnant is found whichever batch holds its
/// participant, in CP932 and UTF-16 as in one batch, and the certificate's counts are
/// those of a search in one batch.
#[test]
fn the_remnant_scan_in_batches_finds_every_participant() {
    let batched = [("STEPCARD_TEST_SCAN_BATCH", "4")];
    let args = [
        "close-out",
        "--return-dir",
        "ret",
        "--confirm",
        CONTRACT,
        "--erase-inputs",
    ];
    let e = Env::with_roster();
    let people: Vec<(String, String)> = {
        let c = e.conn();
        let mut stmt = c
            .prepare("SELECT id, name FROM participants WHERE name IS NOT NULL ORDER BY id")
            .unwrap();
        let all: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        all.into_iter().step_by(9).take(6).collect()
    };
    assert_eq!(people.len(), 6);
    let participants: i64 = e
        .conn()
        .query_row("SELECT count(*) FROM participants", [], |r| r.get(0))
        .unwrap();
    std::fs::create_dir(e.path("old")).unwrap();
    let mut sjis = String::from("氏名\n");
    for (_, name) in &people[..3] {
        sjis.push_str(&format!("{}\n", name.replace(' ', "\u{3000}")));
    }
    e.write_cp932("old/名簿の写し.csv", &sjis);
    let ids = format!("memo {} / {}", people[3].0, people[4].0);
    e.write_bytes(
        "old/memo.txt",
        &ids.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>(),
    );
    e.write("old/番号.txt", &format!("{}\n", people[5].0));

    let r = run_env(&e, &batched, &args).refused();
    assert!(
        r.stderr
            .contains("参加者の情報が残っているファイルが 3 件見つかりました"),
        "{}",
        r.stderr
    );
    for (id, name) in &people {
        assert!(r.stderr.contains(id.as_str()), "{id}: {}", r.stderr);
        assert!(!r.stderr.contains(name.as_str()));
    }
    for f in ["old/名簿の写し.csv", "old/memo.txt", "old/番号.txt"] {
        std::fs::remove_file(e.path(f)).unwrap();
    }
    run_env(&e, &batched, &args).ok();
    let scan = json(&e.path(RECORD))["verification"]["scan"].clone();
    assert_eq!(scan["batches"], (participants as u64).div_ceil(4), "{scan}");

    let one = Env::with_roster();
    close_out(&one, &[]).ok();
    let single = json(&one.path(RECORD))["verification"]["scan"].clone();
    for k in [
        "values",
        "values_by_kind",
        "skipped_short",
        "skipped_handler_names",
    ] {
        assert_eq!(scan[k], single[k], "{k}");
    }
    assert_eq!(single["batches"], 1);
    assert!(scan["values"].as_u64().unwrap() >= 60, "{scan}");
}

#[test]
fn a_kept_export_blocks_until_erase_exports_is_given() {
    let e = Env::with_roster();
    e.run(&["roster", "export", "--out", "roster.xlsx"]).ok();
    let r = close_out(&e, &[]).refused();
    // Found inside the workbook's compressed XML, not in its raw bytes.
    assert!(
        r.stderr.contains("roster.xlsx!xl/worksheets/sheet1.xml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("--erase-exports を付けて実行すると消去します"),
        "{}",
        r.stderr
    );
    close_out(&e, &["--erase-exports"]).ok();
    assert!(!e.path("roster.xlsx").exists());
    let rec = json(&e.path(RECORD));
    assert_eq!(rec["exports"][0]["status"], "erased");
}

#[test]
fn verify_checks_a_package_against_its_record() {
    let e = full_env();
    close_out(&e, &[]).ok();
    e.run(&["close-out", "--verify", RECORD, "--package", PACKAGE])
        .ok()
        .stdout_has("は消去記録と一致します");

    // Rebuild the zip with one entry changed, one left out, or only recompressed.
    let entries = zip_entries(&e.path(PACKAGE), None);
    let rebuild = |name: &str, change: Change, method: zip::CompressionMethod| {
        let p = e.path(name);
        let mut zw = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        for (n, data, time, _) in &entries {
            if let Some(d) = change(n, data) {
                let o = zip::write::SimpleFileOptions::default()
                    .compression_method(method)
                    .last_modified_time(*time);
                zw.start_file(n.as_str(), o).unwrap();
                zw.write_all(&d).unwrap();
            }
        }
        zw.finish().unwrap();
        p
    };
    let deflate = zip::CompressionMethod::Deflated;
    let edited = rebuild(
        "edited.zip",
        &|n, d| {
            Some(if n == "steps.csv" {
                String::from_utf8(d.to_vec())
                    .unwrap()
                    .replacen(",8", ",9", 1)
                    .into_bytes()
            } else {
                d.to_vec()
            })
        },
        deflate,
    );
    let r = e
        .run(&[
            "close-out",
            "--verify",
            RECORD,
            "--package",
            edited.to_str().unwrap(),
        ])
        .refused();
    assert!(
        r.stderr.contains("steps.csv: SHA-256 が違います"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("participants.csv:"),
        "only what differs is named: {}",
        r.stderr
    );

    let short = rebuild(
        "short.zip",
        &|n, d| (n != "participants.csv").then(|| d.to_vec()),
        deflate,
    );
    e.run(&[
        "close-out",
        "--verify",
        RECORD,
        "--package",
        short.to_str().unwrap(),
    ])
    .refused()
    .stderr_has("participants.csv: 返還データにありません");

    let stored = rebuild(
        "stored.zip",
        &|_, d| Some(d.to_vec()),
        zip::CompressionMethod::Stored,
    );
    e.run(&[
        "close-out",
        "--verify",
        RECORD,
        "--package",
        stored.to_str().unwrap(),
    ])
    .refused()
    .stderr_has("ファイル全体の SHA-256 が記録と違います");
}

#[test]
fn record_and_certificate_hold_no_personal_data() {
    let e = full_env();
    e.run(&["roster", "export", "--out", "roster.csv"]).ok();
    let people = personal(&e);
    close_out(&e, &["--erase-exports"]).ok();
    let record = std::fs::read_to_string(e.path(RECORD)).unwrap();
    let mut cert_text = String::new();
    for row in read_xlsx(&e.path(CERTIFICATE), "消去証明書") {
        cert_text.push_str(&row.join("\t"));
        cert_text.push('\n');
    }
    // The certificate states what it must.
    for needed in [
        "消 去 証 明 書",
        "新宿区長　様",
        "証明書番号　R7-健-0123-消去-",
        "株式会社サンプル",
        "山田 太郎",
        "R7-健-0123",
        "令和7年5月14日 〜 令和8年3月31日",
        "登録者名簿",
        "60 件",
        "歩数記録",
        "3,010 件",
        "stepcard.db（データベース本体）",
        "roster.csv（書出しファイル）",
        "NIST SP 800-88",
        "ディスクの空き領域",
        "バックアップ",
        "結果: 検出 0 件",
        "返還データ_R7-健-0123.zip",
        "委託元確認欄",
        "印",
    ] {
        assert!(
            cert_text.contains(needed),
            "certificate lacks {needed:?}:\n{cert_text}"
        );
    }
    let rec = json(&e.path(RECORD));
    assert!(cert_text.contains(rec["return_package"]["sha256"].as_str().unwrap()));
    assert!(cert_text.contains(rec["audit"]["head"].as_str().unwrap()));
    for v in people.values.iter().chain(&people.ids) {
        assert!(!record.contains(v.as_str()), "record holds {v}");
        assert!(!cert_text.contains(v.as_str()), "certificate holds {v}");
    }
    // Nor in the workbook's raw parts (document properties, styles …).
    for (name, data, ..) in zip_entries(&e.path(CERTIFICATE), None) {
        let text = String::from_utf8_lossy(&data);
        for v in &people.values {
            assert!(!text.contains(v.as_str()), "{name} holds {v}");
        }
    }
}

#[test]
fn an_encrypted_package_survives_a_crash_after_erasure() {
    let e = Env::with_roster();
    let people = personal(&e);
    e.write("pw.txt", "とても長い合言葉 2026\n");
    let r = run_env(
        &e,
        &[("STEPCARD_FAULT", "close-out:erased")],
        &[
            "close-out",
            "--return-dir",
            "ret",
            "--confirm",
            CONTRACT,
            "--package-password-file",
            "pw.txt",
        ],
    );
    assert_eq!(r.code, 86, "simulated crash: {}", r.stderr);
    assert!(!e.db().exists());
    assert!(!e.path(CERTIFICATE).exists());
    assert!(zip_entries(&e.path(PACKAGE), Some("とても長い合言葉 2026"))
        .iter()
        .all(|(.., enc)| *enc));
    let state = std::fs::read_to_string(e.path("stepcard.db.closeout.json")).unwrap();
    for v in people.values.iter().chain(&people.ids) {
        assert!(!state.contains(v.as_str()), "the state file holds {v}");
    }
    // The values to scan for are in the encrypted package: the password is needed.
    close_out(&e, &[])
        .usage()
        .stderr_has("作ったときのパスワードファイルを --package-password-file に指定してください");
    e.write("wrong.txt", "違う\n");
    close_out(&e, &["--package-password-file", "wrong.txt"])
        .refused()
        .stderr_has("パスワードが違います");
    close_out(&e, &["--package-password-file", "pw.txt"]).ok();
    let rec = json(&e.path(RECORD));
    assert_eq!(rec["return_package"]["encryption"], "AES-256");
    assert!(rec["verification"]["scan"]["values"].as_u64().unwrap() >= 60);
    // Without the password the whole file is compared; with it, every entry.
    e.run(&["close-out", "--verify", RECORD, "--package", PACKAGE])
        .ok()
        .stdout_has("ファイル全体の SHA-256 が記録と一致します");
    e.run(&[
        "close-out",
        "--verify",
        RECORD,
        "--package",
        PACKAGE,
        "--package-password-file",
        "pw.txt",
    ])
    .ok()
    .stdout_has("は消去記録と一致します");
}

#[test]
fn a_crash_at_any_step_is_finished_by_running_again() {
    for (point, db_left, step) in [
        ("packaging", true, "packaging"),
        ("packaged", true, "packaged"),
        // The database key destroyed, its files not yet: the rest needs no key.
        ("keys-destroyed", true, "packaged"),
        ("erasing", true, "packaged"),
        ("verified", false, "verified"),
    ] {
        let e = Env::with_roster();
        e.run(&["roster", "export", "--out", "r.csv"]).ok();
        let r = run_env(
            &e,
            &[("STEPCARD_FAULT", &format!("close-out:{point}"))],
            &[
                "close-out",
                "--return-dir",
                "ret",
                "--confirm",
                CONTRACT,
                "--erase-exports",
                "--erase-inputs",
            ],
        );
        assert_eq!(r.code, 86, "{point}: {}", r.stderr);
        assert_eq!(e.db().exists(), db_left, "{point}");
        assert_eq!(
            e.path("stepcard.db.keys").exists(),
            point.starts_with("packag"),
            "{point}: the key slots go first"
        );
        assert!(
            !e.path(CERTIFICATE).exists(),
            "{point}: no certificate without the finished erasure"
        );
        assert_eq!(
            json(&e.path("stepcard.db.closeout.json"))["step"],
            step,
            "{point}"
        );
        if step != "packaging" {
            assert!(
                e.path(PACKAGE).exists(),
                "{point}: the package exists before any erasure"
            );
        }
        close_out(&e, &["--erase-exports"]).ok();
        assert!(!e.db().exists() && !e.path("r.csv").exists(), "{point}");
        e.run(&["close-out", "--verify", RECORD, "--package", PACKAGE])
            .ok();
        let rec = json(&e.path(RECORD));
        assert_eq!(
            rec["categories"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["table"] == "participants")
                .unwrap()["records"],
            60,
            "{point}"
        );
    }
}

#[test]
fn close_out_runs_once() {
    let e = Env::with_roster();
    close_out(&e, &[]).ok();
    close_out(&e, &[])
        .refused()
        .stderr_has("契約 R7-健-0123 の契約終了の手続きは")
        .stderr_has("二度は実行しません");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let e = Env::with_roster();
    e.write("empty.txt", "\n");
    close_out(&e, &["--package-password-file", "empty.txt"])
        .usage()
        .stderr_has("パスワードファイルが空です");
    e.run(&["close-out", "--return-dir", ".", "--confirm", CONTRACT])
        .usage()
        .stderr_has("返還フォルダがデータベースのフォルダ");
    e.run(&["close-out", "--confirm", CONTRACT]).usage();
    assert!(e.db().exists());
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
}

#[test]
fn demo_ends_with_a_close_out_and_runs_again() {
    let e = Env::new();
    e.run(&["demo", "--out", "d"]).ok();
    // The main run's artifacts stay; the close-out ran on its own database in close-out/.
    assert!(e.path("d/stepcard.db").exists());
    assert!(e.path("d/evaluation.xlsx").exists());
    assert!(!e.path("d/close-out/stepcard.db").exists());
    assert!(!e.path("d/close-out/roster_export.xlsx").exists());
    assert!(e
        .path("d/close-out/return/消去証明書_R7-健-0123.xlsx")
        .exists());
    e.run(&[
        "close-out",
        "--verify",
        "d/close-out/return/消去記録_R7-健-0123.json",
        "--package",
        "d/close-out/return/返還データ_R7-健-0123.zip",
    ])
    .ok();
    e.run(&["demo", "--out", "d"]).ok();
    assert!(e
        .path("d/close-out/return/消去証明書_R7-健-0123.xlsx")
        .exists());
}
