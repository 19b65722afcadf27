//! Survey import and the evaluation report: answers checked against the declared
//! questions, batches and conflicts; the report read back with its figures checked by
//! hand (a small program) and against an independent computation (the sample data),
//! small cells suppressed, and no personal data anywhere in the file.

use crate::harness::*;
use std::collections::{BTreeMap, HashMap};

/// A two-month program with a questionnaire.
const PROGRAM_TOML: &str = r#"
[program]
name = "テスト健康ポイント"
municipality = "テスト市"
contractor = "株式会社テスト"
contract_no = "T-7"
start = 2025-05-01
end = 2025-06-30

[points]
bands = [ { steps = 4000, points = 1 }, { steps = 8000, points = 2 } ]

[[prizes]]
code = "Q1"
name = "QUOカード"
points = 1
stock = 100

[[survey.questions]]
code = "Q1"
text = "歩くことを意識している"
kind = "scale5"

[[survey.questions]]
code = "Q2"
text = "運動習慣がある"
kind = "yesno"

[[survey.questions]]
code = "Q3"
text = "外出の頻度"
kind = "choice"
choices = ["ほぼ毎日", "週に3〜4日", "ほとんどしない"]

[[handlers]]
name = "山田 太郎"
role = "responsible"

[report]
eligible_population = 400
baseline_threshold = 7000
"#;

/// Six men of 40 (M1–M6), five women of 70 (W1–W5), one person of 50 who did not
/// answer the sex question (X1).
fn roster() -> String {
    let mut s = String::from("参加者番号,氏名,郵便番号,住所,生年月日,性別,電話番号,利用区分\n");
    for i in 1..=6 {
        s.push_str(&format!(
            "M{i},男性 {i}郎,160-0022,東京都新宿区新宿{i}-1-1,1985-01-01,男,03-1111-000{i},台紙\n"
        ));
    }
    for i in 1..=5 {
        s.push_str(&format!(
            "W{i},女性 {i}子,160-0023,東京都新宿区西新宿{i}-2-2,1955-01-01,女,03-2222-000{i},台紙\n"
        ));
    }
    s.push_str(
        "X1,無回答 太郎,169-0073,東京都新宿区百人町3-3-3,1975-01-01,無回答,03-3333-0001,台紙\n",
    );
    s
}

/// One day in May and one in June each (X1: May only).
const STEPS: &[(&str, i64, Option<i64>)] = &[
    ("M1", 5000, Some(5500)),
    ("M2", 6000, Some(6100)),
    ("M3", 7000, Some(7600)),
    ("M4", 8000, Some(8000)),
    ("M5", 9000, Some(9800)),
    ("M6", 10000, Some(10000)),
    ("W1", 6000, Some(6500)),
    ("W2", 5000, Some(5000)),
    ("W3", 7000, Some(8000)),
    ("W4", 6500, Some(6000)),
    ("W5", 5500, Some(7000)),
    ("X1", 4000, None),
];

fn small_env() -> Env {
    let e = Env::new();
    e.write("program.toml", PROGRAM_TOML);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write_cp932("roster.csv", &roster());
    e.run(&["roster", "import", "roster.csv"]).ok();
    let mut s = String::from("参加者番号,日付,歩数\n");
    for (p, may, june) in STEPS {
        s.push_str(&format!("{p},2025-05-10,{may}\n"));
        if let Some(j) = june {
            s.push_str(&format!("{p},2025-06-10,{j}\n"));
        }
    }
    e.write("steps.csv", &s);
    e.run(&["steps", "import", "steps.csv"]).ok();
    e
}

/// Every sheet of a workbook: name and rows of text.
fn workbook(path: &std::path::Path) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::{open_workbook_auto, Reader};
    let wb = open_workbook_auto(path).expect("open xlsx");
    wb.sheet_names()
        .iter()
        .map(|s| (s.clone(), read_xlsx(path, s)))
        .collect()
}

fn sheet<'a>(wb: &'a [(String, Vec<Vec<String>>)], name: &str) -> &'a [Vec<String>] {
    &wb.iter().find(|(n, _)| n == name).expect(name).1
}

/// The cells after `labels`, in the first row from `after` on that has them in its
/// first or second column (a section label may stand merged in the first).
#[track_caller]
fn row_after<'a>(rows: &'a [Vec<String>], after: usize, labels: &[&str]) -> (usize, &'a [String]) {
    for (i, r) in rows.iter().enumerate().skip(after) {
        for k in 0..2 {
            if r.len() >= k + labels.len() && r[k..k + labels.len()] == *labels {
                return (i, &r[k + labels.len()..]);
            }
        }
    }
    panic!("no row {labels:?} after {after}:\n{rows:#?}");
}

#[track_caller]
fn row<'a>(rows: &'a [Vec<String>], labels: &[&str]) -> &'a [String] {
    row_after(rows, 0, labels).1
}

/// The index of the row holding a heading or note that contains `text`.
#[track_caller]
fn line(rows: &[Vec<String>], text: &str) -> usize {
    rows.iter()
        .position(|r| r.iter().any(|c| c.contains(text)))
        .unwrap_or_else(|| panic!("no line with {text:?}"))
}

/// The numbers and marks of a row after its labels.
fn values(r: &[String]) -> Vec<&str> {
    r.iter()
        .map(String::as_str)
        .filter(|c| !c.is_empty())
        .filter(|c| c.parse::<f64>().is_ok() || *c == "＊" || *c == "－")
        .collect()
}

#[track_caller]
fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[track_caller]
fn close(got: &str, want: f64, tol: f64) {
    let g = num(got);
    assert!((g - want).abs() <= tol, "got {g}, want {want}");
}

#[test]
fn survey_answers_are_read_as_keyed_and_stored_once() {
    let e = small_env();
    e.write_cp932(
        "survey.csv",
        "参加者アンケート（事前）\n\
         参加者番号,回答時期,Q1,運動習慣がある,Q3\n\
         M1,事前,３,はい,2\n\
         M2,事前,2,2,ほぼ毎日\n\
         M3,事前,4,,週に3～4日\n\
         W1,事後,5,○,ほとんどしない\n",
    );
    e.run(&["survey", "import", "survey.csv"])
        .ok()
        .stderr_has("4 行を読み、11 件を追加");
    let c = e.conn();
    let answers: Vec<(String, String, String, String)> = c
        .prepare(
            "SELECT participant_id, timing, question, answer FROM survey_answers ORDER BY 1, 2, 3",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let a = |p: &str, t: &str, q: &str, v: &str| (p.into(), t.into(), q.into(), v.into());
    assert_eq!(
        answers,
        vec![
            a("M1", "事前", "Q1", "3"),
            a("M1", "事前", "Q2", "はい"),
            a("M1", "事前", "Q3", "週に3〜4日"),
            a("M2", "事前", "Q1", "2"),
            a("M2", "事前", "Q2", "いいえ"),
            a("M2", "事前", "Q3", "ほぼ毎日"),
            a("M3", "事前", "Q1", "4"),
            a("M3", "事前", "Q3", "週に3〜4日"),
            a("W1", "事後", "Q1", "5"),
            a("W1", "事後", "Q2", "はい"),
            a("W1", "事後", "Q3", "ほとんどしない"),
        ]
    );
    // The same file again changes nothing.
    e.run(&["survey", "import", "survey.csv"])
        .ok()
        .stderr_has("取り込み済みです");
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='survey'"),
        1
    );
    // Another file with the same answers: duplicates, skipped; a different answer is a
    // conflict that names the earlier batch, and nothing of the file is stored.
    e.write("again.csv", "参加者番号,回答時期,Q1\nM1,事前,3\n");
    e.run(&["survey", "import", "again.csv"])
        .ok()
        .stderr_has("0 件を追加、1 件は同じ値が既にある");
    e.write(
        "changed.csv",
        "参加者番号,回答時期,Q1\nM2,事後,4\nM1,事前,5\n",
    );
    e.run(&["survey", "import", "changed.csv"])
        .refused()
        .stderr_has("survey.conflict at changed.csv:changed!C3")
        .stderr_has("取込み 3 で「3」が取り込まれています");
    assert_eq!(e.count("SELECT count(*) FROM survey_answers"), 11);
    // Undoing the batch takes its answers out.
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM survey_answers"), 0);
}

#[test]
fn a_questionnaire_keyed_again_far_down_the_file_is_still_found_and_the_check_table_goes() {
    let e = small_env();
    // M1's 事前 first, then thousands of rows (the same answers keyed again, skipped as
    // duplicates), then M1's 事前 again with another answer at the very end.
    let mut text = String::from("参加者番号,回答時期,Q1,Q2\nM1,事前,3,はい\n");
    for i in 0..3000 {
        let pid = ["M2", "M3", "W1", "W2"][i % 4];
        text.push_str(&format!("{pid},事後,4,いいえ\n"));
    }
    text.push_str("M1,事前,3,いいえ\n");
    e.write("far.csv", &text);
    e.run(&["survey", "import", "far.csv", "--partial"])
        .ok()
        .stderr_has("survey.duplicate_conflict at far.csv:far!A2")
        .stderr_has("survey.duplicate_conflict at far.csv:far!A3003")
        .stderr_has("このファイルの 3003 行目にもあり")
        .stderr_has("事後: 4 人分、回答 8 件");
    assert_eq!(e.count("SELECT count(*) FROM survey_answers"), 8);
    assert_eq!(
        e.count("SELECT count(*) FROM survey_answers WHERE participant_id='M1'"),
        0
    );
    // The file's first rows were checked in a table of the database: none is left.
    assert_eq!(
        e.count("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'survey_seen%'"),
        0
    );
}

#[test]
fn undeclared_questions_and_answers_outside_their_kind_are_refused_at_their_cells() {
    let e = small_env();
    e.write("extra.csv", "参加者番号,回答時期,Q1,Q9\nM1,事前,3,1\n");
    e.run(&["survey", "import", "extra.csv"])
        .refused()
        .stderr_has("header.unknown_column at extra.csv:extra!D1")
        .stderr_has("使える列: 参加者番号（participant_id）、回答時期（timing）、Q1、Q2、Q3");
    e.write(
        "bad.csv",
        "参加者番号,回答時期,Q1,Q2,Q3\n\
         M1,事前,6,はい,1\n\
         M2,中間,3,たぶん,4\n\
         Z9,事前,3,はい,1\n\
         M3,事後,3,1,ほぼ毎日\n",
    );
    e.run(&["survey", "import", "bad.csv", "--errors", "errors.csv"])
        .refused()
        .stderr_has("survey.answer_invalid at bad.csv:bad!C2")
        .stderr_has("1〜5 の5段階")
        .stderr_has("survey.timing_invalid at bad.csv:bad!B3")
        .stderr_has("survey.answer_invalid at bad.csv:bad!D3")
        .stderr_has("survey.answer_invalid at bad.csv:bad!E3")
        .stderr_has("1.ほぼ毎日、2.週に3〜4日、3.ほとんどしない")
        .stderr_has("participant.unknown at bad.csv:bad!A4")
        .stderr_has("3 行）があるため、何も取り込んでいません");
    assert_eq!(e.count("SELECT count(*) FROM survey_answers"), 0);
    // --partial takes the good row and keeps the bad ones, whole, for fixing.
    e.run(&["survey", "import", "bad.csv", "--partial"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM survey_answers"), 3);
    assert_eq!(
        e.count("SELECT count(*) FROM rejected_rows WHERE batch_id=(SELECT max(id) FROM batches)"),
        3
    );
}

#[test]
fn a_questionnaire_keyed_twice_differently_in_one_file_takes_neither() {
    let e = small_env();
    e.write(
        "twice.csv",
        "参加者番号,回答時期,Q1,Q2\nM1,事前,3,はい\nM2,事前,4,はい\nM1,事前,3,いいえ\nM2,事前,4,はい\n",
    );
    e.run(&["survey", "import", "twice.csv", "--partial"])
        .ok()
        .stderr_has("survey.duplicate_conflict at twice.csv:twice!A2")
        .stderr_has("survey.duplicate_conflict at twice.csv:twice!A4")
        .stderr_has("回答が違います（Q2）");
    let stored: Vec<String> = e
        .conn()
        .prepare("SELECT participant_id || question || answer FROM survey_answers ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(stored, ["M2Q14", "M2Q2はい"]);
    assert_eq!(
        e.count("SELECT count(*) FROM rejected_rows"),
        2,
        "both keyings of M1 are kept for fixing"
    );
}

#[test]
fn the_questionnaire_in_the_program_file_is_checked_at_init() {
    let e = Env::new();
    let bad = PROGRAM_TOML
        .replace("code = \"Q2\"", "code = \"Q1\"")
        .replace(
            "choices = [\"ほぼ毎日\", \"週に3〜4日\", \"ほとんどしない\"]",
            "choices = []",
        )
        .replace("text = \"運動習慣がある\"", "text = \"信仰している宗教\"");
    e.write("program.toml", &bad);
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("survey.questions[1].code: 「Q1」が survey.questions[0].code と重複しています")
        .stderr_has("survey.questions[1].text: 「信仰している宗教」は")
        .stderr_has("survey.questions[2].choices: 選択肢がありません");
    let kinds = PROGRAM_TOML.replace("kind = \"yesno\"", "kind = \"yes-no\"");
    e.write("program.toml", &kinds);
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("yes-no");
}

#[test]
fn a_roster_batch_whose_participants_answered_cannot_be_undone() {
    let e = Env::new();
    e.write("program.toml", PROGRAM_TOML);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write_cp932("roster.csv", &roster());
    e.run(&["roster", "import", "roster.csv"]).ok();
    e.write("s.csv", "参加者番号,回答時期,Q1\nW2,事前,3\n");
    e.run(&["survey", "import", "s.csv"]).ok();
    e.run(&["batches", "undo", "1"])
        .refused()
        .stderr_has("アンケートの回答があるため、取り消せません")
        .stderr_has(": W2");
}

#[test]
fn the_report_of_a_small_program_matches_figures_worked_by_hand() {
    let e = small_env();
    e.write(
        "survey.csv",
        "参加者番号,回答時期,Q1\n\
         M1,事前,2\nM2,事前,3\nM3,事前,3\nM4,事前,4\nM5,事前,2\nM6,事前,3\n\
         M1,事後,3\nM2,事後,3\nM3,事後,4\nM4,事後,4\nM5,事後,4\nM6,事後,3\n",
    );
    e.run(&["survey", "import", "survey.csv"]).ok();
    e.run(&["report", "--out", "evaluation.xlsx"])
        .ok()
        .stderr_has("登録者 12 人、活動した参加者 12 人");
    let wb = workbook(&e.path("evaluation.xlsx"));
    let names: Vec<&str> = wb.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "概要",
            "月別歩数",
            "目標達成",
            "行動変容",
            "継続",
            "アンケート",
            "景品"
        ]
    );

    // 概要: その他・無回答 counts 1 person, so it is hidden, and so is the next
    // smallest group (女性, 5): otherwise 12 − 6 would give the 1 back.
    let o = sheet(&wb, "概要");
    assert!(o
        .iter()
        .any(|r| r.iter().any(|c| c.contains("5人未満の人数"))));
    assert_eq!(values(row(o, &["男性"])), ["6", "0.5"]);
    assert_eq!(values(row(o, &["女性"])), ["＊", "＊"]);
    assert_eq!(values(row(o, &["その他・無回答"])), ["＊", "＊"]);
    assert_eq!(values(row(o, &["40〜49歳"])), ["6", "0.5"]);
    assert_eq!(values(row(o, &["50〜59歳"])), ["＊", "＊"]);
    assert_eq!(values(row(o, &["65〜74歳"])), ["＊", "＊"]);
    assert_eq!(values(row(o, &["30〜39歳"])), ["0", "0"]);
    assert_eq!(values(row(o, &["登録者数"])), ["12", "1"]);
    assert_eq!(
        values(row(o, &["2025年6月"])),
        ["11", &(11.0f64 / 12.0).to_string()]
    );
    assert_eq!(values(row(o, &["歩数の合計"])), ["158500"]);
    assert_eq!(values(row(o, &["記録日数（延べ）"])), ["23"]);

    // 月別歩数: each active person's mean, averaged over people.
    let m = sheet(&wb, "月別歩数");
    let by_sex = line(m, "性別の1人1日あたり平均歩数");
    let (_, may) = row_after(m, by_sex, &["2025年5月"]);
    let may = values(may);
    close(may[0], 79000.0 / 12.0, 1e-9);
    close(may[1], 7500.0, 1e-9);
    assert_eq!(may[2..], ["＊", "＊"]);
    let (_, june) = row_after(m, by_sex, &["2025年6月"]);
    let june = values(june);
    close(june[0], 79500.0 / 11.0, 1e-9);
    close(june[1], 47000.0 / 6.0, 1e-9);
    // The chart values leave suppressed cells empty rather than marked.
    let chart = line(m, "グラフの値");
    let (_, cv) = row_after(m, chart, &["2025年5月"]);
    assert!(!cv.iter().any(|c| c == "＊"), "{cv:?}");

    // 目標達成 (健康日本21（第三次）): each person's mean over the period, by hand.
    // 20〜64 (age 40 and 50): M1–M6 5,250 6,050 7,300 8,000 9,400 10,000, X1 4,000;
    // 65+ (age 70): W1–W5 6,250 5,000 7,500 6,250 6,250.
    let t = sheet(&wb, "目標達成");
    assert!(t.iter().any(|r| r
        .iter()
        .any(|c| c.contains("健康日本21（第三次）推進のための説明資料"))));
    assert!(t
        .iter()
        .any(|r| r.iter().any(|c| c.contains("令和元年 国民健康・栄養調査"))));
    let w = values(row(t, &["65歳以上 女性"]));
    assert_eq!(w[0], "5");
    close(w[1], 6250.0, 1e-9);
    assert_eq!(w[2], "6000");
    close(w[3], 250.0, 1e-9);
    assert_eq!(w[4], "4656");
    close(w[5], 6250.0 - 4656.0, 1e-9);
    // 4 of 5 reach 6,000: fewer than 5, hidden with their rate.
    assert_eq!(w[6..], ["＊", "＊"]);
    let all = values(row(t, &["20歳以上 全体"]));
    assert_eq!(all[0], "12");
    close(all[1], 81250.0 / 12.0, 1e-9);
    assert_eq!(all[2], "7100");
    close(all[3], 81250.0 / 12.0 - 7100.0, 1e-9);
    assert_eq!(all[4], "6278");
    close(all[5], 81250.0 / 12.0 - 6278.0, 1e-9);
    // M4, M5, M6 and W1, W3, W4, W5: 7 of 12.
    assert_eq!(all[6], "7");
    close(all[7], 7.0 / 12.0, 1e-12);
    let adult = values(row(t, &["20〜64歳 計"]));
    assert_eq!(adult[0], "7");
    close(adult[1], 50000.0 / 7.0, 1e-9);
    // The 20〜64 その他・無回答 cell is one person (X1): hidden, and the men with it.
    assert_eq!(values(row(t, &["20〜64歳 その他・無回答"]))[0], "＊");
    assert_eq!(values(row(t, &["20〜64歳 男性"]))[0], "＊");
    // The secondary table: the share of days at or above 8,000 (20〜64) / 6,000 (65+).
    let may = values(row(t, &["2025年5月"]));
    assert_eq!(may[0], "12");
    close(may[1], 6.0 / 12.0, 1e-12);
    assert_eq!(may[2], "7");
    close(may[3], 3.0 / 7.0, 1e-12);
    assert_eq!(may[4], "5");
    close(may[5], 3.0 / 5.0, 1e-12);
    let all = values(row(t, &["期間全体"]));
    assert_eq!(all[0], "23");
    close(all[1], 13.0 / 23.0, 1e-12);
    close(all[3], 6.0 / 13.0, 1e-12);
    close(all[5], 7.0 / 10.0, 1e-12);

    // 概要: the participation rate against report.eligible_population.
    let p = values(row(o, &["参加率"]));
    close(p[0], 12.0 / 400.0, 1e-12);

    // 行動変容: 11 people with two months; differences 500, 100, 600, 0, 800, 0,
    // 500, 0, 1000, −500, 1500: mean 409.09, sd 562.947, t(0.975, 10) = 2.228139.
    let c = sheet(&wb, "行動変容");
    let all = values(row(c, &["全体"]));
    assert_eq!(all[0], "11");
    close(all[1], 75000.0 / 11.0, 1e-9);
    close(all[2], 79500.0 / 11.0, 1e-9);
    close(all[3], 4500.0 / 11.0, 1e-9);
    close(all[4], 30.898_108, 1e-3);
    close(all[5], 787.283_710, 1e-3);
    // 7 went up, so 4 did not: a count of fewer than 5 that n − 7 would give back.
    assert_eq!(all[6..], ["＊", "＊"]);
    let men = values(row(c, &["性別: 男性"]));
    assert_eq!(men[0], "6");
    close(men[3], 2000.0 / 6.0, 1e-9);
    close(men[4], -28.176_555, 1e-3);
    close(men[5], 694.843_222, 1e-3);
    assert_eq!(men[6..], ["＊", "＊"]);
    let women = values(row(c, &["性別: 女性"]));
    assert_eq!(women[0], "5");
    close(women[3], 500.0, 1e-9);
    close(women[4], -481.621_581, 1e-3);
    close(women[5], 1_481.621_581, 1e-3);

    // Baseline classes at report.baseline_threshold = 7000 (first-month mean).
    // Under: M1 M2 W1 W2 W4 W5, 34,000 → 36,100, diffs 500 100 500 0 −500 1500:
    // mean 350, sd 674.537, t(0.975, 5) = 2.570582 → 350 ± 707.888.
    let low = values(row(c, &["最初の月の平均 7,000歩未満"]));
    assert_eq!(low[0], "6");
    close(low[1], 34000.0 / 6.0, 1e-9);
    close(low[2], 36100.0 / 6.0, 1e-9);
    close(low[3], 350.0, 1e-9);
    close(low[4], 350.0 - 707.888, 1e-2);
    close(low[5], 350.0 + 707.888, 1e-2);
    assert_eq!(low[6..], ["＊", "＊"]);
    // At or above: M3–M6, W3, 41,000 → 43,400.
    let high = values(row(c, &["最初の月の平均 7,000歩以上"]));
    assert_eq!(high[0], "5");
    close(high[1], 8200.0, 1e-9);
    close(high[2], 8680.0, 1e-9);
    close(high[3], 480.0, 1e-9);

    // 継続: May everyone started; in June X1 has no record and none after: one
    // dropout, hidden with its rate.
    let k = sheet(&wb, "継続");
    assert_eq!(
        values(row(k, &["2025年5月"])),
        ["12", "12", "12", "0", "0", "1", "0"]
    );
    let june = values(row(k, &["2025年6月"]));
    assert_eq!(june[..4], ["0", "12", "11", "0"]);
    assert_eq!(june[4], "＊");
    close(june[5], 11.0 / 12.0, 1e-12);
    assert_eq!(june[6], "＊");
    assert!(k.iter().any(|r| r.iter().any(|c| c == "活動")));

    // アンケート: answers 2,3,3,4,2,3 → 3,3,4,4,4,3; distribution cells of 1〜4
    // people hidden, the paired change worked by hand (t(0.975, 5) = 2.570582).
    let a = sheet(&wb, "アンケート");
    assert_eq!(values(row(a, &["3"])), ["＊", "＊", "＊", "＊"]);
    assert_eq!(values(row(a, &["1"])), ["0", "0", "0", "0"]);
    assert_eq!(values(row(a, &["回答した人"])), ["6", "1", "6", "1"]);
    let p = values(row(a, &["事前・事後とも回答"]));
    assert_eq!(p[0], "6");
    close(p[1], 17.0 / 6.0, 1e-9);
    close(p[2], 21.0 / 6.0, 1e-9);
    close(p[3], 4.0 / 6.0, 1e-9);
    close(p[4], -0.190_194, 1e-5);
    close(p[5], 1.523_527, 1e-5);
    assert_eq!(p[6..], ["＊", "＊"]);
    // Q2 and Q3 were not asked in this file: counts of 0 and no share.
    assert_eq!(values(row(a, &["はい"])), ["0", "－", "0", "－"]);

    // 景品: nothing applied for.
    let g = sheet(&wb, "景品");
    assert_eq!(values(row(g, &["合計"])), ["0", "0", "0", "0", "0", "0"]);
}

/// Age in whole years on the sample program's start (2025-05-14).
fn age_at_start(birth: &str) -> i32 {
    let b = chrono::NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap();
    let s = chrono::NaiveDate::from_ymd_opt(2025, 5, 14).unwrap();
    use chrono::Datelike;
    s.year() - b.year() - i32::from((s.month(), s.day()) < (b.month(), b.day()))
}

struct Stored {
    /// id → (name, kana, postal, address, address2, birth, phone, email, sex, age)
    people: BTreeMap<String, Vec<String>>,
    /// id → month → (days, steps, days meeting the target)
    months: BTreeMap<String, BTreeMap<String, (i64, i64)>>,
    steps: Vec<(String, String, i64)>,
}

fn stored(e: &Env) -> Stored {
    let c = e.conn();
    let mut people = BTreeMap::new();
    let mut stmt = c
        .prepare("SELECT id, name, COALESCE(name_kana,''), COALESCE(postal_code,''), COALESCE(address,''), COALESCE(address2,''), COALESCE(birth_date,''), COALESCE(phone,''), COALESCE(email,''), COALESCE(sex,'') FROM participants ORDER BY id")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let v: Vec<String> = (1..10).map(|i| r.get(i).unwrap()).collect();
        people.insert(r.get(0).unwrap(), v);
    }
    let mut months: BTreeMap<String, BTreeMap<String, (i64, i64)>> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut stmt = c
        .prepare("SELECT participant_id, date, steps FROM steps ORDER BY 1, 2")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let (p, d, s): (String, String, i64) =
            (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap());
        let m = months
            .entry(p.clone())
            .or_default()
            .entry(d[..7].to_string())
            .or_default();
        m.0 += 1;
        m.1 += s;
        steps.push((p, d, s));
    }
    Stored {
        people,
        months,
        steps,
    }
}

#[test]
fn the_report_of_the_sample_data_agrees_with_the_database_and_holds_no_personal_data() {
    let e = Env::with_roster();
    for args in [
        vec![
            "steps",
            "import",
            example("steps_card.xlsx").to_str().unwrap(),
            "--all-sheets",
        ],
        vec![
            "steps",
            "import",
            example("steps_long.csv").to_str().unwrap(),
        ],
        vec!["orders", "import", example("orders.csv").to_str().unwrap()],
        vec!["survey", "import", example("survey.csv").to_str().unwrap()],
    ] {
        e.run(&args).ok();
    }
    e.run(&["report", "--out", "evaluation.xlsx"]).ok();
    let path = e.path("evaluation.xlsx");
    let wb = workbook(&path);
    let s = stored(&e);

    // 概要: channel counts from the roster; the 60〜64 band (one person) hidden with
    // the next smallest band, the rest shown.
    let o = sheet(&wb, "概要");
    let card = e.count("SELECT count(*) FROM participants WHERE channel='台紙'");
    assert_eq!(values(row(o, &["利用区分", "台紙"]))[0], card.to_string());
    assert_eq!(values(row(o, &["アプリ"]))[0], (60 - card).to_string());
    let mut bands: BTreeMap<&str, i64> = BTreeMap::new();
    for v in s.people.values() {
        let a = age_at_start(&v[5]);
        let band = match a {
            ..=29 => "〜29歳",
            30..=39 => "30〜39歳",
            40..=49 => "40〜49歳",
            50..=59 => "50〜59歳",
            60..=64 => "60〜64歳",
            65..=74 => "65〜74歳",
            _ => "75歳〜",
        };
        *bands.entry(band).or_default() += 1;
    }
    assert_eq!(bands["60〜64歳"], 1);
    let smallest_other = bands
        .iter()
        .filter(|(b, _)| **b != "60〜64歳")
        .min_by_key(|(_, n)| **n)
        .map(|(b, _)| *b)
        .unwrap();
    for (band, n) in &bands {
        let shown = values(row(o, &[band]))[0];
        if *band == "60〜64歳" || *band == smallest_other {
            assert_eq!(shown, "＊", "{band}");
        } else {
            assert_eq!(shown, n.to_string(), "{band}");
        }
    }
    let total: i64 = s.steps.iter().map(|x| x.2).sum();
    assert_eq!(values(row(o, &["歩数の合計"])), [total.to_string()]);
    assert_eq!(
        values(row(o, &["申込み（件）"])),
        [e.count("SELECT count(*) FROM orders").to_string()]
    );

    // 月別歩数: 全体 each month, the mean of each active person's mean.
    let m = sheet(&wb, "月別歩数");
    let first = line(m, "年齢区分別の1人1日あたり平均歩数");
    for month in ["2025-05", "2025-06", "2025-07", "2025-08", "2025-09"] {
        let means: Vec<f64> = s
            .months
            .values()
            .filter_map(|ms| ms.get(month).map(|(d, st)| *st as f64 / *d as f64))
            .collect();
        let want = means.iter().sum::<f64>() / means.len() as f64;
        let label = format!("2025年{}月", month[5..].trim_start_matches('0'));
        let (_, r) = row_after(m, first, &[&label]);
        close(values(r)[0], want, 1e-6);
    }

    // 目標達成: the share of days meeting each person's target over the whole period.
    let mut met: HashMap<&str, (i64, i64)> = HashMap::new();
    for (p, _, steps) in &s.steps {
        let v = &s.people[p];
        let a = age_at_start(&v[5]);
        let key = match a {
            20..=64 => ("20〜64", 8000),
            65.. => ("65〜", 6000),
            _ => continue,
        };
        let x = met.entry(key.0).or_default();
        x.0 += 1;
        x.1 += i64::from(*steps >= key.1);
    }
    let all = values(row(sheet(&wb, "目標達成"), &["期間全体"]));
    for (i, g) in ["20〜64", "65〜"].iter().enumerate() {
        let (days, hit) = met[g];
        assert_eq!(all[2 + 2 * i], days.to_string(), "{g}");
        close(all[3 + 2 * i], hit as f64 / days as f64, 1e-12);
    }

    // 行動変容: first and last recorded month per person, paired; t(0.975, 59).
    let diffs: Vec<f64> = s
        .months
        .values()
        .filter(|ms| ms.len() >= 2)
        .map(|ms| {
            let (d0, s0) = ms.values().next().unwrap();
            let (d1, s1) = ms.values().next_back().unwrap();
            *s1 as f64 / *d1 as f64 - *s0 as f64 / *d0 as f64
        })
        .collect();
    assert_eq!(
        diffs.len(),
        60,
        "every sample participant has two months or more"
    );
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = 2.000_995_4 * sd / n.sqrt();
    let c = values(row(sheet(&wb, "行動変容"), &["全体"]));
    assert_eq!(c[0], diffs.len().to_string());
    close(c[3], mean, 1e-6);
    close(c[4], mean - half, 1e-2);
    close(c[5], mean + half, 1e-2);

    // アンケート: Q2 はい before, as stored.
    let a = sheet(&wb, "アンケート");
    let q2 = line(a, "Q2");
    let (_, yes) = row_after(a, q2, &["はい"]);
    assert_eq!(
        values(yes)[0],
        e.count("SELECT count(*) FROM survey_answers WHERE question='Q2' AND timing='事前' AND answer='はい'")
            .to_string()
    );

    // 景品: accepted applications in total.
    let g = values(row(sheet(&wb, "景品"), &["合計"]));
    assert_eq!(
        g[1],
        e.count("SELECT count(*) FROM orders WHERE status='accepted'")
            .to_string()
    );

    // No personal data: no name, kana, postal code, address, birth date, phone, email
    // or participant number in any cell, nor anywhere in the file's parts (shared
    // strings, charts, properties).
    let mut cells = Vec::new();
    for (_, rows) in &wb {
        for r in rows {
            cells.extend(r.iter().filter(|c| !c.is_empty()).cloned());
        }
    }
    let mut parts = String::new();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    for i in 0..zip.len() {
        use std::io::Read;
        let mut f = zip.by_index(i).unwrap();
        f.read_to_string(&mut parts).unwrap();
    }
    let mut searched = 0;
    for (id, v) in &s.people {
        let personal = [
            id.as_str(),
            &v[0],
            &v[1],
            &v[2],
            &v[3],
            &v[4],
            &v[5],
            &v[6],
            &v[7],
        ];
        for needle in personal.iter().filter(|x| !x.is_empty()) {
            searched += 1;
            let plain = needle.replace(['　', ' '], "");
            assert!(
                !cells
                    .iter()
                    .any(|c| c.contains(needle) || c.replace(['　', ' '], "").contains(&plain)),
                "{needle} is in the report"
            );
            assert!(!parts.contains(needle), "{needle} is in the file");
        }
    }
    assert!(searched > 60 * 6, "{searched}");
}

#[test]
fn the_report_refuses_another_format_and_runs_on_an_empty_database() {
    let e = Env::init();
    e.run(&["report", "--out", "evaluation.csv"])
        .usage()
        .stderr_has(".xlsx で書き出します");
    e.run(&["report", "--out", "evaluation.xlsx"]).ok();
    let wb = workbook(&e.path("evaluation.xlsx"));
    let o = sheet(&wb, "概要");
    assert_eq!(values(row(o, &["登録者数"])), ["0", "－"]);
    assert!(o
        .iter()
        .any(|r| r.iter().any(|c| c.contains("歩数の記録はまだありません"))));
    // The file is recorded as an export.
    assert_eq!(
        e.count("SELECT count(*) FROM exports WHERE path LIKE '%evaluation.xlsx'"),
        1
    );
}

#[test]
fn the_demo_writes_the_report() {
    let e = Env::new();
    let out = e.path("demo");
    let run = e
        .cmd()
        .args(["--quiet", "demo", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let wb = workbook(&out.join("evaluation.xlsx"));
    assert_eq!(values(row(sheet(&wb, "概要"), &["登録者数"])), ["60", "1"]);
    let a = sheet(&wb, "アンケート");
    assert!(a
        .iter()
        .any(|r| r.iter().any(|c| c.contains("ふだん外出する頻度"))));
}
