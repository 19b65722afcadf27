//! Listings for people and for programs (`--format table|csv|json`), `status`, and
//! clap's own errors in Japanese, through the binary.

use crate::harness::*;

fn loaded() -> Env {
    let e = Env::with_roster();
    let steps = e.sample("steps_long.csv");
    e.run(&["steps", "import", &steps]).ok();
    let orders = e.sample("orders.csv");
    e.run(&["orders", "import", &orders]).ok();
    e
}

#[test]
fn batches_list_in_three_forms_with_kinds_in_japanese_and_refusals_counted() {
    let e = loaded();
    let table = e.run(&["batches", "list"]).ok().stdout;
    let head = table.lines().next().unwrap();
    assert!(head.starts_with("番号  種類"), "{table}");
    assert!(table.contains("名簿") && table.contains("歩数"), "{table}");
    assert!(
        !table.contains("roster") || table.contains("roster.csv"),
        "{table}"
    );
    // Operators read times as 2026/11/30 20:12, not RFC 3339.
    assert!(!table.contains('T') || !table.contains("+0"), "{table}");

    let csv = e.run(&["batches", "list", "--format", "csv"]).ok().stdout;
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][1], "種類");
    assert_eq!(rows[0][10], "申込み却下");
    let orders = rows.iter().find(|r| r[1] == "景品申込み").expect(&csv);
    let json: serde_json::Value =
        serde_json::from_str(&e.run(&["batches", "list", "--format", "json"]).ok().stdout).unwrap();
    let batches = json.as_array().unwrap();
    assert_eq!(batches.len(), rows.len() - 1);
    let o = batches.iter().find(|b| b["種類"] == "景品申込み").unwrap();
    assert_eq!(o["申込み却下"].to_string(), orders[10]);
    assert!(o["行"].is_number());
    let at = o["取込日時"].as_str().unwrap();
    assert!(
        at.len() == 16 && at.as_bytes()[4] == b'/' && at.as_bytes()[13] == b':',
        "{at}"
    );
}

#[test]
fn batches_show_and_prizes_and_audit_verify_take_a_format() {
    let e = loaded();
    let j: serde_json::Value = serde_json::from_str(
        &e.run(&["batches", "show", "3", "--format", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(j["種類"], "景品申込み");
    assert!(j["却下した申込み"].is_array());
    let text = e.run(&["batches", "show", "3"]).ok().stdout;
    assert!(text.starts_with("取込み 3（景品申込み）"), "{text}");

    let prizes: serde_json::Value =
        serde_json::from_str(&e.run(&["prizes", "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(prizes[0]["コード"], "Q1");
    assert!(prizes[0]["必要ポイント"].is_number());

    let v = e.run(&["audit", "verify", "--format", "csv"]).ok().stdout;
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines[0], "件数,連鎖,先頭ハッシュ");
    assert!(lines[1].contains(",正常,"), "{v}");

    let p = e
        .run(&["points", "--participant", "A000002", "--format", "json"])
        .ok()
        .stdout;
    let p: serde_json::Value = serde_json::from_str(&p).unwrap();
    assert_eq!(p[0]["参加者番号"], "A000002");
    // --format is for the screen; a file's form comes from its name.
    e.run(&["points", "--out", "p.csv", "--format", "json"])
        .usage()
        .stderr_has("一緒に指定できません");
}

#[test]
fn status_says_what_the_database_holds() {
    let e = loaded();
    let s = e.run(&["status"]).ok().stdout;
    for needle in [
        "契約番号                        R7-健-0123",
        "事業期間                        2025/05/14〜2026/03/31",
        "山田 太郎（取扱責任者）",
        "参加者                          60",
        "取込み                          名簿 1、歩数 1、景品申込み 1",
        "監査ログの連鎖                  正常",
        "契約終了の手続き                未実施",
    ] {
        assert!(s.contains(needle), "{needle}\n{s}");
    }
    let j: serde_json::Value =
        serde_json::from_str(&e.run(&["status", "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(j["参加者"], 60);
    assert_eq!(j["歩数の記録（日数）"], 3010);
    let orders =
        j["景品申込み 受付・未発送"].as_i64().unwrap() + j["景品申込み 却下"].as_i64().unwrap();
    assert!(orders > 0, "{j}");
    // No personal value: names of participants are not in it.
    let bytes = std::fs::read(example("roster.csv")).unwrap();
    let (roster, _, _) = encoding_rs::SHIFT_JIS.decode(&bytes);
    let first_name = roster.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    assert!(!s.contains(first_name), "{first_name}");
}

#[test]
fn clap_errors_and_help_are_japanese() {
    let e = Env::init();
    let r = e.run(&["shipp"]).usage();
    assert!(
        r.stderr.contains("「shipp」というコマンドはありません"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("「ship」のことではありませんか"),
        "{}",
        r.stderr
    );
    let r = e.run(&["batches", "undo", "三"]).usage();
    assert!(
        r.stderr.contains("<番号> の値「三」を読めません"),
        "{}",
        r.stderr
    );
    let r = e.run(&["labels"]).usage();
    assert!(r.stderr.contains("指定が足りません: --out"), "{}", r.stderr);
    assert!(!r.stderr.contains("Usage"), "{}", r.stderr);
    let h = e.run(&["--help"]).ok().stdout;
    assert!(h.contains("使い方: stepcard") && h.contains("例:"), "{h}");
    assert!(!h.contains("Print help") && !h.contains("Commands:"), "{h}");
    let h = e.run(&["ship", "--help"]).ok().stdout;
    assert!(h.contains("例:\n  stepcard ship --out"), "{h}");
    assert!(!h.contains("[default:") && !h.contains("[env:"), "{h}");
}
