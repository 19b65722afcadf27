//! Orders import: applications of interleaved participants decided in file order against
//! a model of the documented rule (balance by 申込日 less points used, per-person limit,
//! global stock), and the import's working tables never left in the database.

use crate::harness::*;

/// 10,000 steps a day earn 5 points; no bonus. Two prizes run out or are limited.
const PROGRAM_TOML: &str = r#"
[program]
name = "テスト健康ポイント"
municipality = "テスト市"
contractor = "株式会社テスト"
contract_no = "T-1"
start = 2025-05-14
end = 2025-08-31

[points]
bands = [ { steps = 10000, points = 5 } ]
daily_cap = 5

[[prizes]]
code = "Q1"
name = "QUOカード"
points = 40
stock = 100
per_person = 2

[[prizes]]
code = "T1"
name = "商品券"
points = 15
stock = 1000

[[prizes]]
code = "G1"
name = "歩数計"
points = 20
stock = 3

[[handlers]]
name = "山田 太郎"
role = "responsible"
"#;

/// (prize, points, stock, per-person limit), as in the program above.
const PRIZES: [(&str, i64, i64, Option<i64>); 3] = [
    ("Q1", 40, 100, Some(2)),
    ("T1", 15, 1000, None),
    ("G1", 20, 3, None),
];

const PEOPLE: [&str; 6] = ["P001", "P002", "P003", "P004", "P005", "P006"];

/// P006 has no address (an app user).
fn roster() -> String {
    let mut s = String::from("参加者番号,氏名,郵便番号,住所,生年月日,年齢,利用区分\n");
    for (i, p) in PEOPLE.iter().enumerate() {
        match i {
            5 => s.push_str(&format!("{p},試験 {i},,,1990-01-01,,アプリ\n")),
            _ => s.push_str(&format!(
                "{p},試験 {i},160-0022,東京都新宿区新宿1-1-{i},1980-04-01,,台紙\n"
            )),
        }
    }
    s
}

/// Day `d` of June and July (0-based from June 1) is walked by participant `i` when
/// `(d + i) % (i + 2) != 0`: each earns at a different pace.
fn walked(i: usize, d: u32) -> bool {
    !(d as usize + i).is_multiple_of(i + 2)
}

fn date_of(d: u32) -> String {
    if d < 30 {
        format!("2025-06-{:02}", d + 1)
    } else {
        format!("2025-07-{:02}", d - 29)
    }
}

fn steps() -> String {
    let mut s = String::from("参加者番号,日付,歩数\n");
    for (i, p) in PEOPLE.iter().enumerate() {
        for d in 0..61 {
            if walked(i, d) {
                s.push_str(&format!("{p},{},10000\n", date_of(d)));
            }
        }
    }
    s
}

/// Points earned by the end of day `upto` (0-based from June 1; ≥ 61: all).
fn earned(i: usize, upto: u32) -> i64 {
    (0..61u32.min(upto + 1)).filter(|&d| walked(i, d)).count() as i64 * 5
}

/// Applications interleaved across participants: (participant, prize, quantity, day).
fn applications(n: usize, seed: u64) -> Vec<(usize, usize, i64, u32)> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let r = next();
            (
                (r % 6) as usize,
                ((r >> 8) % 3) as usize,
                1 + ((r >> 16) % 2) as i64,
                ((r >> 24) % 75) as u32,
            )
        })
        .collect()
}

fn file(apps: &[(usize, usize, i64, u32)]) -> String {
    let mut s = String::from("参加者番号,景品コード,数量,申込日\n");
    for &(i, k, q, d) in apps {
        let on = if d < 61 {
            date_of(d)
        } else {
            format!("2025-08-{:02}", d - 60)
        };
        s.push_str(&format!("{},{},{q},{on}\n", PEOPLE[i], PRIZES[k].0));
    }
    s
}

/// The documented rule, decided in file order: no address, the per-person limit, the
/// balance by the 申込日 less the points of orders accepted before, then the stock.
struct Model {
    used: [i64; 6],
    had: [[i64; 3]; 6],
    taken: [i64; 3],
}

impl Model {
    fn decide(&mut self, (i, k, q, d): (usize, usize, i64, u32)) -> (String, i64) {
        let (_, points, stock, limit) = PRIZES[k];
        let cost = points * q;
        let code = if i == 5 {
            "participant.no_address"
        } else if limit.is_some_and(|l| self.had[i][k] + q > l) {
            "prize.per_person_limit"
        } else if earned(i, d) - self.used[i] < cost {
            "points.insufficient"
        } else if self.taken[k] + q > stock {
            "prize.out_of_stock"
        } else {
            self.used[i] += cost;
            self.had[i][k] += q;
            self.taken[k] += q;
            ""
        };
        (code.to_string(), cost)
    }
}

fn setup() -> Env {
    let e = Env::new();
    e.write("program.toml", PROGRAM_TOML);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write("roster.csv", &roster());
    e.run(&["roster", "import", "roster.csv"]).ok();
    e.write("steps.csv", &steps());
    e.run(&["steps", "import", "steps.csv"]).ok();
    e
}

/// Stored outcomes of a batch in row order: (participant, code or "", points).
fn outcomes(e: &Env, batch: i64) -> Vec<(String, String, i64)> {
    let c = e.conn();
    let mut stmt = c
        .prepare(
            "SELECT participant_id, COALESCE(code,''), points FROM orders WHERE batch_id=?1 ORDER BY row_no",
        )
        .unwrap();
    stmt.query_map([batch], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn no_working_tables(e: &Env) {
    assert_eq!(
        e.count("SELECT count(*) FROM sqlite_master WHERE name LIKE 'stepcard_orders%'"),
        0
    );
}

#[test]
fn orders_of_interleaved_participants_follow_the_rule_in_file_order_across_files() {
    let e = setup();
    let mut model = Model {
        used: [0; 6],
        had: [[0; 3]; 6],
        taken: [0; 3],
    };
    let mut out_of_stock = 0;
    for (n, seed) in [(60, 19u64), (40, 7)] {
        let apps = applications(n, seed);
        e.write("o.csv", &file(&apps));
        e.run(&["orders", "import", "o.csv"]).ok();
        no_working_tables(&e);
        let batch = e.count("SELECT max(id) FROM batches");
        let want: Vec<(String, String, i64)> = apps
            .iter()
            .map(|&a| {
                let (code, cost) = model.decide(a);
                (PEOPLE[a.0].to_string(), code, cost)
            })
            .collect();
        out_of_stock += want.iter().filter(|w| w.1 == "prize.out_of_stock").count();
        assert_eq!(outcomes(&e, batch), want, "batch {batch}");
    }
    // The data exercise every outcome, the stock running out mid-file among them.
    assert!(out_of_stock > 0);
    assert_eq!(model.taken[2], 3);
    assert!(model.had.iter().any(|h| h[0] == 2));
}

#[test]
fn a_refused_or_dry_run_orders_file_leaves_no_working_tables() {
    let e = setup();
    e.write(
        "bad.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,1,2025-07-01\nZ999,T1,1,2025-07-01\n",
    );
    e.run(&["orders", "import", "bad.csv"]).refused();
    no_working_tables(&e);
    e.write(
        "good.csv",
        "参加者番号,景品コード,数量,申込日\nP001,T1,1,2025-07-01\n",
    );
    e.run(&["orders", "import", "good.csv", "--dry-run"]).ok();
    no_working_tables(&e);
    assert_eq!(e.count("SELECT count(*) FROM orders"), 0);
    e.run(&["orders", "import", "bad.csv", "--partial"]).ok();
    no_working_tables(&e);
    assert_eq!(e.count("SELECT count(*) FROM orders"), 1);
}
