//! Who keyed what (`--keyed-by`, `quality`): a two-keyer example worked by hand.
//!
//! 山田 keys 10 rows (10 days) of June; 佐藤 keys the same cards with three mistakes:
//! 800 for 8000 (steps), C000001's 5th on the 6th (date), C000004's 5th under C000005
//! (participant number). 佐藤 then corrects the keying, the first keying is imported
//! verified, which settles all three as 佐藤's. 佐藤 also imports 4 rows of their own and
//! has one file refused (80000 steps, an unknown participant).
//!
//! By hand: 山田 10 / 10 / 10 cells, one discrepancy in each field, no error. 佐藤
//! 14 / 14 / 14 cells (10 + 4), one discrepancy and one error in each field: 1 / 14 ×
//! 10,000 = 714.3 per 10,000 cells; in all 3 errors in 42 cells, 714.3.

use crate::harness::{read_xlsx, s, Env};

const A: &str = "参加者番号,日付,歩数
C000001,2025-06-01,5000
C000001,2025-06-02,6000
C000001,2025-06-03,8000
C000001,2025-06-04,7000
C000001,2025-06-05,9000
C000004,2025-06-01,3000
C000004,2025-06-02,3100
C000004,2025-06-03,3200
C000004,2025-06-04,3300
C000004,2025-06-05,3400
";

const YAMADA: &str = "山田 太郎";
const SATO: &str = "佐藤 花子";

fn keyed(e: &Env) {
    e.write("a.csv", A);
    let b = A
        .replace("2025-06-03,8000", "2025-06-03,800")
        .replace("2025-06-05,9000", "2025-06-06,9000")
        .replace("C000004,2025-06-05", "C000005,2025-06-05");
    e.write("b.csv", &b);
    // The corrected second keying: the same values, keyed with slashes.
    e.write("b2.csv", &A.replace("2025-06-0", "2025/6/"));
    let by = ["--keyed-by", YAMADA, "--keyed-by", SATO];
    let mut args = vec!["steps", "verify", "a.csv", "b.csv"];
    args.extend(by);
    e.run(&args).refused();
    let mut args = vec!["steps", "verify", "a.csv", "b2.csv", "--import"];
    args.extend(by);
    e.run(&args).ok();
    e.write(
        "c.csv",
        "参加者番号,日付,歩数\nC000004,2025-06-10,1\nC000004,2025-06-11,2\nC000004,2025-06-12,3\nC000004,2025-06-13,4\n",
    );
    e.run(&["steps", "import", "c.csv", "--keyed-by", SATO])
        .ok();
    e.write(
        "bad.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-20,80000\nC999999,2025-06-20,100\n",
    );
    e.run(&["steps", "import", "bad.csv", "--keyed-by", SATO])
        .refused();
}

const WANT: &str =
    "入力者\t項目\t入力したセル\t不一致\t誤り（確定）\t未確定\t誤り率（1万セルあたり）
佐藤 花子\t参加者番号\t14\t1\t1\t0\t714.3
佐藤 花子\t日付・年月\t14\t1\t1\t0\t714.3
佐藤 花子\t歩数\t14\t1\t1\t0\t714.3
佐藤 花子\t計\t42\t3\t3\t0\t714.3
山田 太郎\t参加者番号\t10\t1\t0\t0\t0.0
山田 太郎\t日付・年月\t10\t1\t0\t0\t0.0
山田 太郎\t歩数\t10\t1\t0\t0\t0.0
山田 太郎\t計\t30\t3\t0\t0\t0.0

入力者\tコード\t件数\t意味
佐藤 花子\tparticipant.unknown\t1\t名簿にない参加者番号
佐藤 花子\tsteps.implausible\t1\tありえない歩数
";

#[test]
fn the_figures_of_a_two_keyer_example_worked_by_hand() {
    let e = Env::with_roster();
    keyed(&e);
    let r = e.run(&["quality", "--out", "入力品質.xlsx"]).ok();
    assert_eq!(r.stdout, WANT);
    r.stderr_has("ベリファイ 2 回、不一致 3 件（うち未確定 0 件）");
    // The workbook and the handling-status report carry the same figures.
    e.run(&["audit", "--out", "取扱状況報告.xlsx"]).ok();
    for file in ["入力品質.xlsx", "取扱状況報告.xlsx"] {
        let cells = read_xlsx(&e.path(file), "入力品質");
        let line = |k: &str, f: &str| {
            cells
                .iter()
                .find(|r| r[0] == k && r[1] == f)
                .unwrap_or_else(|| panic!("{file}: {k} {f}"))[2..7]
                .to_vec()
        };
        assert_eq!(
            line(SATO, "参加者番号"),
            ["14", "1", "1", "0", "714.2857142857143"]
        );
        assert_eq!(line(YAMADA, "計"), ["30", "3", "0", "0", "0"]);
        assert!(cells
            .iter()
            .any(|r| r[1] == "steps.implausible" && r[2] == "1"));
        // Aggregates only: no participant number, no name of a participant.
        let all = cells.concat().concat();
        assert!(!all.contains("C0000"), "{file}");
    }
    // What was stored: no name, the two keyers, each discrepancy's side.
    assert_eq!(
        e.count("SELECT count(*) FROM verify_discrepancies WHERE wrong='second'"),
        3
    );
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE keyed_by='佐藤 花子' AND steps_cells=4"),
        1
    );
}

#[test]
fn undoing_the_batch_that_settled_them_reopens_the_discrepancies() {
    let e = Env::with_roster();
    keyed(&e);
    let batch = e.count("SELECT id FROM batches WHERE verified=1");
    e.run(&["batches", "undo", &batch.to_string()]).ok();
    let r = e.run(&["quality"]).ok();
    assert!(
        r.stdout.contains("佐藤 花子\t計\t42\t3\t0\t3\t0.0"),
        "{}",
        r.stdout
    );
    // Imported again (the same file), they are settled again.
    let mut args = vec!["steps", "verify", "a.csv", "b2.csv", "--import"];
    args.extend(["--keyed-by", YAMADA, "--keyed-by", SATO]);
    e.run(&args).ok();
    assert!(e
        .run(&["quality"])
        .ok()
        .stdout
        .contains("佐藤 花子\t計\t42\t3\t3\t0\t714.3"));
}

#[test]
fn keyed_by_must_be_a_designated_handler_and_verify_takes_two() {
    let e = Env::with_roster();
    e.write("a.csv", A);
    e.run(&["steps", "import", "a.csv", "--keyed-by", "鈴木 一郎"])
        .refused()
        .stderr_has("--keyed-by「鈴木 一郎」は取扱者として指定されていません");
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        0
    );
    e.run(&[
        "steps",
        "verify",
        "a.csv",
        s(&e.write("b.csv", A)),
        "--keyed-by",
        YAMADA,
    ])
    .usage()
    .stderr_has("--keyed-by は 1回目・2回目の順に2回指定してください");
    // Without it, the operator keyed.
    e.run(&["steps", "import", "a.csv"]).ok();
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps' AND keyed_by='山田 太郎' AND steps_cells=10"),
        1
    );
}

#[test]
fn the_demo_reports_who_keyed_its_two_keyings() {
    let e = Env::new();
    e.run(&["demo", "--out", "demo"]).ok();
    let cells = read_xlsx(&e.path("demo/入力品質.xlsx"), "入力品質");
    let line = |k: &str, f: &str| {
        cells
            .iter()
            .find(|r| r[0] == k && r[1] == f)
            .unwrap_or_else(|| panic!("{k} {f}"))[2..6]
            .to_vec()
    };
    // The second keying's 8530 for 8350, settled by the verified import of the first.
    assert_eq!(line(SATO, "歩数"), ["147", "1", "1", "0"]);
    assert_eq!(line(YAMADA, "歩数")[1..], ["1", "0", "0"]);
    assert!(e.path("demo/6月入力_1回目.xlsx").exists());
    assert!(e.path("demo/6月入力_2回目.xlsx").exists());
}
