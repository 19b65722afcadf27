//! The Japanese messages operators meet most, pinned through the binary: what happened,
//! where, and what to do, in Japanese (an English gloss may follow).

use crate::harness::*;

#[test]
fn init_over_an_existing_database_says_what_to_do_in_japanese() {
    let e = Env::init();
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("データベースが既にあります。上書きはしません。新しい事業なら別の名前を --db で指定してください");
}

#[test]
fn a_roster_given_to_steps_import_is_named_as_a_roster() {
    let e = Env::init();
    let roster = e.sample("roster.csv");
    e.run(&["steps", "import", &roster])
        .refused()
        .stderr_has("この表は名簿のようです")
        .stderr_has("`stepcard roster import` で取り込みます")
        .stderr_has("次の列名を並べた行を置いてください: 参加者番号");
}

#[test]
fn a_database_without_its_key_file_is_told_in_japanese_first() {
    let e = Env::new();
    e.write("junk.db", &"x".repeat(4096));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(e.path("junk.db"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let r = e.run(&["--db", "junk.db", "status"]).refused();
    assert!(
        r.stderr.starts_with("error: junk.db: 鍵ファイル "),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("がありません"), "{}", r.stderr);
}

#[test]
fn a_corrupt_database_is_told_in_japanese_first() {
    let e = Env::with_roster();
    // Overwrite every page after the first: the pages no longer decrypt.
    let mut bytes = std::fs::read(e.db()).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0x5a;
    }
    std::fs::write(e.db(), &bytes).unwrap();
    let r = e.run(&["status"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("データベースのファイルが壊れています")
            || r.stderr.contains("データベースを読めません"),
        "{}",
        r.stderr
    );
    // Nothing of the library's own logging reaches the operator.
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(!r.stderr.contains("ERROR CORE"), "{}", r.stderr);
}

#[test]
fn an_output_in_a_missing_folder_is_told_in_japanese() {
    let e = Env::with_roster();
    e.run(&["roster", "export", "--out", "nodir/名簿.xlsx"])
        .refused()
        .stderr_has("nodir/名簿.xlsx: 書き込めません: ファイルかフォルダが見つかりません。名前と場所（フォルダがあるか）を確かめてください");
    let bad = e.sample("steps_bad.csv");
    e.run(&["steps", "import", &bad, "--errors", "nodir/誤り.xlsx"])
        .refused()
        .stderr_has("→ ファイルかフォルダが見つかりません");
}

#[test]
fn a_short_error_report_given_as_a_relative_path_is_not_called_long() {
    let e = Env::with_roster();
    let bad = e.sample("steps_bad.csv");
    let r = e
        .run(&["steps", "import", &bad, "--errors", "誤り.xlsx"])
        .refused()
        .stderr_has("誤りの一覧: 誤り.xlsx (8 件)");
    assert!(!r.stderr.contains("一覧が長いため"), "{}", r.stderr);
}
