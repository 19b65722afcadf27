//! Handlers who prove who they are (issue 15): the database is ciphertext on disk, each
//! handler's password opens their own key slot, refusals reach the audit log, and the
//! close-out ends with cryptographic erase. `encrypt` converts an old plain database.

use crate::harness::*;
use std::path::Path;

const SATO: &str = "佐藤 花子";

/// The participants' numbers, names, phones and postal codes as stored.
fn personal_values(e: &Env) -> Vec<String> {
    let c = e.conn();
    let mut stmt = c
        .prepare("SELECT id, name, phone, postal_code FROM participants")
        .unwrap();
    let mut out = Vec::new();
    let rows = stmt
        .query_map([], |r| {
            Ok([
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            ])
        })
        .unwrap();
    for r in rows {
        out.extend(r.unwrap().into_iter().filter(|v| v.len() >= 4));
    }
    assert!(out.len() >= 200, "{} values", out.len());
    out
}

/// Occurrences of the values in the files (indexed by their first four bytes, so a
/// debug build searches megabytes quickly).
fn hits(files: &[Vec<u8>], values: &[String]) -> usize {
    let mut by_head: std::collections::HashMap<&[u8], Vec<&[u8]>> = Default::default();
    for v in values {
        by_head
            .entry(&v.as_bytes()[..4])
            .or_default()
            .push(v.as_bytes());
    }
    let mut n = 0;
    for bytes in files {
        for i in 0..bytes.len().saturating_sub(3) {
            if let Some(vs) = by_head.get(&bytes[i..i + 4]) {
                n += vs.iter().filter(|v| bytes[i..].starts_with(v)).count();
            }
        }
    }
    n
}

/// Import the bundled samples while a reader holds the database open (so the WAL and
/// its index are still on disk), then search the database, -wal and -shm.
fn grep_database(envs: &[(&str, &str)]) -> (usize, usize) {
    let e = Env::new();
    e.write("program.toml", PROGRAM);
    run_env(&e, envs, &["init", "--program", "program.toml"]).ok();
    let held = e.conn();
    let _: i64 = held
        .query_row("SELECT count(*) FROM meta", [], |r| r.get(0))
        .unwrap();
    let roster = e.sample("roster.csv");
    run_env(&e, envs, &["roster", "import", &roster]).ok();
    let steps = e.sample("steps_long.csv");
    run_env(&e, envs, &["steps", "import", &steps]).ok();
    let files: Vec<_> = ["stepcard.db", "stepcard.db-wal", "stepcard.db-shm"]
        .iter()
        .map(|n| e.path(n))
        .collect();
    let files: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("exists while a reader holds it"))
        .collect();
    drop(held);
    let values = personal_values(&e);
    (hits(&files, &values), values.len())
}

#[test]
fn the_database_its_wal_and_shm_hold_no_personal_value_in_the_clear() {
    let (encrypted, values) = grep_database(&[]);
    assert_eq!(encrypted, 0, "{values} values searched");
    // The same search finds them in a plain database: the test can fail.
    let (plain, _) = grep_database(&[("STEPCARD_TEST_NO_ENCRYPTION", "1")]);
    assert!(plain > 100, "{plain} hits in the plain database");
}

#[test]
fn a_stranger_and_a_wrong_password_are_refused_and_recorded() {
    let e = Env::with_roster();
    e.run_as("田中 一郎", &["batches", "list"])
        .refused()
        .stderr_has("取扱者として指定されていません");
    let wrong = e.write("wrong.txt", "違うパスワード\n");
    for n in 1..=2 {
        e.run(&["--password-file", s(&wrong), "batches", "list"])
            .refused()
            .stderr_has(&format!("パスワードが違います（{n} 回続けて失敗）"));
    }
    let slots: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.path("stepcard.db.keys")).unwrap())
            .unwrap();
    assert_eq!(slots["failures"], 2);
    // A handler of the program without a slot: the supervisor must add them.
    e.run_as(SATO, &["batches", "list"])
        .refused()
        .stderr_has("stepcard handlers add");
    // Nothing personal in the key file (names of handlers only).
    let keys = std::fs::read_to_string(e.path("stepcard.db.keys")).unwrap();
    assert!(!keys.contains(PASSWORD) && !keys.contains("A00000"));
    // The next successful open writes every refusal to the log and resets the count.
    e.run(&["batches", "list"]).ok();
    let refused = |status: &str| {
        e.count(&format!(
            "SELECT count(*) FROM audit_log WHERE command='open' AND detail LIKE '%\"status\":\"{status}\"%'"
        ))
    };
    assert_eq!(refused("refused: not a designated handler"), 1);
    assert_eq!(refused("refused: wrong password"), 2);
    assert_eq!(refused("refused: no key slot"), 1);
    let slots: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.path("stepcard.db.keys")).unwrap())
            .unwrap();
    assert_eq!(slots["failures"], 0);
    assert_eq!(slots["refusals"].as_array().unwrap().len(), 0);
    e.run(&["audit", "verify"]).ok();
}

#[test]
fn no_password_source_is_a_message_not_a_prompt() {
    let e = Env::init();
    let o = e
        .cmd()
        .env_remove("STEPCARD_PASSWORD_FILE")
        .args(["batches", "list"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--password-file"));
}

#[test]
fn a_removed_handler_can_no_longer_open_while_the_others_can() {
    let e = Env::with_roster();
    e.add_handler(SATO);
    e.run_as(SATO, &["batches", "list"]).ok();
    // Adding and removing is the responsible handler's.
    e.run_as(SATO, &["handlers", "remove", OPERATOR])
        .refused()
        .stderr_has("取扱責任者");
    e.run(&["handlers", "remove", SATO]).ok();
    e.run_as(SATO, &["batches", "list"])
        .refused()
        .stderr_has("handlers add");
    e.run(&["batches", "list"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
    e.run(&["handlers", "list"])
        .ok()
        .stdout_has("佐藤 花子\t取扱者\tなし");
}

#[test]
fn passwd_keeps_the_data_readable_and_retires_the_old_password() {
    let e = Env::with_roster();
    let new = e.write("new.txt", "新しいパスワード\n");
    e.run(&["handlers", "passwd", "--new-password-file", s(&new)])
        .ok();
    e.run(&["batches", "list"])
        .refused()
        .stderr_has("パスワードが違います");
    e.run(&["--password-file", s(&new), "points", "--out", "p.csv"])
        .ok();
    assert!(
        std::fs::read_to_string(e.path("p.csv"))
            .unwrap()
            .lines()
            .count()
            > 60
    );
}

#[test]
fn two_handlers_entries_carry_their_own_names_and_the_os_user() {
    let e = Env::with_roster();
    e.add_handler(SATO);
    e.run_as(SATO, &["batches", "list"]).ok();
    let c = e.conn();
    let mut stmt = c
        .prepare("SELECT operator, detail FROM audit_log WHERE command='batches list' OR command='roster import' ORDER BY seq")
        .unwrap();
    let rows: Vec<(String, serde_json::Value)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                serde_json::from_str(&r.get::<_, String>(1)?).unwrap(),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [OPERATOR, SATO]);
    let me = std::env::var("USER").unwrap_or_default();
    for (_, d) in &rows {
        let user = d["os_user"].as_str().unwrap();
        assert!(!user.is_empty());
        if !me.is_empty() {
            assert_eq!(user, me);
        }
    }
    // The handling report shows both.
    e.run(&["audit", "--out", "r.xlsx"]).ok();
    let ops = read_xlsx(&e.path("r.xlsx"), "操作記録");
    let who = ops
        .iter()
        .find(|r| {
            r.iter().any(|c| c.contains("取込みの一覧")) && r.iter().any(|c| c.contains(SATO))
        })
        .expect("Sato's entry");
    assert!(
        who.iter().any(|c| c.contains(&format!("{SATO}\nOS: "))),
        "{who:?}"
    );
}

#[test]
fn a_plain_database_is_refused_and_encrypt_converts_it() {
    let e = Env::new();
    e.write("program.toml", PROGRAM);
    let plain = [("STEPCARD_TEST_NO_ENCRYPTION", "1")];
    run_env(&e, &plain, &["init", "--program", "program.toml"]).ok();
    let roster = e.sample("roster.csv");
    run_env(&e, &plain, &["roster", "import", &roster]).ok();
    // As an earlier build left it: a plain database, no key file.
    std::fs::remove_file(e.path("stepcard.db.keys")).unwrap();
    assert!(std::fs::read(e.db())
        .unwrap()
        .starts_with(b"SQLite format 3\0"));
    e.run(&["batches", "list"])
        .refused()
        .stderr_has("stepcard encrypt --db");
    e.run_as(SATO, &["encrypt", "--out", "new.db"])
        .refused()
        .stderr_has("取扱責任者");
    e.run(&["encrypt", "--out", "new.db"]).ok();
    for f in ["stepcard.db", "stepcard.db-wal", "stepcard.db-shm"] {
        assert!(!e.path(f).exists(), "{f} erased");
    }
    let new = e.path("new.db");
    assert!(!std::fs::read(&new).unwrap().starts_with(b"SQLite format 3"));
    let r = run_env(
        &e,
        &[("STEPCARD_DB", s(&new))],
        &["roster", "export", "--out", "r.csv"],
    )
    .ok();
    drop(r);
    let c = open_keyed(&new);
    let n: i64 = c
        .query_row("SELECT count(*) FROM participants", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 60);
    run_env(&e, &[("STEPCARD_DB", s(&new))], &["audit", "verify"]).ok();
    let encrypt: i64 = c
        .query_row(
            "SELECT count(*) FROM audit_log WHERE command='encrypt'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(encrypt, 1);
}

#[test]
fn close_out_destroys_the_keys_first_and_says_cryptographic_erase() {
    let e = Env::with_roster();
    close_out(&e, &[]).ok();
    assert!(!e.path("stepcard.db.keys").exists());
    assert!(!e.db().exists());
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(e.path("ret/消去記録_R7-健-0123.json")).unwrap(),
    )
    .unwrap();
    let summary = rec["method"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("cryptographic erase of the database (SQLCipher AES-256), plus overwrite and removal of its files"),
        "{summary}"
    );
    assert_eq!(rec["keys"]["status"], "erased");
    assert_eq!(rec["keys"]["slots"], 1);
    assert_eq!(rec["keys"]["database_encrypted"], true);
    let not_covered = rec["method"]["not_covered"].to_string();
    assert!(not_covered.contains("平文"), "{not_covered}");
    let cert = e.path("ret/消去証明書_R7-健-0123.xlsx");
    let text: String = read_xlsx(&cert, &first_sheet(&cert)).concat().concat();
    assert!(text.contains("暗号化消去"), "the certificate says so");
}

fn first_sheet(path: &Path) -> String {
    use calamine::{open_workbook_auto, Reader};
    open_workbook_auto(path).unwrap().sheet_names()[0].clone()
}

#[test]
fn a_key_file_readable_by_others_is_refused_like_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::init();
    let keys = e.path("stepcard.db.keys");
    assert_eq!(
        std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    e.run(&["batches", "list"])
        .refused()
        .stderr_has("chmod 600")
        .stderr_has("stepcard.db.keys");
}

/// The database key as SQLCipher's raw-key literal, from the tests' slot.
fn key_hex(e: &Env) -> String {
    let kf = stepcard::keys::load(&e.db()).unwrap().expect("key file");
    kf.unlock(OPERATOR, PASSWORD)
        .unwrap()
        .expect("password")
        .hex()
}

/// Whether the file opens with the key and the page HMAC named (None: SQLCipher's
/// default, HMAC-SHA512).
fn opens_with(db: &Path, hex: &str, hmac: Option<&str>) -> bool {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut sql = format!("PRAGMA key = \"x'{hex}'\"; PRAGMA cipher_page_size = 65536;");
    if let Some(h) = hmac {
        sql.push_str(&format!(" PRAGMA cipher_hmac_algorithm = {h};"));
    }
    c.execute_batch(&sql).unwrap();
    c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok()
}

#[test]
fn a_new_database_authenticates_its_pages_with_hmac_sha256_and_its_key_file_says_so() {
    let e = Env::with_roster();
    let kf = std::fs::read_to_string(stepcard::keys::path_for(&e.db())).unwrap();
    assert!(kf.contains(stepcard::keys::CIPHER_HMAC_SHA256), "{kf}");
    let hex = key_hex(&e);
    assert!(opens_with(&e.db(), &hex, Some("HMAC_SHA256")));
    assert!(
        !opens_with(&e.db(), &hex, None),
        "pages checked with SHA-512"
    );
}

#[test]
fn a_database_of_an_earlier_build_with_hmac_sha512_still_opens_and_imports() {
    // Earlier builds wrote SQLCipher's default page HMAC (SHA-512) and a key file with
    // no `cipher`: copy this database into that form, then use it.
    let e = Env::with_roster();
    let hex = key_hex(&e);
    let old = e.path("old.db");
    {
        let c = e.conn();
        c.execute(
            &format!("ATTACH DATABASE ?1 AS old KEY \"x'{hex}'\""),
            [old.to_string_lossy()],
        )
        .unwrap();
        c.execute_batch("PRAGMA old.cipher_page_size = 65536;")
            .unwrap();
        c.query_row("SELECT sqlcipher_export('old')", [], |_| Ok(()))
            .unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        c.execute_batch(&format!(
            "PRAGMA old.user_version = {v}; DETACH DATABASE old;"
        ))
        .unwrap();
    }
    assert!(opens_with(&old, &hex, None));
    assert!(!opens_with(&old, &hex, Some("HMAC_SHA256")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::rename(&old, e.db()).unwrap();
    let keys = stepcard::keys::path_for(&e.db());
    let text = std::fs::read_to_string(&keys).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut()
        .unwrap()
        .remove("cipher")
        .expect("cipher");
    std::fs::write(&keys, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    let steps = e.sample("steps_long.csv");
    e.run(&["steps", "import", &steps]).ok();
    assert!(e.count("SELECT count(*) FROM steps") > 0);
    e.run(&["audit", "verify"]).ok();
    // Still SHA-512: a database is never silently rewritten in another form.
    assert!(opens_with(&e.db(), &hex, None));
}
