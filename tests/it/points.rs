//! Points, prizes and orders: points recomputed from what is stored (whatever the order
//! of batches, after undo and --replace), every order outcome, the undo guard.

use crate::harness::*;

/// A short program: Yokohama bands, 65+ bands, a monthly bonus, three prizes.
const PROGRAM_TOML: &str = r#"
[program]
name = "テスト健康ポイント"
municipality = "テスト市"
contractor = "株式会社テスト"
contract_no = "T-1"
start = 2025-05-14
end = 2025-08-31

[points]
bands = [
  { steps = 2000, points = 1 }, { steps = 4000, points = 2 },
  { steps = 6000, points = 3 }, { steps = 8000, points = 4 },
  { steps = 10000, points = 5 },
]
daily_cap = 5

[[points.age_bands]]
min_age = 65
bands = [ { steps = 4000, points = 3 }, { steps = 6000, points = 5 } ]

[[points.bonus]]
name = "毎日1万歩達成"
min_days = 20
min_steps = 10000
points = 20

[[prizes]]
code = "Q1"
name = "QUOカード"
points = 250
stock = 2
per_person = 1

[[prizes]]
code = "T1"
name = "商品券"
points = 50
stock = 100

[[prizes]]
code = "G1"
name = "歩数計"
points = 10
stock = 1

[[handlers]]
name = "山田 太郎"
role = "responsible"
"#;

/// P001 standard table, P002 65+ by birth date, P003 an app user with no address,
/// P004 65+ by the age column.
const ROSTER: &str = "参加者番号,氏名,郵便番号,住所,生年月日,年齢,利用区分\n\
P001,試験 一郎,160-0022,東京都新宿区新宿1-1-1,1980-04-01,,台紙\n\
P002,試験 二郎,160-0022,東京都新宿区新宿1-1-2,1960-05-14,,台紙\n\
P003,試験 三郎,,,1990-01-01,,アプリ\n\
P004,試験 四郎,160-0022,東京都新宿区新宿1-1-4,,70,台紙\n";

fn long(rows: impl IntoIterator<Item = (&'static str, String, i64)>) -> String {
    let mut s = String::from("参加者番号,日付,歩数\n");
    for (p, d, n) in rows {
        s.push_str(&format!("{p},{d},{n}\n"));
    }
    s
}

/// June: P001 10,000 steps every day (5 points × 30 + the bonus 20 = 170).
fn steps_a() -> String {
    long((1..=30).map(|d| ("P001", format!("2025-06-{d:02}"), 10000)))
}

/// July: P001 8,000 every day (4 × 31 = 124); P002 4,000 on 20 days (65+: 3 × 20 = 60).
fn steps_b() -> String {
    long(
        (1..=31)
            .map(|d| ("P001", format!("2025-07-{d:02}"), 8000))
            .chain((1..=20).map(|d| ("P002", format!("2025-07-{d:02}"), 4000))),
    )
}

fn setup() -> Env {
    let e = Env::new();
    e.write("program.toml", PROGRAM_TOML);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write("roster.csv", ROSTER);
    e.run(&["roster", "import", "roster.csv"]).ok();
    e.write("a.csv", &steps_a());
    e.write("b.csv", &steps_b());
    e
}

/// `points` on stdout, as rows of cells (header dropped).
fn points(e: &Env, extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["points"];
    args.extend_from_slice(extra);
    let out = e.run(&args).ok().stdout;
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("参加者番号,記録日数,合計歩数,日々のポイント,ボーナス,使用ポイント,残高")
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn row(id: &str, cells: [i64; 6]) -> Vec<String> {
    std::iter::once(id.to_string())
        .chain(cells.iter().map(|c| c.to_string()))
        .collect()
}

#[test]
fn points_are_the_same_whatever_order_the_batches_came_in() {
    let first = setup();
    first.run(&["steps", "import", "a.csv"]).ok();
    first.run(&["steps", "import", "b.csv"]).ok();
    let second = setup();
    second.run(&["steps", "import", "b.csv"]).ok();
    second.run(&["steps", "import", "a.csv"]).ok();
    let expected = vec![
        row("P001", [61, 300000 + 248000, 150 + 124, 20, 0, 294]),
        row("P002", [20, 80000, 60, 0, 0, 60]),
        row("P003", [0, 0, 0, 0, 0, 0]),
        row("P004", [0, 0, 0, 0, 0, 0]),
    ];
    assert_eq!(points(&first, &[]), expected);
    assert_eq!(points(&second, &[]), expected);
}

#[test]
fn as_of_counts_days_up_to_the_date() {
    let e = setup();
    e.run(&["steps", "import", "a.csv"]).ok();
    e.run(&["steps", "import", "b.csv"]).ok();
    let rows = points(&e, &["--as-of", "R7.6.30"]);
    assert_eq!(rows[0], row("P001", [30, 300000, 150, 20, 0, 170]));
    assert_eq!(rows[1], row("P002", [0, 0, 0, 0, 0, 0]));
    // 19 June days: one short of the bonus.
    let rows = points(&e, &["--as-of", "2025-06-19"]);
    assert_eq!(rows[0], row("P001", [19, 190000, 95, 0, 0, 95]));
    e.run(&["points", "--as-of", "6月のどこか"])
        .usage()
        .stderr_has("--as-of「6月のどこか」を日付として読めません");
}

#[test]
fn the_age_column_gives_the_older_table_without_a_birth_date() {
    let e = setup();
    e.write(
        "c.csv",
        &long([
            ("P004", "2025-06-01".to_string(), 4000),
            ("P001", "2025-06-01".to_string(), 4000),
        ]),
    );
    e.run(&["steps", "import", "c.csv"]).ok();
    let rows = points(&e, &[]);
    assert_eq!(rows[0][3], "2", "P001 standard: 4,000 steps = 2");
    assert_eq!(rows[3][3], "3", "P004 (年齢 70): 4,000 steps = 3");
}

#[test]
fn points_export_to_xlsx_and_one_participants_detail() {
    let e = setup();
    e.run(&["steps", "import", "a.csv"]).ok();
    e.run(&["steps", "import", "b.csv"]).ok();
    e.run(&["points", "--out", "points.xlsx"])
        .ok()
        .stderr_has("4 名: 獲得 354 ポイント");
    let sheet = read_xlsx(&e.path("points.xlsx"), "ポイント");
    assert_eq!(sheet.len(), 5);
    assert_eq!(
        sheet[1],
        vec!["P001", "61", "548000", "274", "20", "0", "294"]
    );
    assert_eq!(
        e.count("SELECT count(*) FROM exports WHERE path LIKE '%points.xlsx'"),
        1
    );

    let out = e
        .run(&["points", "--participant", "P001", "--detail"])
        .ok()
        .stderr_has("P001: 記録 61 日、日々のポイント 274、ボーナス 20、使用 0、残高 294")
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "参加者番号,区分,日付,歩数,ポイント,取込み,内容");
    assert_eq!(lines[1], "P001,日,2025-06-01,10000,5,2,標準の表");
    assert_eq!(lines[31], "P001,日,2025-07-01,8000,4,3,標準の表");
    assert_eq!(
        lines[62],
        "P001,ボーナス,2025-06,,20,,毎日1万歩達成（10000 歩以上の日が 30 日、条件 20 日）"
    );
    // The ledger ends with the balance it comes to.
    assert!(lines[63].starts_with("P001,残高,"), "{}", lines[63]);
    assert!(
        lines[63].ends_with(",,294,,獲得 294（日々 274、ボーナス 20）− 使用 0"),
        "{}",
        lines[63]
    );
    assert_eq!(lines.len(), 64);

    let out = e
        .run(&["points", "--participant", "P002", "--detail"])
        .ok()
        .stdout;
    assert!(
        out.contains("P002,日,2025-07-01,4000,3,3,65歳以上の表"),
        "{out}"
    );

    e.run(&["points", "--participant", "P999"])
        .refused()
        .stderr_has("参加者番号 P999 は名簿にありません");
    e.run(&["points", "--detail"]).usage();
}

const ORDERS: &str = "景品申込み 9月受付分\n\
参加者番号,景品コード,数量,申込日\n\
P001,Q1,1,2025-09-01\n\
P001,Q1,1,2025-09-01\n\
P001,T1,1,R7.9.2\n\
P002,T1,1,2025/9/2\n\
P002,g1,１,2025-09-03\n\
P001,G1,1,2025-09-03\n\
P002,Z9,1,2025-09-04\n\
P003,T1,1,2025-09-04\n\
P004,T1,1,2025-09-05\n";

fn orders_env() -> Env {
    let e = setup();
    e.run(&["steps", "import", "a.csv"]).ok();
    e.run(&["steps", "import", "b.csv"]).ok();
    e.write_cp932("orders.csv", ORDERS);
    e
}

fn outcomes(e: &Env) -> Vec<(i64, String, String, String, i64)> {
    let c = e.conn();
    let mut stmt = c
        .prepare(
            "SELECT row_no, participant_id, status, COALESCE(code,''), points FROM orders ORDER BY row_no",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[test]
fn every_order_outcome_in_file_order() {
    let e = orders_env();
    e.run(&["orders", "import", "orders.csv", "--errors", "report.csv"])
        .ok()
        .stderr_has("申込み: 受付 3 件（3 個、310 ポイント）、却下 6 件")
        .stderr_has("points.insufficient（ポイントが足りない）: 2 件");
    let s = |x: &str| x.to_string();
    assert_eq!(
        outcomes(&e),
        vec![
            // P001 has 294: Q1 (250) accepted, leaving 44.
            (3, s("P001"), s("accepted"), s(""), 250),
            (
                4,
                s("P001"),
                s("rejected"),
                s("prize.per_person_limit"),
                250
            ),
            // 294 would cover T1, but 44 is left after row 3.
            (5, s("P001"), s("rejected"), s("points.insufficient"), 50),
            (6, s("P002"), s("accepted"), s(""), 50),
            // Keyed lower-case and full-width: the same prize.
            (7, s("P002"), s("accepted"), s(""), 10),
            (8, s("P001"), s("rejected"), s("prize.out_of_stock"), 10),
            (9, s("P002"), s("rejected"), s("prize.unknown"), 0),
            (
                10,
                s("P003"),
                s("rejected"),
                s("participant.no_address"),
                50
            ),
            (11, s("P004"), s("rejected"), s("points.insufficient"), 50),
        ]
    );
    // The report names each participant to be told, with the cell and the code.
    let report = std::fs::read_to_string(e.path("report.csv")).unwrap();
    let lines: Vec<&str> = report.lines().skip(1).collect();
    assert_eq!(lines.len(), 6, "{report}");
    assert!(lines[0].contains(",orders,C4,4,数量,1,prize.per_person_limit,"));
    assert!(lines[0].contains("参加者 P001 の申込み（2025-09-01）を受け付けられません"));
    assert!(lines[1].contains("50 ポイントが必要ですが、残高は 44 ポイントです"));
    assert!(lines[4].contains("P003") && lines[4].contains("participant.no_address"));

    // Points used come from accepted orders.
    let rows = points(&e, &[]);
    assert_eq!(rows[0], row("P001", [61, 548000, 274, 20, 250, 44]));
    assert_eq!(rows[1], row("P002", [20, 80000, 60, 0, 60, 0]));
    // Used points as of a date before the applications: none.
    assert_eq!(points(&e, &["--as-of", "2025-08-31"])[0][5], "0");

    let prizes = e.run(&["prizes", "--format", "csv"]).ok().stdout;
    let lines: Vec<&str> = prizes.lines().collect();
    assert_eq!(
        lines,
        vec![
            "コード,景品名,必要ポイント,1人上限,在庫,受付件数,受付数量,残り,却下件数",
            "Q1,QUOカード,250,1,2,1,1,1,1",
            "T1,商品券,50,なし,100,1,1,99,3",
            "G1,歩数計,10,なし,1,1,1,0,1",
        ]
    );

    // The batch still lists whom to tell.
    let shown = e.run(&["batches", "show", "4"]).ok().stdout;
    assert!(
        shown.contains("受付した申込み: 3 件（310 ポイント）"),
        "{shown}"
    );
    assert!(
        shown.contains("orders!10行目 P003 T1×1 participant.no_address"),
        "{shown}"
    );

    // Re-importing the same file changes nothing.
    e.run(&["orders", "import", "orders.csv"])
        .ok()
        .stderr_has("取り込み済みです。何も変えていません");
    assert_eq!(e.count("SELECT count(*) FROM orders"), 9);
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='orders'"),
        1
    );
}

#[test]
fn a_later_file_sees_stock_and_limits_used_by_earlier_batches() {
    let e = orders_env();
    e.write(
        "o1.csv",
        "参加者番号,景品コード,数量,申込日\nP001,Q1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o1.csv"]).ok();
    e.write(
        "o2.csv",
        "参加者番号,景品コード,数量,申込日\nP001,Q1,1,2025-09-10\nP002,T1,2,2025-09-10\n",
    );
    e.run(&["orders", "import", "o2.csv"]).ok();
    let got: Vec<String> = outcomes(&e).into_iter().map(|o| o.3).collect();
    assert_eq!(
        got,
        vec!["", "prize.per_person_limit", "points.insufficient"]
    );
}

#[test]
fn unreadable_applications_are_file_problems_and_refuse_the_file() {
    let e = orders_env();
    e.write(
        "bad.csv",
        "参加者番号,景品コード,数量,申込日\n\
         P001,T1,1,2025-09-01\n\
         Z999,T1,1,2025-09-01\n\
         P002,T1,0,2025-09-01\n\
         P002,T1,,2025-09-01\n\
         P002,T1,1,2025-13-01\n\
         P002,景品,1,2025-09-01\n\
         P002,T1,1,2025-05-01\n",
    );
    let r = e
        .run(&["orders", "import", "bad.csv", "--errors", "bad_errors.csv"])
        .refused()
        .stderr_has("何も取り込んでいません");
    assert_eq!(e.count("SELECT count(*) FROM orders"), 0);
    let report = std::fs::read_to_string(e.path("bad_errors.csv")).unwrap();
    for (cell, code) in [
        ("A3", "participant.unknown"),
        ("C4", "quantity.invalid"),
        ("C5", "quantity.missing"),
        ("D6", "date.invalid"),
        ("B7", "prize.code_invalid"),
        ("D8", "date.out_of_period"),
    ] {
        assert!(
            report.contains(&format!(",{cell},")) && report.contains(code),
            "{cell} {code}:\n{report}\n{}",
            r.stderr
        );
    }
    assert_eq!(report.lines().count(), 7, "{report}");

    // --partial: the good row is decided, the bad rows are kept for fixing.
    e.run(&["orders", "import", "bad.csv", "--partial"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM orders"), 1);
    assert_eq!(e.count("SELECT count(*) FROM rejected_rows"), 6);
}

#[test]
fn a_card_user_without_an_address_is_refused_the_prize() {
    let e = orders_env();
    // A card user whose address was lost (kept stored from an older roster, say).
    e.conn()
        .execute("UPDATE participants SET address=NULL WHERE id='P001'", [])
        .unwrap();
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"])
        .ok()
        .stderr_has("participant.no_address");
    assert_eq!(outcomes(&e)[0].3, "participant.no_address");
}

#[test]
fn undo_is_refused_where_used_points_would_exceed_the_balance() {
    let e = orders_env();
    // Batch 1 roster, 2 June (a.csv), 3 July (b.csv), 4 the orders.
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,Q1,1,2025-09-01\nP002,T1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    let steps = e.count("SELECT count(*) FROM steps");

    // Without July P001 has 170 < 250 used, and P002 0 < 50.
    e.run(&["batches", "undo", "3"])
        .refused()
        .stderr_has("参加者 2 名のポイントが受付済みの景品申込みで使ったポイントを下回る")
        .stderr_has("P001（取消後 170、使用 250）")
        .stderr_has("P002（取消後 0、使用 50）");
    e.run(&["batches", "undo", "2"])
        .refused()
        .stderr_has("P001（取消後 124、使用 250）");
    assert_eq!(e.count("SELECT count(*) FROM steps"), steps);
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE status='committed'"),
        4
    );
    // The roster cannot go while its participants have steps or orders.
    e.run(&["batches", "undo", "1"]).refused();

    // Undo the orders: points are free again, then the steps can go.
    e.run(&["batches", "undo", "4"])
        .ok()
        .stderr_has("2 件を削除");
    assert_eq!(e.count("SELECT count(*) FROM orders"), 0);
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [61, 548000, 274, 20, 0, 294])
    );
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [30, 300000, 150, 20, 0, 170])
    );

    // The same orders file can be imported again after its undo, and is decided on the
    // points there are now.
    e.run(&["orders", "import", "o.csv"]).ok();
    let got: Vec<String> = outcomes(&e).into_iter().map(|o| o.3).collect();
    assert_eq!(got, vec!["points.insufficient", "points.insufficient"]);
}

#[test]
fn an_undo_that_keeps_balances_covered_goes_through() {
    let e = orders_env();
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,2,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    // P001 keeps 170 from June, more than the 100 used.
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [30, 300000, 150, 20, 100, 70])
    );
}

#[test]
fn points_follow_a_replace_and_its_undo() {
    let e = setup();
    e.run(&["steps", "import", "a.csv"]).ok();
    // 15 June rekeyed as 3,000: 1 point instead of 5, and June still has 29 bonus days.
    e.write("fix.csv", &long([("P001", "2025-06-15".to_string(), 3000)]));
    e.run(&["steps", "import", "fix.csv", "--replace"]).ok();
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [30, 293000, 146, 20, 0, 166])
    );
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [30, 300000, 150, 20, 0, 170])
    );
}

#[test]
fn an_orders_batch_with_a_shipped_order_cannot_be_undone() {
    let e = orders_env();
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    e.conn()
        .execute("UPDATE orders SET shipment_id=1", [])
        .unwrap();
    e.run(&["batches", "undo", "4"])
        .refused()
        .stderr_has("1 件は発送済みのため、取り消せません");
    assert_eq!(e.count("SELECT count(*) FROM orders"), 1);
}

#[test]
fn a_roster_batch_whose_participants_applied_cannot_be_undone() {
    let e = orders_env();
    e.write(
        "late.csv",
        "参加者番号,氏名,郵便番号,住所,生年月日,利用区分\nP005,試験 五郎,,,1990-01-01,アプリ\n",
    );
    e.run(&["roster", "import", "late.csv"]).ok();
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP005,T1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    e.run(&["batches", "undo", "4"])
        .refused()
        .stderr_has("参加者 1 名には景品の申込みがあるため、取り消せません")
        .stderr_has(": P005");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 5);
}

#[test]
fn the_audit_entry_counts_without_personal_data() {
    let e = orders_env();
    e.run(&["orders", "import", "orders.csv"]).ok();
    e.run(&["points", "--participant", "P001", "--detail"]).ok();
    let c = e.conn();
    let details: Vec<String> = c
        .prepare("SELECT detail FROM audit_log WHERE command IN ('orders import', 'points') ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(details.len(), 2);
    assert!(
        details[0].contains("\"orders_accepted\":3"),
        "{}",
        details[0]
    );
    assert!(details[0].contains("\"rejected.prize.unknown\":1"));
    for d in &details {
        assert!(!d.contains("P001") && !d.contains("試験"), "{d}");
    }
}

#[test]
fn undoing_a_roster_update_that_changed_the_age_table_is_guarded_too() {
    let e = orders_env();
    // P001's birth date corrected to 1950: the 65+ table, July's 8,000 steps now 5 a day.
    e.write(
        "fix.csv",
        "参加者番号,氏名,郵便番号,住所,生年月日,年齢,利用区分\n\
         P001,試験 一郎,160-0022,東京都新宿区新宿1-1-1,1950-04-01,,台紙\n",
    );
    e.run(&["roster", "import", "fix.csv", "--update"]).ok();
    assert_eq!(
        points(&e, &[])[0],
        row("P001", [61, 548000, 305, 20, 0, 325])
    );
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,Q1,1,2025-09-01\nP001,T1,1,2025-09-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    // Back to 1980 the points would be 294, below the 300 used.
    e.run(&["batches", "undo", "4"])
        .refused()
        .stderr_has("P001（取消後 294、使用 300）");
    let birth: String = e
        .conn()
        .query_row(
            "SELECT birth_date FROM participants WHERE id='P001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(birth, "1950-04-01");
}

#[test]
fn a_replace_that_would_overdraw_a_balance_is_refused() {
    let e = setup();
    e.run(&["steps", "import", "a.csv"]).ok();
    // June earns P001 170 points; T1 × 3 uses 150.
    e.write(
        "o.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,3,2025-07-01\n",
    );
    e.run(&["orders", "import", "o.csv"]).ok();
    // Rekeying five June days as 0 steps would leave 25 × 5 + the bonus 20 = 145: refused.
    e.write(
        "fix.csv",
        &long((1..=5).map(|d| ("P001", format!("2025-06-{d:02}"), 0))),
    );
    e.run(&["steps", "import", "fix.csv", "--replace"])
        .refused()
        .stderr_has("P001（145 / 150）");
    assert_eq!(e.steps("P001", "2025-06-01"), Some(10000));
    // A smaller correction that keeps the balance covered goes through.
    e.write(
        "fix2.csv",
        &long([("P001", "2025-06-01".to_string(), 9000)]),
    );
    e.run(&["steps", "import", "fix2.csv", "--replace"]).ok();
    assert_eq!(e.steps("P001", "2025-06-01"), Some(9000));
}
