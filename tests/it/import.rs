//! Import: every input form, each validation code at its cell, batch semantics, hostile
//! workbooks, designated handlers.

use crate::harness::*;
use std::io::Write;

#[test]
fn demo_samples_import_end_to_end() {
    let e = Env::with_roster();
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
    // Full-width postal code and an era birth date in the CP932 roster were normalized.
    assert_eq!(
        e.count("SELECT count(*) FROM participants WHERE postal_code NOT GLOB '[0-9][0-9][0-9]-[0-9][0-9][0-9][0-9]' AND channel='台紙'"),
        0
    );
    e.run(&[
        "steps",
        "import",
        s(&example("steps_card.xlsx")),
        "--all-sheets",
    ])
    .ok();
    e.run(&["steps", "import", s(&example("steps_long.csv"))])
        .ok();
    assert_eq!(e.count("SELECT count(*) FROM steps"), 7920);
}

#[test]
fn cp932_csv_with_title_rows_fullwidth_and_era_dates() {
    let e = Env::with_roster();
    e.run(&[
        "steps",
        "import",
        s(&fixture("steps_long_cp932_title_rows.csv")),
    ])
    .ok()
    .stderr_has("5 件を追加");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    assert_eq!(e.steps("C000001", "2025-06-02"), Some(7500));
    assert_eq!(e.steps("C000001", "2025-06-03"), Some(12345));
    assert_eq!(e.steps("C000004", "2025-06-04"), Some(6000));
    assert_eq!(e.steps("C000004", "2025-06-05"), Some(0));
    // The batch remembers where each value came from (row 5 is the first data row).
    assert_eq!(
        e.count("SELECT src_row FROM steps WHERE participant_id='C000001' AND date='2025-06-01'"),
        5
    );
}

#[test]
fn bom_csv_with_english_headers() {
    let e = Env::with_roster();
    e.run(&["steps", "import", s(&fixture("steps_long_bom.csv"))])
        .ok();
    assert_eq!(e.steps("C000001", "2025-06-10"), Some(9100));
    assert_eq!(e.steps("C000004", "2025-06-11"), Some(4321));
}

/// A card-layout workbook keyed the ways operators key: numbers, text, full-width,
/// thousands separators, floats, a date-typed month cell shown as 2025年6月, an era month.
fn card_workbook(path: &std::path::Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    let ym = Format::new().set_num_format("yyyy\"年\"m\"月\"");
    let ws = wb.add_worksheet();
    ws.set_name("6月").unwrap();
    ws.write_string(0, 0, "歩数記録（台紙） 令和7年6月分")
        .unwrap();
    let mut header = vec!["参加者番号".to_string(), "年月".to_string()];
    header.extend((1..=31).map(|d| format!("{d}日")));
    for (c, h) in header.iter().enumerate() {
        ws.write_string(2, c as u16, h).unwrap();
    }
    ws.write_string(3, 0, "C000001").unwrap();
    ws.write_datetime_with_format(3, 1, ExcelDateTime::from_ymd(2025, 6, 1).unwrap(), &ym)
        .unwrap();
    ws.write_number(3, 2, 8000).unwrap(); // 1日: number
    ws.write_string(3, 3, "７５００").unwrap(); // 2日: full-width text
    ws.write_string(3, 4, "12,345").unwrap(); // 3日: comma text
    ws.write_number(3, 5, 6000.0).unwrap(); // 4日: float
    ws.write_string(3, 6, "８，８８８").unwrap(); // 5日: full-width with comma
    ws.write_string(4, 0, "C000004").unwrap();
    ws.write_string(4, 1, "R7.7").unwrap();
    ws.write_number(4, 2, 4000).unwrap(); // 7/1
    ws.write_number(4, 32, 3000).unwrap(); // 7/31
    let ws2 = wb.add_worksheet();
    ws2.set_name("メモ").unwrap();
    ws2.write_string(0, 0, "入力時の注意").unwrap();
    wb.save(path).unwrap();
}

#[test]
fn xlsx_card_layout_every_cell_form() {
    let e = Env::with_roster();
    let p = e.path("card.xlsx");
    card_workbook(&p);
    e.run(&["steps", "import", s(&p)]).ok();
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    assert_eq!(e.steps("C000001", "2025-06-02"), Some(7500));
    assert_eq!(e.steps("C000001", "2025-06-03"), Some(12345));
    assert_eq!(e.steps("C000001", "2025-06-04"), Some(6000));
    assert_eq!(e.steps("C000001", "2025-06-05"), Some(8888));
    assert_eq!(e.steps("C000004", "2025-07-01"), Some(4000));
    assert_eq!(e.steps("C000004", "2025-07-31"), Some(3000));
    assert_eq!(e.count("SELECT count(*) FROM steps"), 7);
    // --all-sheets skips the sheet with no header and imports the rest as one batch;
    // it is another import than the first sheet alone, so it is not "already imported",
    // and every value in it is a duplicate.
    e.run(&["steps", "import", s(&p), "--all-sheets"])
        .ok()
        .stderr_has("見出しがないので読みません");
    assert_eq!(e.count("SELECT duplicates FROM batches WHERE id=3"), 7);
    // --sheet by name; a missing one is a usage error naming the sheets.
    e.run(&["steps", "import", s(&p), "--sheet", "7月"])
        .usage()
        .stderr_has("6月、メモ");
}

#[test]
fn every_step_validation_code_at_its_cell() {
    let e = Env::with_roster();
    let report = e.path("errors.csv");
    e.run(&[
        "steps",
        "import",
        s(&fixture("steps_every_error.csv")),
        "--errors",
        s(&report),
    ])
    .refused()
    .stderr_has("何も取り込んでいません");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        0
    );
    let got = codes_at(&report);
    let want = [
        ("A3", "participant.unknown"),
        ("A4", "participant.id_invalid"),
        ("B5", "date.invalid"),
        ("B6", "date.nonexistent"),
        ("B7", "date.out_of_period"),
        ("C8", "steps.not_a_number"),
        ("C9", "steps.negative"),
        ("C10", "steps.implausible"),
        ("C11", "steps.duplicate_conflict"),
        ("C12", "steps.duplicate_conflict"),
    ];
    for (cell, code) in want {
        assert!(
            got.contains(&(cell.to_string(), code.to_string())),
            "{cell} {code} not in {got:?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{got:?}");
}

#[test]
fn error_report_xlsx_highlights_a_copy_of_the_input() {
    let e = Env::with_roster();
    let report = e.path("errors.xlsx");
    e.run(&[
        "steps",
        "import",
        s(&fixture("steps_every_error.csv")),
        "--errors",
        s(&report),
    ])
    .refused();
    let rows = read_xlsx(&report, "誤り");
    assert_eq!(
        rows[0],
        [
            "ファイル",
            "シート",
            "セル",
            "行",
            "列",
            "値",
            "コード",
            "内容"
        ]
    );
    assert!(rows
        .iter()
        .any(|r| r[2] == "C10" && r[6] == "steps.implausible" && r[5] == "70001"));
    let copy = read_xlsx(&report, "入力1_steps_every_error");
    assert_eq!(copy[9][2], "70001");
}

#[test]
fn card_value_on_a_day_that_does_not_exist() {
    let e = Env::with_roster();
    let report = e.path("errors.csv");
    e.run(&[
        "steps",
        "import",
        s(&fixture("steps_card_nonexistent_day.csv")),
        "--errors",
        s(&report),
    ])
    .refused();
    assert_eq!(
        codes_at(&report),
        [("AG2".to_string(), "date.nonexistent".to_string())]
    );
}

#[test]
fn roster_validation_codes() {
    let e = Env::init();
    let report = e.path("errors.csv");
    e.run(&[
        "roster",
        "import",
        s(&fixture("roster_every_error.csv")),
        "--errors",
        s(&report),
    ])
    .refused();
    let got = codes_at(&report);
    for (cell, code) in [
        ("D3", "postal_code.invalid"),
        ("F4", "birth_date.invalid"),
        ("G5", "sex.invalid"),
        ("J6", "email.not_allowed"),
    ] {
        assert!(
            got.contains(&(cell.to_string(), code.to_string())),
            "{cell} {code} not in {got:?}"
        );
    }
    assert_eq!(got.len(), 4);
}

#[test]
fn header_problems_are_named() {
    let e = Env::with_roster();
    e.run(&["steps", "import", s(&fixture("steps_unknown_column.csv"))])
        .refused()
        .stderr_has("header.unknown_column")
        .stderr_has("備考")
        .stderr_has("参加者番号（participant_id）");
    e.run(&[
        "steps",
        "import",
        s(&fixture("steps_unknown_column.csv")),
        "--ignore-column",
        "備考",
    ])
    .ok();
    e.run(&["steps", "import", s(&fixture("steps_forbidden_column.csv"))])
        .refused()
        .stderr_has("header.forbidden_column")
        .stderr_has("契約");
    e.run(&["steps", "import", s(&fixture("steps_duplicate_column.csv"))])
        .refused()
        .stderr_has("header.duplicate_column");
    e.run(&["steps", "import", s(&fixture("steps_missing_column.csv"))])
        .refused()
        .stderr_has("header.missing_column")
        .stderr_has("歩数");
    e.run(&["steps", "import", s(&fixture("steps_no_header.csv"))])
        .refused()
        .stderr_has("header.not_found");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 1);
}

#[test]
fn strict_partial_and_dry_run() {
    let e = Env::with_roster();
    let f = fixture("steps_every_error.csv");
    e.run(&["steps", "import", s(&f), "--dry-run"]).refused();
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
    let good = fixture("steps_long_bom.csv");
    e.run(&["steps", "import", s(&good), "--dry-run"])
        .ok()
        .stderr_has("何も変えていません");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);

    e.run(&["steps", "import", s(&f), "--partial"])
        .ok()
        .stderr_has("10 行を保留");
    // The one valid row is in; the two differing keyings of 7/7 are both out.
    assert_eq!(e.count("SELECT count(*) FROM steps"), 1);
    assert_eq!(e.steps("C000001", "2025-07-07"), None);
    assert_eq!(
        e.count("SELECT count(*) FROM rejected_rows WHERE batch_id=2"),
        10
    );
    assert_eq!(
        e.count("SELECT count(*) FROM problems WHERE batch_id=2"),
        10
    );

    // Rejected rows come back in the import layout, to be fixed and imported again.
    let fix = e.path("fix.csv");
    e.run(&["batches", "show", "2", "--rejected", "--out", s(&fix)])
        .ok();
    let text = std::fs::read_to_string(&fix).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(lines.next(), Some("参加者番号,日付,歩数"));
    assert_eq!(lines.clone().count(), 10);
    let fixed: String = text
        .replace("Z999999", "C000004")
        .replace("C-00*1", "C000004")
        .replace("2025-13-01", "2025-08-01")
        .replace("2025-06-31", "2025-06-30")
        .replace("2025-04-30", "2025-08-02")
        .replace(",abc", ",4000")
        .replace(",'-1", ",1")
        .replace(",70001", ",7001")
        .replace("2025-07-07,5500", "2025-07-08,5500");
    let fixed_path = e.write("fixed.csv", &fixed);
    e.run(&["steps", "import", s(&fixed_path)]).ok();
    assert_eq!(e.steps("C000001", "2025-07-07"), Some(5000));
    assert_eq!(e.steps("C000001", "2025-07-08"), Some(5500));
    assert_eq!(e.count("SELECT count(*) FROM steps"), 11);
}

#[test]
fn reimport_is_idempotent_and_duplicates_are_skipped() {
    let e = Env::with_roster();
    let f = fixture("steps_long_cp932_title_rows.csv");
    e.run(&["steps", "import", s(&f)]).ok();
    e.run(&["steps", "import", s(&f)])
        .ok()
        .stderr_has("取り込み済みです");
    assert_eq!(
        e.count("SELECT count(*) FROM batches WHERE kind='steps'"),
        1
    );
    // The same values in another file: counted as duplicates, nothing doubled.
    let mut text = encoding_rs::SHIFT_JIS
        .decode(&std::fs::read(&f).unwrap())
        .0
        .into_owned();
    text.push_str("C000004,2025-06-06,1000\r\n");
    let g = e.write_cp932("again.csv", &text);
    e.run(&["steps", "import", s(&g)])
        .ok()
        .stderr_has("1 件を追加、5 件は同じ値");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 6);
}

#[test]
fn conflict_replace_and_undo() {
    let e = Env::with_roster();
    e.write(
        "a.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-01,8000\nC000001,2025-06-02,100\n",
    );
    e.write("b.csv", "参加者番号,日付,歩数\nC000001,2025-06-01,7800\n");
    e.run(&["steps", "import", "a.csv"]).ok();
    e.run(&["steps", "import", "b.csv"])
        .refused()
        .stderr_has("steps.conflict at b.csv:b!C2")
        .stderr_has("7800 keyed, 8000 already stored from batch 2; use --replace");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    e.run(&["steps", "import", "b.csv", "--replace"])
        .ok()
        .stderr_has("1 件を置換");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(7800));
    assert_eq!(
        e.count("SELECT steps FROM steps_history WHERE participant_id='C000001'"),
        8000
    );
    // Undoing the replacing batch brings the old value back.
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    e.run(&["batches", "undo", "3"])
        .refused()
        .stderr_has("既に取り消されています");
    e.run(&["batches", "undo", "2"]).ok();
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
    // A roster batch whose participants have steps cannot be undone.
    e.run(&["steps", "import", "b.csv"]).ok();
    e.run(&["batches", "undo", "1"])
        .refused()
        .stderr_has("C000001");
    e.run(&["batches", "list"]).ok().stdout_has("取消済");
}

#[test]
fn roster_reimport_update_is_recorded() {
    let e = Env::with_roster();
    e.run(&["roster", "import", s(&example("roster.csv"))])
        .ok()
        .stderr_has("取り込み済み");
    let text = encoding_rs::SHIFT_JIS
        .decode(&std::fs::read(example("roster.csv")).unwrap())
        .0
        .into_owned();
    let changed = text.replacen("03-5306-6777", "03-5306-0000", 1);
    let p = e.write_cp932("roster2.csv", &changed);
    e.run(&["roster", "import", s(&p)])
        .refused()
        .stderr_has("participant.changed")
        .stderr_has("--update");
    e.run(&["roster", "import", s(&p), "--update"])
        .ok()
        .stderr_has("1 件を更新");
    assert_eq!(e.count("SELECT count(*) FROM participant_history"), 1);
    assert_eq!(
        e.count("SELECT count(*) FROM participants WHERE phone='03-5306-0000'"),
        1
    );
}

#[test]
fn exports_read_back() {
    let e = Env::with_roster();
    e.run(&["steps", "import", s(&fixture("steps_long_bom.csv"))])
        .ok();
    let out = e.path("roster.xlsx");
    e.run(&["roster", "export", "--out", s(&out)]).ok();
    let rows = read_xlsx(&out, "名簿");
    assert_eq!(rows.len(), 61);
    assert_eq!(rows[0][0], "参加者番号");
    let r = e.run(&["steps", "export", "--participant", "C000004"]).ok();
    assert_eq!(
        r.stdout.trim(),
        "参加者番号,日付,歩数\nC000004,2025-06-11,4321"
    );
    e.run(&["steps", "export", "--out", "x.txt"]).usage();
}

#[test]
fn init_refuses_overwrite_and_names_program_mistakes() {
    let e = Env::init();
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("既にあります");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(e.db()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let bad = PROGRAM
        .replace("end = 2026-03-31", "end = 2025-01-01")
        .replace("daily_cap = 5", "daily_cap = 5\ncolour = 1");
    let f = Env::new();
    f.write("p.toml", &bad);
    f.run(&["init", "--program", "p.toml"])
        .refused()
        .stderr_has("colour");
    let bad = PROGRAM.replace("end = 2026-03-31", "end = 2025-01-01");
    f.write("p.toml", &bad);
    f.run(&["init", "--program", "p.toml"])
        .refused()
        .stderr_has("program.end");
    assert!(!f.db().exists());
}

#[test]
fn a_stranger_is_refused() {
    let e = Env::init();
    e.run_as(
        "田中 一郎",
        &["roster", "import", s(&example("roster.csv"))],
    )
    .refused()
    .stderr_has("取扱者として指定されていません");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
    e.run_as("", &["batches", "list"]).usage();
    // The refusal itself is in the audit log, written at the next successful open (a
    // stranger has no key: the database could not be opened for them).
    e.run(&["batches", "list"]).ok();
    assert_eq!(
        e.count("SELECT count(*) FROM audit_log WHERE operator='田中 一郎' AND detail LIKE '%refused: not a designated handler%'"),
        1
    );
}

/// A minimal xlsx with one worksheet XML, for hostile cases.
fn raw_xlsx(path: &std::path::Path, sheet_xml: &str) {
    raw_xlsx_with(path, sheet_xml, None)
}

fn raw_xlsx_with(path: &std::path::Path, sheet_xml: &str, shared: Option<&str>) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let o = zip::write::SimpleFileOptions::default();
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string()),
        ("xl/worksheets/sheet1.xml", sheet_xml.to_string()),
    ];
    for (name, body) in files {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    }
    if let Some(sst) = shared {
        z.start_file("xl/sharedStrings.xml", o).unwrap();
        z.write_all(sst.as_bytes()).unwrap();
    }
    z.finish().unwrap();
}

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#;

#[test]
fn hostile_and_damaged_workbooks_are_clear_errors() {
    let e = Env::with_roster();
    // Cells at A1 and XFD1048576: calamine's worksheet_range would try to allocate ~550 GB.
    let far = e.path("far.xlsx");
    raw_xlsx(
        &far,
        &format!(
            r#"{SHEET_HEAD}<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>参加者番号</t></is></c><c r="B1" t="inlineStr"><is><t>日付</t></is></c><c r="C1" t="inlineStr"><is><t>歩数</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#
        ),
    );
    e.run(&["steps", "import", s(&far)])
        .refused()
        .stderr_has("XFD1048576");
    // A reversed dimension ref.
    let rev = e.path("reversed.xlsx");
    raw_xlsx(
        &rev,
        &format!(
            r#"{SHEET_HEAD}<dimension ref="G1:B2"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>参加者番号</t></is></c><c r="B1" t="inlineStr"><is><t>日付</t></is></c><c r="C1" t="inlineStr"><is><t>歩数</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>C000001</t></is></c><c r="B2" t="inlineStr"><is><t>2025-06-01</t></is></c><c r="C2"><v>5000</v></c></row></sheetData></worksheet>"#
        ),
    );
    let r = e.run(&["steps", "import", s(&rev)]);
    assert!(r.code == 0 || r.code == 1, "no crash: {}", r.stderr);
    if r.code == 0 {
        assert_eq!(e.steps("C000001", "2025-06-01"), Some(5000));
    }
    // A shared-string count that would make the reader reserve terabytes.
    let bomb = e.path("bomb.xlsx");
    raw_xlsx_with(
        &bomb,
        &format!("{SHEET_HEAD}<sheetData/></worksheet>"),
        Some(
            r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="100000000000" uniqueCount="100000000000"><si><t>x</t></si></sst>"#,
        ),
    );
    e.run(&["steps", "import", s(&bomb)])
        .refused()
        .stderr_has("共有文字列");
    // A truncated workbook.
    let good = e.path("good.xlsx");
    card_workbook(&good);
    let bytes = std::fs::read(&good).unwrap();
    let cut = e.write_bytes("cut.xlsx", &bytes[..bytes.len() / 2]);
    e.run(&["steps", "import", s(&cut)])
        .refused()
        .stderr_has("cut.xlsx");
    // A password-protected workbook is an OLE container, not a zip.
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend(std::iter::repeat_n(0u8, 4096));
    let enc = e.write_bytes("locked.xlsx", &ole);
    e.run(&["steps", "import", s(&enc)])
        .refused()
        .stderr_has("パスワード");
    // Not a spreadsheet at all.
    let junk = e.write("junk.xlsx", "hello");
    e.run(&["steps", "import", s(&junk)])
        .refused()
        .stderr_has("junk.xlsx");
    e.run(&["steps", "import", "missing.csv"])
        .refused()
        .stderr_has("missing.csv");
    e.run(&["steps", "import", s(&e.write("notes.docx", "x"))])
        .refused()
        .stderr_has(".xlsx");
}

#[test]
fn several_files_each_their_own_batch_and_error_report() {
    let e = Env::with_roster();
    e.write(
        "good.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-01,8000\n",
    );
    e.write("bad.csv", "参加者番号,日付,歩数\nC000001,2025-06-02,-8\n");
    e.run(&[
        "steps", "import", "good.csv", "bad.csv", "--errors", "err.csv",
    ])
    .refused()
    .stderr_has("2 ファイル中 1 ファイルを取り込めませんでした");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    assert_eq!(e.steps("C000001", "2025-06-02"), None);
    assert!(e.path("err_good.csv").exists());
    let bad = std::fs::read_to_string(e.path("err_bad.csv")).unwrap();
    assert!(bad.contains("steps.negative"), "{bad}");
}

#[test]
fn stacked_replacements_undone_in_either_order_bring_the_first_value_back() {
    let e = Env::with_roster();
    e.write("a.csv", "参加者番号,日付,歩数\nA000002,2025-06-01,3000\n");
    e.write("b.csv", "参加者番号,日付,歩数\nA000002,2025-06-01,5000\n");
    e.write("c.csv", "参加者番号,日付,歩数\nA000002,2025-06-01,9000\n");
    e.run(&["steps", "import", "a.csv"]).ok(); // batch 2
    e.run(&["steps", "import", "b.csv", "--replace"]).ok(); // batch 3
    e.run(&["steps", "import", "c.csv", "--replace"]).ok(); // batch 4
                                                            // The middle batch first: the current value (batch 4's) stays.
    e.run(&["batches", "undo", "3"]).ok();
    assert_eq!(e.steps("A000002", "2025-06-01"), Some(9000));
    // Then the last: batch 2's value, still committed, comes back.
    e.run(&["batches", "undo", "4"]).ok();
    assert_eq!(e.steps("A000002", "2025-06-01"), Some(3000));
}

#[test]
fn a_roster_update_never_blanks_columns_the_file_does_not_have() {
    let e = Env::with_roster();
    let before = e.count("SELECT count(*) FROM participants WHERE id='A000002' AND channel='アプリ' AND email IS NOT NULL AND name_kana IS NOT NULL AND sex IS NOT NULL");
    assert_eq!(before, 1);
    e.write(
        "r.csv",
        "参加者番号,氏名,郵便番号,住所,生年月日,電話番号\nA000002,佐藤 彩,160-0022,東京都新宿区新宿1-1,1983-07-27,03-1234-5678\n",
    );
    e.run(&["roster", "import", "r.csv", "--update"])
        .ok()
        .stderr_has("1 件を更新");
    // The keyed columns changed; kana, sex, channel and email were not in the file and stay.
    assert_eq!(
        e.count("SELECT count(*) FROM participants WHERE id='A000002' AND channel='アプリ' AND email IS NOT NULL AND name_kana IS NOT NULL AND sex IS NOT NULL AND phone='03-1234-5678'"),
        1
    );
    // The same file again is a duplicate, not a change.
    e.write(
        "r2.csv",
        "参加者番号,氏名,郵便番号,住所,生年月日,電話番号\r\nA000002,佐藤 彩,160-0022,東京都新宿区新宿1-1,1983-07-27,03-1234-5678\r\n",
    );
    e.run(&["roster", "import", "r2.csv"])
        .ok()
        .stderr_has("1 件は同じ値");
}

/// A long-layout workbook saved the way Excel and xlsxwriter save it: the participant number
/// repeats on every row, so `sharedStrings.xml` says `count` (references) far above
/// `uniqueCount` (strings). It used to be refused as a forged string count.
#[test]
fn excel_workbook_with_repeated_strings_imports() {
    use rust_xlsxwriter::Workbook;
    let e = Env::with_roster();
    let p = e.path("long.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("歩数").unwrap();
    for (c, h) in ["参加者番号", "日付", "歩数"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let ids = ["C000001", "C000004", "C000005"];
    let mut row = 1u32;
    for id in ids {
        for day in 1..=30u32 {
            ws.write_string(row, 0, id).unwrap();
            ws.write_string(row, 1, format!("2025-06-{day:02}"))
                .unwrap();
            ws.write_number(row, 2, f64::from(5000 + day)).unwrap();
            row += 1;
        }
    }
    wb.save(&p).unwrap();
    // The file really is written as Excel writes it: many references, few strings.
    let f = std::fs::File::open(&p).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut sst = String::new();
    std::io::Read::read_to_string(&mut z.by_name("xl/sharedStrings.xml").unwrap(), &mut sst)
        .unwrap();
    assert!(sst.contains(r#"count="183""#), "{}", &sst[..200]);
    assert!(sst.contains(r#"uniqueCount="36""#), "{}", &sst[..200]);
    e.run(&["steps", "import", p.to_str().unwrap()]).ok();
    assert_eq!(e.count("SELECT COUNT(*) FROM steps"), 90);
    assert_eq!(e.steps("C000004", "2025-06-17"), Some(5017));
}

// In-file duplicates are decided by the file alone (SPEC): a participant-day keyed more
// than once in one file with differing values is `steps.duplicate_conflict` on every such
// row, and none of them is stored or replaces anything, in strict, --partial and
// --replace alike.

/// A database holding C000001's 2025-06-01 as 1632 (batch 2).
fn with_stored_1632() -> Env {
    let e = Env::with_roster();
    e.write("a.csv", "参加者番号,日付,歩数\nC000001,2025-06-01,1632\n");
    e.run(&["steps", "import", "a.csv"]).ok();
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(1632));
    e
}

/// `steps import` of C000001's rows (date, steps) with `flags` and an error report: the
/// run and the report's (cell, code) pairs.
fn import_rows(e: &Env, rows: &[(&str, i64)], flags: &[&str]) -> (Run, Vec<(String, String)>) {
    let mut text = String::from("参加者番号,日付,歩数\n");
    for (date, steps) in rows {
        text.push_str(&format!("C000001,{date},{steps}\n"));
    }
    e.write("b.csv", &text);
    let report = e.path("errors.csv");
    let _ = std::fs::remove_file(&report);
    let mut args = vec!["steps", "import", "b.csv", "--errors", s(&report)];
    args.extend(flags);
    let run = e.run(&args);
    (run, codes_at(&report))
}

/// `steps.duplicate_conflict` at each of these cells.
fn duplicate_conflicts(cells: &[&str]) -> Vec<(String, String)> {
    cells
        .iter()
        .map(|c| (c.to_string(), "steps.duplicate_conflict".to_string()))
        .collect()
}

#[test]
fn replace_partial_keeps_a_stored_day_the_file_keys_twice_differently() {
    let e = with_stored_1632();
    let (run, codes) = import_rows(
        &e,
        &[
            ("2025-06-01", 3000),
            ("2025-06-01", 3001),
            ("2025-06-02", 500),
        ],
        &["--replace", "--partial"],
    );
    run.ok().stderr_has("0 件を置換").stderr_has("2 行を保留");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(1632));
    assert_eq!(e.steps("C000001", "2025-06-02"), Some(500));
    assert_eq!(e.count("SELECT count(*) FROM steps_history"), 0);
    assert_eq!(codes, duplicate_conflicts(&["C2", "C3"]));
    assert_eq!(e.count("SELECT count(*) FROM rejected_rows"), 2);
}

#[test]
fn replace_refuses_a_file_keying_the_stored_value_and_another() {
    let e = with_stored_1632();
    let (run, codes) = import_rows(
        &e,
        &[("2025-06-01", 1632), ("2025-06-01", 3000)],
        &["--replace"],
    );
    run.refused().stderr_has("何も取り込んでいません");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(1632));
    assert_eq!(codes, duplicate_conflicts(&["C2", "C3"]));
}

#[test]
fn a_stored_day_keyed_twice_differently_is_a_duplicate_conflict_not_a_conflict() {
    let e = with_stored_1632();
    let (run, codes) = import_rows(&e, &[("2025-06-01", 3000), ("2025-06-01", 3001)], &[]);
    run.refused();
    assert_eq!(codes, duplicate_conflicts(&["C2", "C3"]));
    // One differing value keyed twice is a conflict on both rows.
    let (run, codes) = import_rows(&e, &[("2025-06-01", 3000), ("2025-06-01", 3000)], &[]);
    run.refused()
        .stderr_has("3000 keyed, 1632 already stored from batch 2");
    let conflict = |c: &str| (c.to_string(), "steps.conflict".to_string());
    assert_eq!(codes, [conflict("C2"), conflict("C3")]);
}

#[test]
fn a_day_keyed_three_times_is_taken_from_none_and_reported_on_every_row() {
    let e = Env::with_roster();
    let rows = [
        ("2025-06-01", 3000),
        ("2025-06-01", 3001),
        ("2025-06-01", 3001),
        ("2025-06-02", 500),
    ];
    let want = duplicate_conflicts(&["C2", "C3", "C4"]);
    // Strict: refused, all three rows in the report.
    let (run, codes) = import_rows(&e, &rows, &[]);
    run.refused();
    assert_eq!(codes, want);
    // --partial: none of the three taken, the other day is.
    let (run, codes) = import_rows(&e, &rows, &["--partial"]);
    run.ok().stderr_has("3 行を保留");
    assert_eq!(codes, want);
    assert_eq!(e.steps("C000001", "2025-06-01"), None);
    assert_eq!(e.steps("C000001", "2025-06-02"), Some(500));
    assert_eq!(e.count("SELECT count(*) FROM rejected_rows"), 3);
}

/// `steps import --partial` of a card sheet whose rows 2 and 3 both key June 2nd (200
/// and 250); two rows are kept aside. The report's (cell, code) pairs.
fn import_card_rows_partial(e: &Env) -> Vec<(String, String)> {
    e.write(
        "card.csv",
        "参加者番号,年月,1,2,3\nC000001,2025-06,100,200,300\nC000001,2025-06,,250,\n",
    );
    let report = e.path("errors.csv");
    e.run(&[
        "steps",
        "import",
        "card.csv",
        "--partial",
        "--errors",
        s(&report),
    ])
    .ok()
    .stderr_has("2 行を保留");
    codes_at(&report)
}

#[test]
fn a_card_day_keyed_on_two_rows_differently_refuses_both_rows() {
    let e = Env::with_roster();
    let codes = import_card_rows_partial(&e);
    assert_eq!(codes, duplicate_conflicts(&["D2", "D3"]));
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(100));
    assert_eq!(e.steps("C000001", "2025-06-02"), None);
    assert_eq!(e.steps("C000001", "2025-06-03"), Some(300));
    // The rejected rows come back as keyed, in the card layout.
    let out = e.path("fix.csv");
    e.run(&["batches", "show", "2", "--rejected", "--out", s(&out)])
        .ok();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("C000001,2025-06,,250,"), "{text}");
}

#[test]
fn the_same_value_keyed_twice_is_one_entry() {
    let e = with_stored_1632();
    let rows = [
        ("2025-06-01", 3000),
        ("2025-06-01", 3000),
        ("2025-06-02", 7),
        ("2025-06-02", 7),
    ];
    import_rows(&e, &rows, &["--replace"])
        .0
        .ok()
        .stderr_has("1 件を追加、2 件は同じ値が既にあるため飛ばし、1 件を置換");
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(3000));
    assert_eq!(e.steps("C000001", "2025-06-02"), Some(7));
    assert_eq!(e.count("SELECT count(*) FROM steps_history"), 1);
}

#[test]
fn a_card_row_refused_for_two_reasons_is_one_rejected_row() {
    let e = with_stored_1632();
    // Row 2 conflicts with the stored 1632 on the 1st and keys the 2nd differently
    // from row 3: two problems, one row.
    let codes = import_card_rows_partial(&e);
    let conflict = ("C2".to_string(), "steps.conflict".to_string());
    let mut want = vec![conflict];
    want.extend(duplicate_conflicts(&["D2", "D3"]));
    assert_eq!(codes, want);
    assert_eq!(e.count("SELECT count(*) FROM rejected_rows"), 2);
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(1632));
    assert_eq!(e.steps("C000001", "2025-06-03"), Some(300));
}

/// A long CSV is checked where it is parsed (the reader's thread) once its header is
/// known, and only rows found wholly valid there skip the importer's checks. Rows far
/// into a long file (past the first chunks, so past that point) are judged exactly as
/// the full checks judge them: every problem at its cell, and valid rows in forms the
/// reader leaves to the importer (full-width, other date forms, grouping, spaces) stored.
#[test]
fn rows_deep_in_a_long_csv_are_judged_as_the_first_rows_are() {
    let e = Env::with_roster();
    let ids: Vec<String> = {
        let conn = e.conn();
        let mut stmt = conn
            .prepare("SELECT id FROM participants ORDER BY id")
            .unwrap();
        let ids = stmt.query_map([], |r| r.get(0)).unwrap();
        ids.map(Result::unwrap).collect()
    };
    assert_eq!(ids.len(), 60);
    let id = |n: usize| ids[n - 1].as_str();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 5, 14).unwrap();
    let mut text = String::from("参加者番号,日付,歩数\n");
    for p in 1..=60 {
        for d in 0..200 {
            let date = start + chrono::Duration::days(d);
            text.push_str(&format!("{},{date},{}\n", id(p), 1000 + p as i64 * 7 + d));
        }
    }
    // Row 12002 onwards: each row's expected code (or None: valid, and stored).
    let wide: String = id(4)
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let tail: Vec<(String, Option<&str>)> = vec![
        (
            "Z999999,2025-12-01,5000".into(),
            Some("participant.unknown"),
        ),
        (
            "C00000!,2025-12-01,5000".into(),
            Some("participant.id_invalid"),
        ),
        (
            format!("{},2025-04-01,5000", id(1)),
            Some("date.out_of_period"),
        ),
        (
            format!("{},2025-02-30,5000", id(10)),
            Some("date.nonexistent"),
        ),
        (
            format!("{},2025-12-01,70000", id(2)),
            Some("steps.implausible"),
        ),
        (format!("{},2025-12-01,-5", id(3)), Some("steps.negative")),
        (format!("{},2025-12-01,", id(13)), Some("steps.missing")),
        (
            format!("{},2025-12-01,5000,extra", id(7)),
            Some("cell.outside_header"),
        ),
        (
            format!("{},2025-06-01,1", id(8)),
            Some("steps.duplicate_conflict"),
        ),
        (format!("{wide},2025-12-01,4004"), None),
        (format!("{},2025/12/01,5005", id(5)), None),
        (format!("{},2025-12-01,\"6,006\"", id(6)), None),
        (format!(" {} ,2025-12-01,1111", id(11)), None),
        (format!("{},2025-12-01,0012", id(12)), None),
    ];
    for (row, _) in &tail {
        text.push_str(row);
        text.push('\n');
    }
    let f = e.write("long.csv", &text);
    let report = e.path("errors.csv");
    e.run(&[
        "steps",
        "import",
        s(&f),
        "--partial",
        "--errors",
        s(&report),
    ])
    .ok();
    let mut got: Vec<String> = codes_at(&report).into_iter().map(|(_, c)| c).collect();
    got.sort();
    let mut want: Vec<String> = tail
        .iter()
        .filter_map(|(_, c)| c.map(String::from))
        .collect();
    // The day keyed twice is refused on both rows, the first one far up the file too.
    want.push("steps.duplicate_conflict".into());
    want.sort();
    assert!(got.len() < 20, "{:?}", &got[..20.min(got.len())]);
    assert_eq!(got, want);
    assert_eq!(e.steps(id(8), "2025-06-01"), None);
    assert_eq!(e.steps(id(4), "2025-12-01"), Some(4004));
    assert_eq!(e.steps(id(5), "2025-12-01"), Some(5005));
    assert_eq!(e.steps(id(6), "2025-12-01"), Some(6006));
    assert_eq!(e.steps(id(11), "2025-12-01"), Some(1111));
    assert_eq!(e.steps(id(12), "2025-12-01"), Some(12));
    let last = (start + chrono::Duration::days(199)).to_string();
    assert_eq!(e.steps(id(60), &last), Some(1000 + 60 * 7 + 199));
    assert_eq!(
        e.count(&format!(
            "SELECT count(*) FROM steps WHERE date <= '{last}'"
        )),
        12_000 - 1
    );
    assert_eq!(
        e.count(&format!(
            "SELECT src_row FROM steps WHERE participant_id='{}' AND date='{last}'",
            id(60)
        )),
        12_001
    );
}

/// A row with a value under no heading is refused whole: listed with
/// `cell.outside_header` and, with `--partial`, kept aside, never also stored (the value
/// used to be stored though the row was listed as rejected).
#[test]
fn a_row_with_a_value_outside_the_header_is_listed_and_not_stored() {
    let e = Env::with_roster();
    let id: String = e
        .conn()
        .query_row("SELECT id FROM participants ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let f = e.write(
        "extra.csv",
        &format!("参加者番号,日付,歩数\n{id},2025-06-01,5000,メモ\n{id},2025-06-02,6000\n"),
    );
    let report = e.path("extra-errors.csv");
    e.run(&[
        "steps",
        "import",
        s(&f),
        "--partial",
        "--errors",
        s(&report),
    ])
    .ok();
    let got: Vec<String> = codes_at(&report).into_iter().map(|(_, c)| c).collect();
    assert_eq!(got, vec!["cell.outside_header".to_string()]);
    assert_eq!(e.steps(&id, "2025-06-01"), None);
    assert_eq!(e.steps(&id, "2025-06-02"), Some(6000));
    assert_eq!(
        e.count("SELECT count(*) FROM steps WHERE src_row = 2"),
        0,
        "the refused row's value is stored"
    );
}
