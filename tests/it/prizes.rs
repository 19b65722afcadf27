//! Prize codes in the program file read as order files read them (NFKC, trimmed, upper
//! case), so stock, per-person limits, the `prizes` listing and the shipping list all
//! meet the orders stored under them.

use crate::harness::*;

fn program(codes: &[&str]) -> String {
    let mut s = String::from(
        r#"
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
"#,
    );
    for (i, c) in codes.iter().enumerate() {
        s.push_str(&format!(
            "\n[[prizes]]\ncode = \"{c}\"\nname = \"クオカード{i}\"\npoints = 10\nstock = 1\nper_person = 1\n"
        ));
    }
    s
}

const ROSTER: &str = "参加者番号,氏名,郵便番号,住所,電話番号,年齢,利用区分\n\
P001,試験 一郎,160-0022,東京都新宿区新宿1-1-1,03-1111-0001,40,台紙\n\
P002,試験 二郎,100-0001,東京都千代田区千代田1-1,03-1111-0002,40,台紙\n";

fn orders(e: &Env, name: &str, rows: &[(&str, &str)]) {
    let mut s = String::from("参加者番号,景品コード,数量,申込日\n");
    for (p, c) in rows {
        s.push_str(&format!("{p},{c},1,2025-09-01\n"));
    }
    e.write(name, &s);
    e.run(&["orders", "import", name]).ok();
}

fn statuses(e: &Env) -> Vec<(String, String, String, Option<String>)> {
    let c = e.conn();
    let mut stmt = c
        .prepare("SELECT participant_id, prize_code, status, code FROM orders ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_lower_case_prize_code_keeps_its_stock_and_limit_across_order_files() {
    let e = Env::new();
    e.write("program.toml", &program(&["q1"]));
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write("roster.csv", ROSTER);
    e.run(&["roster", "import", "roster.csv"]).ok();
    let mut steps = String::from("参加者番号,日付,歩数\n");
    for p in ["P001", "P002"] {
        for d in 1..=5 {
            steps.push_str(&format!("{p},2025-06-{d:02},10000\n"));
        }
    }
    e.write("steps.csv", &steps);
    e.run(&["steps", "import", "steps.csv"]).ok();

    orders(&e, "orders1.csv", &[("P001", "q1")]);
    // A second file: P001 is over the one-per-person limit, P002 finds no stock left.
    orders(&e, "orders2.csv", &[("P001", "Q1"), ("P002", "ｑ１")]);
    let s = |p: &str, st: &str, code: Option<&str>| {
        (
            p.to_string(),
            "Q1".to_string(),
            st.to_string(),
            code.map(str::to_string),
        )
    };
    assert_eq!(
        statuses(&e),
        vec![
            s("P001", "accepted", None),
            s("P001", "rejected", Some("prize.per_person_limit")),
            s("P002", "rejected", Some("prize.out_of_stock")),
        ]
    );

    let out = e.run(&["prizes", "--format", "csv"]).ok().stdout;
    let q1 = out.lines().find(|l| l.starts_with("Q1,")).expect(&out);
    // 受付件数 1, 受付数量 1, 残り 0, 却下件数 2.
    assert_eq!(q1, "Q1,クオカード0,10,1,1,1,1,0,2", "{out}");

    e.run(&["ship", "--out", "list.xlsx"]).ok();
    let sheet = read_xlsx(&e.path("list.xlsx"), "発送リスト");
    assert_eq!(
        sheet[1][7..9],
        ["Q1".to_string(), "クオカード0".to_string()]
    );
}

#[test]
fn init_reads_prize_codes_as_orders_are_read() {
    let e = Env::new();
    e.write("program.toml", &program(&["ｑ１", " T1 "]));
    e.run(&["init", "--program", "program.toml"]).ok();
    let out = e.run(&["prizes", "--format", "csv"]).ok().stdout;
    assert!(out.contains("\nQ1,クオカード0,"), "{out}");
    assert!(out.contains("\nT1,クオカード1,"), "{out}");
}

#[test]
fn init_refuses_prize_codes_no_order_can_match_or_that_read_alike() {
    let e = Env::new();
    e.write("program.toml", &program(&["Q1", "景品1", " q1 "]));
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("prizes[1].code: 景品コード「景品1」は申込書の景品コードとして読めません")
        .stderr_has(
            "prizes[2].code: 景品コード 「 q1 」（読むと Q1） は prizes[0].code「Q1」と同じコードになります",
        );
    assert!(!e.db().exists());
}

#[test]
fn a_database_made_before_still_opens_with_codes_init_now_refuses() {
    let e = Env::new();
    e.write("program.toml", &program(&["Q1"]));
    e.run(&["init", "--program", "program.toml"]).ok();
    // As an earlier build stored it: a code no order can match, and two that read alike,
    // with init's chained entry recording that program (as that build's init did).
    let stored = program(&["景品1", "q1", "Q1"]);
    let c = e.conn();
    c.execute(
        "UPDATE meta SET value=?1 WHERE key='program_toml'",
        [&stored],
    )
    .unwrap();
    let hex = |b: &[u8]| {
        use sha2::{Digest, Sha256};
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let (at, op, cmd, detail, prev): (String, String, String, String, String) = c
        .query_row(
            "SELECT at, operator, command, detail, prev_hash FROM audit_log WHERE seq=1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    let old_sha = hex(program(&["Q1"]).as_bytes());
    let detail = detail.replace(&old_sha, &hex(stored.as_bytes()));
    let h = hex(format!("1\n{at}\n{op}\n{cmd}\n{detail}\n{prev}").as_bytes());
    c.execute(
        "UPDATE audit_log SET detail=?1, hash=?2 WHERE seq=1",
        [&detail, &h],
    )
    .unwrap();
    c.execute("UPDATE meta SET value=?1 WHERE key='audit_head'", [&h])
        .unwrap();
    drop(c);
    let out = e.run(&["prizes", "--format", "csv"]).ok().stdout;
    assert!(out.contains("\n景品1,クオカード0,"), "{out}");
    assert!(out.contains("\nQ1,クオカード1,"), "{out}");
}
