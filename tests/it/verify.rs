//! `steps verify`: double-entry verification (ベリファイ) of two keyings of the same cards.

use crate::harness::*;

/// The rows of a CSV report (UTF-8 with BOM), header first.
fn read_csv(path: &std::path::Path) -> Vec<Vec<String>> {
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

/// The value of one figure in the summary on stdout (`label<TAB>value` lines).
fn figure(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{label}\t")))
        .unwrap_or_else(|| panic!("no figure {label:?} in:\n{stdout}"))
        .to_string()
}

fn ex(name: &str) -> String {
    example(name).to_str().unwrap().to_string()
}

#[test]
fn identical_keyings_agree() {
    let e = Env::with_roster();
    let text = "参加者番号,日付,歩数\nC000001,2025-08-01,8000\nC000001,2025-08-02,6500\nC000004,2025-08-01,0\n";
    e.write("first.csv", text);
    e.write("second.csv", text);
    let r = e
        .run(&["steps", "verify", "first.csv", "second.csv"])
        .ok()
        .stderr_has("内容がまったく同じです");
    assert_eq!(figure(&r.stdout, "1回目の件数（参加者・日）"), "3");
    assert_eq!(figure(&r.stdout, "一致"), "3");
    assert_eq!(figure(&r.stdout, "不一致"), "0");
    assert_eq!(figure(&r.stdout, "一致率"), "100.00%");
    // Verification alone changes no data.
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn differences_of_spelling_only_are_agreement() {
    let e = Env::with_roster();
    // The first keying: CP932 with a title row, full-width digits and ID, separators,
    // era and Japanese dates, stray spaces.
    e.write_cp932(
        "first.csv",
        "令和7年8月分（1回目）\r\n参加者番号,日付,歩数\r\nＣ０００００１,R7.8.4,８，０００\r\nC000001,2025年8月5日,\"12,345\"\r\nC000004,令和7年8月6日, 7000 \r\n",
    );
    e.write(
        "second.csv",
        "参加者番号,日付,歩数\nC000001,2025-08-04,8000\nC000001,2025/8/5,12345\nC000004,20250806,７０００\n",
    );
    let r = e
        .run(&[
            "steps",
            "verify",
            "first.csv",
            "second.csv",
            "--out",
            "r.csv",
        ])
        .ok()
        .stderr_has("一致し（3 件）");
    assert_eq!(figure(&r.stdout, "一致"), "3");
    assert_eq!(figure(&r.stdout, "一致率"), "100.00%");
    assert_eq!(
        figure(&r.stdout, "判定"),
        "一致（2回の入力が一致し、値もすべて正しい）"
    );
    // Nothing to report: the header only.
    assert_eq!(read_csv(&e.path("r.csv")).len(), 1);
}

#[test]
fn each_kind_of_discrepancy_is_reported_with_both_cells() {
    let e = Env::with_roster();
    e.write(
        "first.csv",
        "参加者番号,日付,歩数\n\
         C000001,2025-08-01,8000\n\
         C000001,2025-08-02,5000\n\
         C000001,2025-08-03,7000\n\
         C000004,2025-08-01,6000\n\
         C000004,2025-08-01,6000\n\
         C000005,2025-08-1x,3000\n",
    );
    e.write(
        "second.csv",
        "参加者番号,日付,歩数\n\
         C000001,2025-08-01,8000\n\
         C000001,2025-08-02,\"5,800\"\n\
         C000004,2025-08-01,6000\n\
         C000005,2025-08-04,4000\n\
         C000006,2025-08-01,1000\n\
         C000006,2025-08-01,1100\n",
    );
    let r = e
        .run(&["steps", "verify", "first.csv", "second.csv", "--out", "r.csv"])
        .refused()
        .stderr_has(
            "error: 2回の入力が一致しません（不一致 1 件、1回目のみ 1 件、2回目のみ 2 件、値の違う重複 1 件、読めない入力 1 件）。\
             台紙と照らして誤っている方の入力を直し、もう一度ベリファイしてください",
        );
    assert_eq!(figure(&r.stdout, "1回目の件数（参加者・日）"), "4");
    assert_eq!(figure(&r.stdout, "2回目の件数（参加者・日）"), "5");
    assert_eq!(figure(&r.stdout, "照合（両方にある日）"), "3");
    assert_eq!(figure(&r.stdout, "一致"), "2");
    assert_eq!(figure(&r.stdout, "重複（同じ値）"), "1");
    // 2 agree of 6 days keyed in either file.
    assert_eq!(figure(&r.stdout, "一致率"), "33.33%");

    let rows = read_csv(&e.path("r.csv"));
    assert_eq!(
        rows[0],
        [
            "区分",
            "参加者番号",
            "日付",
            "1回目 セル",
            "1回目 入力値",
            "1回目 正規化値",
            "2回目 セル",
            "2回目 入力値",
            "2回目 正規化値",
            "コード",
            "内容"
        ]
    );
    let short: Vec<Vec<&str>> = rows[1..]
        .iter()
        .map(|r| r[..10].iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        short,
        vec![
            vec![
                "不一致",
                "C000001",
                "2025-08-02",
                "first!C3",
                "5000",
                "5000",
                "second!C3",
                "5,800",
                "5800",
                "verify.mismatch"
            ],
            vec![
                "1回目のみ",
                "C000001",
                "2025-08-03",
                "first!C4",
                "7000",
                "7000",
                "",
                "",
                "",
                "verify.only_in_first"
            ],
            vec![
                "2回目のみ",
                "C000005",
                "2025-08-04",
                "",
                "",
                "",
                "second!C5",
                "4000",
                "4000",
                "verify.only_in_second"
            ],
            vec![
                "2回目のみ",
                "C000006",
                "2025-08-01",
                "",
                "",
                "",
                "second!C6",
                "1000",
                "1000",
                "verify.only_in_second"
            ],
            vec![
                "重複（1回目）",
                "C000004",
                "2025-08-01",
                "first!C6",
                "6000",
                "6000",
                "",
                "",
                "",
                "verify.duplicate"
            ],
            vec![
                "重複（2回目）",
                "C000006",
                "2025-08-01",
                "",
                "",
                "",
                "second!C7",
                "1100",
                "1100",
                "steps.duplicate_conflict"
            ],
            vec![
                "読めない入力（1回目）",
                "C000005",
                "",
                "first!B7",
                "2025-08-1x",
                "",
                "",
                "",
                "",
                "date.invalid"
            ],
        ]
    );
    assert!(rows[6][10].contains("second!C6"), "{:?}", rows[6]);
}

#[test]
fn values_both_keyings_agree_on_are_still_checked() {
    let e = Env::with_roster();
    let text = "参加者番号,日付,歩数\n\
                Z999999,2025-08-01,5000\n\
                Z999999,2025-08-02,5000\n\
                C000001,2025-04-01,5000\n\
                C000001,2025-08-03,123456\n\
                C000001,2025-08-04,-300\n";
    e.write("first.csv", text);
    e.write("second.csv", &text.replace("123456", "１２３，４５６"));
    let r = e
        .run(&[
            "steps",
            "verify",
            "first.csv",
            "second.csv",
            "--out",
            "r.xlsx",
        ])
        .refused()
        .stderr_has(
            "2回の入力は一致しましたが、一致した値に誤りがあります（一致した値の誤り 4 件）",
        );
    assert_eq!(figure(&r.stdout, "一致率"), "100.00%");
    let sheet = read_xlsx(&e.path("r.xlsx"), "検査");
    let codes: Vec<(&str, &str, &str, &str)> = sheet[1..]
        .iter()
        .map(|r| (r[1].as_str(), r[3].as_str(), r[5].as_str(), r[7].as_str()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("C000001", "first!B4", "second!B4", "date.out_of_period"),
            ("C000001", "first!C5", "second!C5", "steps.implausible"),
            ("C000001", "first!C6", "second!C6", "steps.negative"),
            ("Z999999", "first!A2", "second!A2", "participant.unknown"),
        ]
    );
    assert!(sheet[4][8].contains("2 日分"), "{:?}", sheet[4]);
    assert_eq!(sheet[2][6], "１２３，４５６");
}

#[test]
fn a_card_keying_is_verified_against_a_long_one() {
    let e = Env::with_roster();
    let r = e
        .run(&[
            "steps",
            "verify",
            &ex("steps_verify_a.csv"),
            &ex("steps_verify_b.xlsx"),
            "--out",
            "r.xlsx",
        ])
        .refused()
        .stderr_has("不一致 C000005 2025-10-14 [verify.mismatch] 1回目 steps_verify_a!C76「8350」 2回目 10月!P6「8530」");
    assert_eq!(figure(&r.stdout, "1回目のシート"), "steps_verify_a（縦型）");
    assert_eq!(figure(&r.stdout, "2回目のシート"), "10月（台紙型）");
    assert_eq!(figure(&r.stdout, "照合（両方にある日）"), "147");
    assert_eq!(figure(&r.stdout, "一致"), "146");
    assert_eq!(figure(&r.stdout, "一致率"), "99.31%");

    let path = e.path("r.xlsx");
    let overview = read_xlsx(&path, "概要");
    let pct = overview.iter().find(|r| r[0] == "一致率").unwrap();
    assert!(pct[1].starts_with("0.9931"), "{pct:?}");
    let mism = read_xlsx(&path, "不一致");
    assert_eq!(
        mism[1][..9],
        [
            "C000005",
            "2025-10-14",
            "steps_verify_a!C76",
            "8350",
            "8350",
            "10月!P6",
            "8530",
            "8530",
            "180"
        ]
    );
    assert_eq!(read_xlsx(&path, "片方のみ")[1][0], "該当なし");
    // Copies of both keyed sheets, the differing cells marked with a note naming the
    // other keying's value, to hold against the paper card.
    let copy = read_xlsx(&path, "2回目_10月");
    assert_eq!(copy[5][15], "8530");
    let notes = xlsx_notes(&path);
    assert!(
        notes.iter().any(|n| n.contains(r#"ref="P6""#)
            && n.contains("不一致: 1回目は 8350（steps_verify_a!C76）")),
        "{notes:?}"
    );
    assert!(notes
        .iter()
        .any(|n| n.contains(r#"ref="C76""#) && n.contains("不一致: 2回目は 8530（10月!P6）")));

    // After the reviewer's correction the same pair agrees.
    let r = e
        .run(&[
            "steps",
            "verify",
            &ex("steps_verify_a.csv"),
            &ex("steps_verify_b_fixed.xlsx"),
        ])
        .ok();
    assert_eq!(figure(&r.stdout, "一致"), "147");
}

/// The comment (note) parts of an xlsx, as XML text.
fn xlsx_notes(path: &std::path::Path) -> Vec<String> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .filter(|n| n.starts_with("xl/comments"))
        .collect();
    names
        .iter()
        .map(|n| {
            let mut s = String::new();
            zip.by_name(n).unwrap().read_to_string(&mut s).unwrap();
            s
        })
        .collect()
}

#[test]
fn import_is_refused_when_the_keyings_disagree() {
    let e = Env::with_roster();
    e.run(&[
        "steps",
        "verify",
        &ex("steps_verify_a.csv"),
        &ex("steps_verify_b.xlsx"),
        "--import",
    ])
    .refused()
    .stderr_has("何も取り込んでいません (nothing imported)");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        0
    );
}

#[test]
fn import_is_done_as_a_verified_batch_when_they_agree() {
    let e = Env::with_roster();
    e.run(&[
        "steps",
        "verify",
        &ex("steps_verify_a.csv"),
        &ex("steps_verify_b_fixed.xlsx"),
        "--import",
    ])
    .ok()
    .stderr_has("ベリファイ済みとして記録しました");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 147);
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps' AND verified=1"),
        1
    );
    assert_eq!(e.steps("C000005", "2025-10-14"), Some(8350));
    e.run(&["batches", "list"])
        .ok()
        .stdout_has("（ベリファイ済）");
}

#[test]
fn a_keying_already_imported_is_marked_verified_not_imported_again() {
    let e = Env::with_roster();
    e.run(&["steps", "import", &ex("steps_verify_a.csv")]).ok();
    assert_eq!(
        e.count("SELECT verified FROM batches WHERE kind='steps'"),
        0
    );
    e.run(&[
        "steps",
        "verify",
        &ex("steps_verify_a.csv"),
        &ex("steps_verify_b_fixed.xlsx"),
        "--import",
    ])
    .ok()
    .stderr_has("ベリファイ済みとして記録しました");
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        1
    );
    assert_eq!(
        e.count("SELECT verified FROM batches WHERE kind='steps'"),
        1
    );
    assert_eq!(e.count("SELECT count(*) FROM steps"), 147);
}

#[test]
fn the_same_file_twice_is_a_usage_error() {
    let e = Env::with_roster();
    e.write("k.csv", "参加者番号,日付,歩数\nC000001,2025-08-01,8000\n");
    e.run(&["steps", "verify", "k.csv", "./k.csv"])
        .usage()
        .stderr_has("同じファイルを1回目と2回目の両方に指定しています");
    e.run(&["steps", "verify", "k.csv", "k.csv", "--out", "r.pdf"])
        .usage()
        .stderr_has("出力ファイルは .csv か .xlsx にしてください");
}

#[test]
fn an_unreadable_header_stops_the_verification() {
    let e = Env::with_roster();
    e.write(
        "first.csv",
        "参加者番号,日付,歩数\nC000001,2025-08-01,8000\n",
    );
    e.write(
        "second.csv",
        "参加者番号,日付,歩数,備考\nC000001,2025-08-01,8000,x\n",
    );
    e.run(&["steps", "verify", "first.csv", "second.csv", "--import"])
        .refused()
        .stderr_has("header.unknown_column at second.csv:second!D1")
        .stderr_has("second.csv: 見出しを読めないため照合できません");
    // --ignore-column works as in the import.
    e.run(&[
        "steps",
        "verify",
        "first.csv",
        "second.csv",
        "--ignore-column",
        "備考",
    ])
    .ok();
}

#[test]
fn cells_are_read_as_the_import_reads_them() {
    // A card with a value on June 31 and one that is not a number: the import and the
    // verification report the same problems at the same cells.
    let e = Env::with_roster();
    let mut head = String::from("参加者番号,年月");
    let mut row = String::from("C000001,2025年6月");
    for d in 1..=31 {
        head.push_str(&format!(",{d}"));
        row.push_str(match d {
            3 => ",八千",
            31 => ",5000",
            _ => ",",
        });
    }
    let text = format!("{head}\n{row}\n");
    e.write("first.csv", &text);
    e.write("second.csv", &text);
    e.run(&["steps", "import", "first.csv", "--errors", "errors.csv"])
        .refused();
    let import: Vec<(String, String)> = read_csv(&e.path("errors.csv"))[1..]
        .iter()
        .map(|r| (r[2].clone(), r[6].clone()))
        .collect();
    assert_eq!(
        import,
        [
            ("E2".to_string(), "steps.not_a_number".to_string()),
            ("AG2".to_string(), "date.nonexistent".to_string())
        ]
    );
    e.run(&[
        "steps",
        "verify",
        "first.csv",
        "second.csv",
        "--out",
        "r.csv",
    ])
    .refused();
    let verify: Vec<(String, String)> = read_csv(&e.path("r.csv"))[1..]
        .iter()
        .map(|r| {
            let cell = if r[3].is_empty() { &r[6] } else { &r[3] };
            (cell.clone(), r[9].clone())
        })
        .collect();
    assert_eq!(
        verify,
        [
            ("first!AG2".to_string(), "date.nonexistent".to_string()),
            ("second!AG2".to_string(), "date.nonexistent".to_string()),
            ("first!E2".to_string(), "steps.not_a_number".to_string()),
        ]
    );
}

#[test]
fn the_audit_log_records_both_files_and_the_report() {
    let e = Env::with_roster();
    e.run(&[
        "steps",
        "verify",
        &ex("steps_verify_a.csv"),
        &ex("steps_verify_b.xlsx"),
        "--out",
        "r.xlsx",
    ])
    .refused();
    let detail: String = e
        .conn()
        .query_row(
            "SELECT detail FROM audit_log WHERE command='steps verify' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (sha_a, _) = stepcard::output::sha256_file(&example("steps_verify_a.csv")).unwrap();
    let (sha_b, _) = stepcard::output::sha256_file(&example("steps_verify_b.xlsx")).unwrap();
    assert!(
        detail.contains(&sha_a) && detail.contains(&sha_b),
        "{detail}"
    );
    assert!(detail.contains(r#""verify_mismatches":1"#), "{detail}");
    assert!(detail.contains(r#""status":"refused""#), "{detail}");
    assert_eq!(
        e.count("SELECT count(*) FROM exports WHERE path LIKE '%r.xlsx'"),
        1
    );
    e.run(&["audit", "verify"]).ok();
}
