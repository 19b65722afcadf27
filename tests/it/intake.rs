//! Issue 13: every input imported exactly or refused, in bounded memory: text fields
//! checked (line breaks, control characters, lengths), problems streamed to the
//! report, cells too long for Excel, orders paid only with points earned by their date.

use crate::harness::*;

const ROSTER_HEAD: &str = "参加者番号,氏名,フリガナ,郵便番号,住所,生年月日,性別,利用区分\n";

#[test]
fn a_broken_quote_in_a_roster_is_refused_at_the_cell_and_nothing_is_imported() {
    let e = Env::init();
    // The opening quote of row 2's name is closed only on row 3: the CSV reader reads
    // one record of two lines, and the second participant would be lost.
    let text = format!(
        "{ROSTER_HEAD}X0001,\"山田 太郎,ヤマダ タロウ,160-0022,東京都新宿区新宿1-1-1,1955-04-01,男,台紙\n\
         X0002,佐藤 花子\",サトウ ハナコ,160-0023,東京都新宿区西新宿2-2-2,1960-05-05,女,台紙\n"
    );
    let p = e.write("broken.csv", &text);
    let report = e.path("e.csv");
    e.run(&["roster", "import", s(&p), "--errors", s(&report)])
        .refused()
        .stderr_has("text.newline")
        .stderr_has("B2")
        .stderr_has("何も取り込んでいません");
    assert!(codes_at(&report).contains(&("B2".into(), "text.newline".into())));
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
}

/// A participant number written twice in one roster file (the second time in full-width
/// digits) is refused at the second row, naming the first; the file's rows are noted
/// in a working table of the import's transaction, which is gone afterwards whichever
/// way the import ends.
#[test]
fn a_participant_twice_in_one_roster_file_is_refused_naming_the_first_row() {
    let e = Env::init();
    let text = format!(
        "{ROSTER_HEAD}X0001,山田 太郎,ヤマダ タロウ,160-0022,東京都新宿区新宿1-1-1,1955-04-01,男,台紙\n\
         X0002,佐藤 花子,サトウ ハナコ,160-0023,東京都新宿区西新宿2-2-2,1960-05-05,女,台紙\n\
         Ｘ０００１,山田 太郎,ヤマダ タロウ,160-0022,東京都新宿区新宿1-1-1,1955-04-01,男,台紙\n"
    );
    let p = e.write("twice.csv", &text);
    e.run(&["roster", "import", s(&p)])
        .refused()
        .stderr_has("participant.duplicate")
        .stderr_has("参加者番号 X0001 がこのファイルの 2 行目にもあります")
        .stderr_has("何も取り込んでいません");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
    let leftover = "SELECT count(*) FROM sqlite_master WHERE name = 'stepcard_roster_seen'";
    assert_eq!(e.count(leftover), 0);
    // Without the second row it imports, and the table is dropped before the commit.
    let once: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    let p = e.write("once.csv", &once);
    e.run(&["roster", "import", s(&p)]).ok();
    assert_eq!(e.count("SELECT count(*) FROM participants"), 2);
    assert_eq!(e.count(leftover), 0);
}

#[test]
fn control_characters_and_absurd_lengths_in_text_fields_are_refused() {
    let e = Env::init();
    let long_name = "あ".repeat(100_000);
    let text = format!(
        "{ROSTER_HEAD}X0001,山田\u{0}太郎,ヤマダ タロウ,160-0022,東京都新宿区新宿1-1-1,1955-04-01,男,台紙\n\
         X0002,佐藤 花子,サトウ ハナコ,160-0023,東京都\u{1b}新宿区\u{7}西新宿,1960-05-05,女,台紙\n\
         X0003,鈴木\t一郎,スズキ イチロウ,160-0023,東京都新宿区西新宿\u{7f}2,1960-05-05,女,台紙\n\
         X0004,{long_name},スズキ ジロウ,160-0023,{addr},1960-05-05,男,台紙\n\
         X0005,高橋 三郎,タカハシ サブロウ,160-0023,東京都新宿区西新宿\u{85}3,1960-05-05,男,台紙\n",
        addr = "新".repeat(101)
    );
    let p = e.write("ctl.csv", &text);
    let report = e.path("e.csv");
    e.run(&["roster", "import", s(&p), "--errors", s(&report)])
        .refused();
    let got = codes_at(&report);
    for (cell, code) in [
        ("B2", "text.control_character"),
        ("E3", "text.control_character"),
        ("B4", "text.control_character"),
        ("E4", "text.control_character"),
        ("B5", "text.too_long"),
        ("E5", "text.too_long"),
        ("E6", "text.control_character"),
    ] {
        assert!(
            got.contains(&(cell.to_string(), code.to_string())),
            "{cell} {code} not in {got:?}"
        );
    }
    // Refused once: not also called missing.
    assert!(!got.iter().any(|(_, c)| c.ends_with(".missing")), "{got:?}");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
}

/// A long steps CSV of `n` rows of A000002, every date a year before the program.
fn last_year(n: usize) -> String {
    let mut t = String::from("参加者番号,日付,歩数\n");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    for i in 0..n {
        let d = start + chrono::Duration::days((i % 365) as i64);
        t.push_str(&format!("A{:06},{d},{}\n", 2 + i / 365, 5000 + i % 7));
    }
    t
}

#[test]
fn a_sheet_of_another_year_is_named_as_such() {
    let e = Env::with_roster();
    let p = e.write("lastyear.csv", &last_year(400));
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("400 件の誤り")
        .stderr_has("どの行の日付も事業期間 2025-05-14〜2026-03-31 の外です")
        .stderr_has("is this last year's sheet?")
        .stderr_has("… ほか 380 件");
    // One row inside the period: not every row, no such guess.
    let mut text = last_year(400);
    text.push_str("A000002,2025-06-01,5000\n");
    let p = e.write("mixed.csv", &text);
    let r = e.run(&["steps", "import", s(&p)]).refused();
    assert!(!r.stderr.contains("別の年のシート"), "{}", r.stderr);
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn an_xlsx_report_holds_the_first_100000_problems_and_a_csv_beside_it_all() {
    let e = Env::with_roster();
    let p = e.write("lastyear.csv", &last_year(100_003));
    let report = e.path("e.xlsx");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused()
        .stderr_has("e_全件.csv");
    let rows = read_xlsx(&report, "誤り");
    assert!(
        rows[0][0].contains("誤りは全部で 100003 件"),
        "{:?}",
        rows[0]
    );
    assert!(rows[0][0].contains("e_全件.csv"));
    assert_eq!(rows[1][0], "ファイル");
    assert_eq!(rows.len(), 2 + 100_000);
    // Every problem, as many as the first sheet says.
    let full = codes_at(&e.path("e_全件.csv"));
    assert!(rows[0][0].contains(&format!("全部で {} 件", full.len())));
    assert_eq!(full.len(), 100_003);
    // One a row: out of the period, or not in the roster.
    assert!(full
        .iter()
        .all(|(_, c)| c == "date.out_of_period" || c == "participant.unknown"));
    // Both files are recorded as written.
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%e_全件.csv%' AND detail LIKE '%e.xlsx%'"),
        1
    );
}

#[test]
fn a_csv_report_takes_every_problem_in_file_order_with_late_ones_merged() {
    let e = Env::with_roster();
    // Row 2 and row 4 key the same day with different values (found after the last
    // row), row 3 is out of the period (found while reading).
    let text = "参加者番号,日付,歩数\nA000002,2025-06-01,5000\nA000002,2024-06-01,5000\nA000002,2025-06-01,6000\nA000002,2023-06-01,1\n";
    let p = e.write("s.csv", text);
    let report = e.path("e.csv");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused();
    let rows: Vec<String> = codes_at(&report).into_iter().map(|(c, _)| c).collect();
    let mut sorted = rows.clone();
    sorted.sort_by_key(|c| c[1..].parse::<u32>().unwrap());
    assert_eq!(rows, sorted, "file order");
    assert!(rows.len() >= 4, "{rows:?}");
}

#[test]
fn cells_over_excels_limit_are_cut_with_a_mark_not_a_failure() {
    let e = Env::init();
    let long = "あ".repeat(40_000);
    let text = format!(
        "{ROSTER_HEAD}X0001,{long},ヤマダ タロウ,160-0022,東京都新宿区新宿1-1-1,1955-04-01,男,台紙\n\
         X0002,佐藤 花子,サトウ ハナコ,160-0023,東京都新宿区西新宿2-2-2,1960-05-05,女,台紙\n"
    );
    let p = e.write("long.csv", &text);
    let report = e.path("e.xlsx");
    e.run(&[
        "roster",
        "import",
        s(&p),
        "--partial",
        "--errors",
        s(&report),
    ])
    .ok();
    let rows = read_xlsx(&report, "誤り");
    let raw = &rows[1][5];
    assert!(
        raw.contains("以下略: 全 40000 文字"),
        "{}",
        &raw[raw.len() - 300..]
    );
    assert!(raw.chars().count() <= 32_767);
    e.run(&[
        "batches",
        "show",
        "1",
        "--rejected",
        "--out",
        s(&e.path("r.xlsx")),
    ])
    .ok();
    let names = {
        use calamine::Reader;
        calamine::open_workbook_auto(e.path("r.xlsx"))
            .unwrap()
            .sheet_names()
            .to_vec()
    };
    let rows = read_xlsx(&e.path("r.xlsx"), &names[0]);
    assert!(rows
        .iter()
        .flatten()
        .any(|c| c.contains("以下略: 全 40000 文字")));
}

const ORDERS_PROGRAM: &str = r#"
[program]
name = "テスト健康ポイント"
municipality = "テスト市"
contractor = "株式会社テスト"
contract_no = "T-1"
start = 2025-05-14
end = 2025-08-31

[points]
bands = [ { steps = 2000, points = 1 }, { steps = 10000, points = 5 } ]

[[handlers]]
name = "山田 太郎"
role = "responsible"

[[prizes]]
code = "Q1"
name = "クオカード"
points = 10
stock = 10
"#;

/// The balance column of `points --as-of D` for P001.
fn balance_as_of(e: &Env, d: &str) -> i64 {
    let out = e.run(&["points", "--as-of", d]).ok().stdout;
    let line = out.lines().find(|l| l.starts_with("P001,")).unwrap();
    line.rsplit(',').next().unwrap().parse().unwrap()
}

#[test]
fn an_order_spends_only_points_earned_by_its_date() {
    let e = Env::new();
    e.write("program.toml", ORDERS_PROGRAM);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write(
        "roster.csv",
        "参加者番号,氏名,郵便番号,住所,電話番号,年齢,利用区分\n\
         P001,試験 一郎,160-0022,東京都新宿区新宿1-1-1,03-1111-0001,40,台紙\n",
    );
    e.run(&["roster", "import", "roster.csv"]).ok();
    // 5 points a day from 1 June: 10 points by 2 June, none in May.
    let mut steps = String::from("参加者番号,日付,歩数\n");
    for d in 1..=10 {
        steps.push_str(&format!("P001,2025-06-{d:02},10000\n"));
    }
    e.write("steps.csv", &steps);
    e.run(&["steps", "import", "steps.csv"]).ok();
    // Dated in May: nothing earned by then (June's steps cannot pay for it). Dated
    // 2 June: 10 earned, accepted. Dated 3 June: 15 earned, 10 used, refused. Dated
    // 4 June: 20 earned, 10 used, accepted.
    e.write(
        "orders.csv",
        "参加者番号,景品コード,数量,申込日\n\
         P001,Q1,1,2025-05-20\n\
         P001,Q1,1,2025-06-02\n\
         P001,Q1,1,2025-06-03\n\
         P001,Q1,1,2025-06-04\n",
    );
    let report = e.path("e.csv");
    e.run(&["orders", "import", "orders.csv", "--errors", s(&report)])
        .ok();
    let got = codes_at(&report);
    assert_eq!(
        got,
        vec![
            ("B2".to_string(), "points.insufficient".to_string()),
            ("B4".to_string(), "points.insufficient".to_string()),
        ]
    );
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("残高は 0 ポイント"), "{text}");
    for d in [
        "2025-05-20",
        "2025-06-02",
        "2025-06-03",
        "2025-06-04",
        "2025-08-31",
    ] {
        assert!(balance_as_of(&e, d) >= 0, "{d}");
    }
    assert_eq!(balance_as_of(&e, "2025-06-04"), 0);
}
