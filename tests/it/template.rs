//! Entry workbooks (`template`): written, filled the way Excel saves a keyed cell (the
//! value put into the template's own sheet XML, so its styles, validation and protection
//! stay as written), imported with `steps import`, and the stored days compared.

use crate::harness::{close_out, read_xlsx, s, Env, PROGRAM};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// `A`, `B`, … `AH` for a 0-based column.
fn col_name(mut c: usize) -> String {
    let mut out = String::new();
    loop {
        out.insert(0, (b'A' + (c % 26) as u8) as char);
        if c < 26 {
            return out;
        }
        c = c / 26 - 1;
    }
}

/// The text of one part of an .xlsx.
fn part(path: &Path, name: &str) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut f = z.by_name(name).unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    text
}

/// Copy the workbook `src` to `dst` with numbers keyed into blank cells (`D4` → 8000),
/// as Excel stores them: `<c r="D4" s="5"/>` becomes `<c r="D4" s="5"><v>8000</v></c>`.
fn fill(src: &Path, dst: &Path, cells: &[(String, i64)]) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(dst).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let mut xml = String::from_utf8(bytes).unwrap();
            for (r, v) in cells {
                let start = xml
                    .find(&format!("<c r=\"{r}\" s=\""))
                    .unwrap_or_else(|| panic!("no blank cell {r}"));
                let end = start + xml[start..].find("/>").unwrap();
                let open = xml[start..end].to_string();
                xml.replace_range(start..end + 2, &format!("{open}><v>{v}</v></c>"));
            }
            bytes = xml.into_bytes();
        }
        w.start_file(name, opts).unwrap();
        w.write_all(&bytes).unwrap();
    }
    w.finish().unwrap();
}

/// Where a card template keys (participant, day): cell references by the template's own
/// heading row and participant column, read back with calamine.
struct CardMap {
    rows: BTreeMap<String, usize>,
    days: BTreeMap<u32, usize>,
}

fn card_map(path: &Path, sheet: &str) -> CardMap {
    let cells = read_xlsx(path, sheet);
    let h = cells
        .iter()
        .position(|r| r.first().is_some_and(|c| c == "参加者番号"))
        .expect("heading row");
    let days = cells[h]
        .iter()
        .enumerate()
        .filter_map(|(c, t)| Some((t.strip_suffix('日')?.parse().ok()?, c)))
        .collect();
    let rows = cells
        .iter()
        .enumerate()
        .skip(h + 1)
        .map(|(r, row)| (row[0].clone(), r))
        .collect();
    CardMap { rows, days }
}

impl CardMap {
    fn cell(&self, pid: &str, day: u32) -> String {
        format!("{}{}", col_name(self.days[&day]), self.rows[pid] + 1)
    }
}

fn stored(e: &Env, month: &str) -> BTreeMap<(String, String), i64> {
    let conn = e.conn();
    let mut st = conn
        .prepare("SELECT participant_id, date, steps FROM steps WHERE substr(date,1,7)=?1")
        .unwrap();
    st.query_map([month], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Write the month's template, key every open day of the first three participants
/// (0 and the maximum among them), import it, and compare what was stored.
fn round_trip(e: &Env, month: &str, open: std::ops::RangeInclusive<u32>) {
    let out = format!("{month}.xlsx");
    e.run(&["template", "--month", month, "--out", &out])
        .ok()
        .stderr_has("入力用シートを書き出しました");
    let (y, m) = month.split_once('-').unwrap();
    let sheet = format!("{}月", m.parse::<u32>().unwrap());
    let map = card_map(&e.path(&out), &sheet);
    // Closed days are locked cells with no validation: every one of them is still there.
    assert_eq!(map.days.len(), 31, "{month}");
    let mut cells = Vec::new();
    let mut want = BTreeMap::new();
    for (i, pid) in map.rows.keys().take(3).enumerate() {
        for d in open.clone() {
            let v = match (i, d % 10) {
                (0, 0) => 0,
                (1, 0) => 60000,
                _ => 1000 + 37 * d as i64 + 500 * i as i64,
            };
            cells.push((map.cell(pid, d), v));
            want.insert((pid.clone(), format!("{y}-{m}-{d:02}")), v);
        }
    }
    let filled = e.path(&format!("{month}_filled.xlsx"));
    fill(&e.path(&out), &filled, &cells);
    e.run(&["steps", "import", s(&filled)])
        .ok()
        .stderr_has("0 行を保留");
    assert_eq!(stored(e, month), want, "{month}");
}

#[test]
fn a_template_round_trips_for_31_30_28_day_months_and_a_mid_month_start() {
    let e = Env::with_roster();
    round_trip(&e, "2025-07", 1..=31);
    round_trip(&e, "2025-06", 1..=30);
    round_trip(&e, "2026-02", 1..=28);
    // The sample program starts on 2025-05-14: days 1–13 are closed.
    round_trip(&e, "2025-05", 14..=31);
}

#[test]
fn a_leap_february_has_29_days_to_key() {
    let e = Env::new();
    let program = PROGRAM
        .replace("start = 2025-05-14", "start = 2024-02-01")
        .replace("end = 2026-03-31", "end = 2024-12-31");
    e.write("program.toml", &program);
    e.run(&["init", "--program", "program.toml"]).ok();
    let roster = e.sample("roster.csv");
    e.run(&["roster", "import", &roster]).ok();
    round_trip(&e, "2024-02", 1..=29);
}

#[test]
fn closed_days_are_locked_and_every_open_day_is_validated() {
    let e = Env::with_roster();
    e.run(&["template", "--month", "2025-05", "--out", "t.xlsx"])
        .ok();
    let xml = part(&e.path("t.xlsx"), "xl/worksheets/sheet1.xml");
    let n = card_map(&e.path("t.xlsx"), "5月").rows.len();
    assert_eq!(n, 38, "the sample roster's card participants");
    // Days 14–31 (columns Q–AH) of rows 4–41, whole numbers 0–60000, Japanese messages.
    let dv = &xml[xml.find("<dataValidations").expect("validation")..];
    let dv = &dv[..dv.find("</dataValidations>").unwrap()];
    assert!(dv.starts_with("<dataValidations count=\"1\""), "{dv}");
    // `between` is the schema's default operator, which Excel (and rust_xlsxwriter)
    // leave unwritten: no operator attribute means between formula1 and formula2.
    assert!(dv.contains("type=\"whole\""), "{dv}");
    assert!(!dv.contains("operator="), "{dv}");
    assert!(dv.contains(&format!("sqref=\"Q4:AH{}\"", 3 + n)), "{dv}");
    assert!(dv.contains("<formula1>0</formula1><formula2>60000</formula2>"));
    assert!(dv.contains("promptTitle=\"歩数\""), "{dv}");
    assert!(dv.contains("errorTitle=\"入力できない値です\""), "{dv}");
    assert!(dv.contains("showErrorMessage=\"1\"") && dv.contains("showInputMessage=\"1\""));
    // Protected (layout fixed, locked cells not selectable), frozen, A4 landscape.
    assert!(xml.contains("<sheetProtection"), "protection");
    assert!(
        xml.contains("selectLockedCells=\"1\""),
        "locked cells not selectable"
    );
    assert!(xml.contains("state=\"frozen\"") && xml.contains("topLeftCell=\"D4\""));
    assert!(xml.contains("paperSize=\"9\"") && xml.contains("orientation=\"landscape\""));
    assert!(xml.contains("fitToHeight=\"0\""));
    let wb = part(&e.path("t.xlsx"), "xl/workbook.xml");
    assert!(wb.contains("_xlnm.Print_Titles"), "heading rows repeated");
    // Day cells to key are unlocked; the closed ones (grey) are not.
    let styles = part(&e.path("t.xlsx"), "xl/styles.xml");
    assert!(styles.contains("<protection locked=\"0\"/>"));
    let style_of = |r: &str| {
        let at = xml.find(&format!("<c r=\"{r}\" s=\"")).unwrap() + r.len() + 11;
        xml[at..at + xml[at..].find('"').unwrap()]
            .parse::<usize>()
            .unwrap()
    };
    let xfs: Vec<&str> = styles
        .split("<cellXfs")
        .nth(1)
        .unwrap()
        .split("</cellXfs>")
        .next()
        .unwrap()
        .split("<xf ")
        .skip(1)
        .collect();
    assert!(xfs[style_of("Q4")].contains("locked=\"0\""), "day 14 open");
    assert!(
        !xfs[style_of("P4")].contains("locked=\"0\""),
        "day 13 closed"
    );
}

#[test]
fn the_sample_steps_keyed_into_a_template_import_with_no_problem() {
    let e = Env::with_roster();
    // The sample card sheet's June, keyed into June's template.
    let sample = e.sample("steps_card.xlsx");
    let keyed = read_xlsx(Path::new(&sample), "6月");
    let h = keyed.iter().position(|r| r[0] == "参加者番号").unwrap();
    e.run(&["template", "--month", "2025-06", "--out", "6月入力.xlsx"])
        .ok();
    let map = card_map(&e.path("6月入力.xlsx"), "6月");
    let mut cells = Vec::new();
    let mut want = BTreeMap::new();
    for row in &keyed[h + 1..] {
        for d in 1..=30u32 {
            let raw = row[1 + d as usize].replace([',', '，'], "");
            let raw: String = raw
                .chars()
                .map(|c| match c {
                    '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap(),
                    c => c,
                })
                .collect();
            let Ok(v) = raw.trim().parse::<i64>() else {
                continue;
            };
            cells.push((map.cell(&row[0], d), v));
            want.insert((row[0].clone(), format!("2025-06-{d:02}")), v);
        }
    }
    assert!(want.len() > 500, "{} days", want.len());
    fill(&e.path("6月入力.xlsx"), &e.path("6月_入力済.xlsx"), &cells);
    e.run(&["steps", "import", "6月_入力済.xlsx"])
        .ok()
        .stderr_has(&format!("{} 件を追加", want.len()))
        .stderr_has("0 行を保留");
    assert_eq!(stored(&e, "2025-06"), want);
}

#[test]
fn a_value_over_the_maximum_is_refused_whichever_way_it_gets_in() {
    let e = Env::with_roster();
    e.run(&["template", "--month", "2025-06", "--out", "t.xlsx"])
        .ok();
    let map = card_map(&e.path("t.xlsx"), "6月");
    // Forced past Excel's validation into the sheet itself.
    fill(
        &e.path("t.xlsx"),
        &e.path("forced.xlsx"),
        &[(map.cell("C000001", 3), 80000)],
    );
    e.run(&["steps", "import", "forced.xlsx"])
        .refused()
        .stderr_has("steps.implausible at forced.xlsx:6月!F4");
    // Keyed through a CSV in the same layout, as before.
    e.write(
        "forced.csv",
        "参加者番号,氏名（確認用）,年月,1日,2日,3日\nC000001,井上　恵子,2025年6月,,,80000\n",
    );
    e.run(&["steps", "import", "forced.csv"])
        .refused()
        .stderr_has("steps.implausible at forced.csv:forced!F2");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn the_name_column_is_never_stored_nor_copied_into_a_report() {
    let e = Env::with_roster();
    e.run(&["template", "--month", "2025-06", "--out", "t.xlsx"])
        .ok();
    let cells = read_xlsx(&e.path("t.xlsx"), "6月");
    let name = cells[3][1].clone();
    assert!(!name.is_empty());
    let map = card_map(&e.path("t.xlsx"), "6月");
    fill(
        &e.path("t.xlsx"),
        &e.path("k.xlsx"),
        &[
            (map.cell("C000001", 1), 8000),
            (map.cell("C000001", 2), 90000),
        ],
    );
    e.run(&[
        "steps",
        "import",
        "k.xlsx",
        "--partial",
        "--errors",
        "誤り.xlsx",
    ])
    .ok();
    // The rejected row is kept with the name column empty; no problem names it.
    let raw: String = e
        .conn()
        .query_row("SELECT raw_json FROM rejected_rows", [], |r| r.get(0))
        .unwrap();
    assert!(raw.starts_with("[\"C000001\",\"\",\"2025年6月\""), "{raw}");
    assert_eq!(
        e.count(&format!(
            "SELECT count(*) FROM problems WHERE raw LIKE '%{name}%' OR message LIKE '%{name}%'"
        )),
        0
    );
    // The error report's copy of the sheet keeps the heading, not the names.
    for sheet in ["誤り", "入力1_6月"] {
        let text: String = read_xlsx(&e.path("誤り.xlsx"), sheet).concat().concat();
        assert!(!text.contains(&name), "{sheet}: {text}");
    }
    let copy = read_xlsx(&e.path("誤り.xlsx"), "入力1_6月");
    assert_eq!(copy[2][1], "氏名（確認用）");
    assert_eq!(copy[3][0], "C000001");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
}

#[test]
fn two_copies_for_double_entry_are_recorded_and_erased_at_close_out() {
    let e = Env::with_roster();
    e.run(&[
        "template",
        "--month",
        "2025-06",
        "--out",
        "6月入力.xlsx",
        "--copies",
        "2",
    ])
    .ok();
    for n in ["6月入力_1回目.xlsx", "6月入力_2回目.xlsx"] {
        let p = e.path(n);
        assert!(p.exists(), "{n}");
        let nth: String = n.chars().skip(5).take(3).collect();
        assert!(read_xlsx(&p, "6月")[0][0].ends_with(&format!("{nth}の入力")));
        assert_eq!(
            e.count(&format!(
                "SELECT count(*) FROM exports WHERE path LIKE '%{n}'"
            )),
            1,
            "{n} recorded"
        );
    }
    close_out(&e, &["--erase-exports"]).ok();
    assert!(!e.path("6月入力_1回目.xlsx").exists());
    assert!(!e.path("6月入力_2回目.xlsx").exists());
}

#[test]
fn the_long_layout_lists_every_open_day_and_imports_back() {
    let e = Env::with_roster();
    e.run(&[
        "template", "--month", "2025-05", "--out", "l.xlsx", "--layout", "long",
    ])
    .ok();
    let cells = read_xlsx(&e.path("l.xlsx"), "5月");
    assert_eq!(
        &cells[2][..4],
        ["参加者番号", "氏名（確認用）", "日付", "歩数"]
    );
    assert_eq!(cells.len() - 3, 38 * 18, "38 participants × 14–31 May");
    assert_eq!(cells[3][2], "2025-05-14");
    // Two days keyed; every other pre-filled row left blank is a day not on the card.
    fill(
        &e.path("l.xlsx"),
        &e.path("lk.xlsx"),
        &[("D4".into(), 4321), ("D22".into(), 0)],
    );
    e.run(&["steps", "import", "lk.xlsx"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM steps"), 2);
    assert_eq!(e.steps(&cells[3][0], "2025-05-14"), Some(4321));
    assert_ne!(cells[21][0], cells[3][0]);
    assert_eq!(e.steps(&cells[21][0], "2025-05-14"), Some(0));
}

#[test]
fn a_month_outside_the_period_or_a_wrong_list_writes_nothing() {
    let e = Env::with_roster();
    e.run(&["template", "--month", "2026-04", "--out", "t.xlsx"])
        .refused()
        .stderr_has("事業期間（2025-05-14〜2026-03-31）の外");
    e.write("ids.csv", "参加者番号\nC000001\nC999999\n");
    e.run(&[
        "template",
        "--month",
        "2025-06",
        "--out",
        "t.xlsx",
        "--participants",
        "ids.csv",
    ])
    .refused()
    .stderr_has("3行目「C999999」");
    e.run(&["template", "--month", "2025-06", "--out", "t.csv"])
        .usage();
    assert!(!e.path("t.xlsx").exists());
    e.write("ids.csv", "参加者番号\nC000004\nC000001\n");
    e.run(&[
        "template",
        "--month",
        "2025-06",
        "--out",
        "t.xlsx",
        "--participants",
        "ids.csv",
    ])
    .ok();
    let rows = read_xlsx(&e.path("t.xlsx"), "6月");
    assert_eq!(rows.len(), 5);
    assert_eq!(
        (rows[3][0].as_str(), rows[4][0].as_str()),
        ("C000004", "C000001")
    );
}

#[test]
fn two_keyed_templates_verify_and_the_report_copies_no_name() {
    let e = Env::with_roster();
    e.run(&[
        "template",
        "--month",
        "2025-06",
        "--out",
        "6月入力.xlsx",
        "--copies",
        "2",
    ])
    .ok();
    let name = read_xlsx(&e.path("6月入力_1回目.xlsx"), "6月")[3][1].clone();
    let map = card_map(&e.path("6月入力_1回目.xlsx"), "6月");
    let keyed = |v: i64| vec![(map.cell("C000001", 1), 8350), (map.cell("C000001", 2), v)];
    fill(
        &e.path("6月入力_1回目.xlsx"),
        &e.path("1.xlsx"),
        &keyed(9000),
    );
    fill(
        &e.path("6月入力_2回目.xlsx"),
        &e.path("2.xlsx"),
        &keyed(900),
    );
    e.run(&["steps", "verify", "1.xlsx", "2.xlsx", "--out", "照合.xlsx"])
        .refused()
        .stderr_has("不一致 C000001 2025-06-02");
    let book = calamine::open_workbook_auto(e.path("照合.xlsx")).unwrap();
    use calamine::Reader;
    let sheets = book.sheet_names();
    assert!(sheets.len() > 5, "{sheets:?}");
    for sheet in sheets {
        let text = read_xlsx(&e.path("照合.xlsx"), &sheet).concat().concat();
        assert!(!text.contains(&name), "{sheet}");
    }
}
