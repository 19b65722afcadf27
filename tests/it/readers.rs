//! The sheet readers through the binary: a broken or hostile file is refused with exit 1
//! and a message naming the file, sheet and cell; nothing is misread, nothing imported.
//! Every crafted file is made here, small.

use crate::harness::*;
use std::io::Write;

const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#;
const SST_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main""#;

/// An xlsx with the given sheets (name, sheet XML) and optional shared strings.
fn xlsx(path: &std::path::Path, sheets: &[(&str, String)], shared: Option<&str>) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    let mut put = |name: &str, body: &str| {
        z.start_file(name, o).unwrap();
        z.write_all(body.as_bytes()).unwrap();
    };
    put(
        "[Content_Types].xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#,
    );
    put(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    let mut list = String::new();
    let mut rels = String::new();
    for (i, (name, _)) in sheets.iter().enumerate() {
        let n = i + 1;
        list.push_str(&format!(
            r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#
        ));
        rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
    }
    put(
        "xl/workbook.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{list}</sheets></workbook>"#
        ),
    );
    put(
        "xl/_rels/workbook.xml.rels",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        ),
    );
    for (i, (_, xml)) in sheets.iter().enumerate() {
        put(&format!("xl/worksheets/sheet{}.xml", i + 1), xml);
    }
    if let Some(sst) = shared {
        put("xl/sharedStrings.xml", sst);
    }
    z.finish().unwrap();
}

/// Strings 0..=2 are the header; 3 is a participant number of the sample roster.
fn shared() -> String {
    format!(
        r#"{SST_HEAD} count="5" uniqueCount="4"><si><t>参加者番号</t></si><si><t>日付</t></si><si><t>歩数</t></si><si><t>C000001</t></si></sst>"#
    )
}

/// A long-layout steps sheet: the header, then `rows` as sheet XML.
fn steps_sheet(rows: &str) -> String {
    format!(
        r#"{SHEET_HEAD}<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>{rows}</sheetData></worksheet>"#
    )
}

fn row2(participant: &str, steps: &str) -> String {
    format!(
        r#"<row r="2"><c r="A2" t="s"><v>{participant}</v></c><c r="B2" t="inlineStr"><is><t>2025-06-01</t></is></c><c r="C2">{steps}</c></row>"#
    )
}

#[test]
fn xlsx_bad_shared_string_index_is_refused_at_its_cell() {
    let e = Env::with_roster();
    let sst = shared();
    // The valid sheet imports.
    let good = e.path("good.xlsx");
    xlsx(
        &good,
        &[("Sheet1", steps_sheet(&row2("3", "<v>7777</v>")))],
        Some(&sst),
    );
    e.run(&["steps", "import", s(&good), "--dry-run"]).ok();
    for bad in ["abc", "-1", "1.9", "99999999999999999999", "4"] {
        let p = e.path("bad.xlsx");
        xlsx(
            &p,
            &[("Sheet1", steps_sheet(&row2(bad, "<v>7777</v>")))],
            Some(&sst),
        );
        e.run(&["steps", "import", s(&p)])
            .refused()
            .stderr_has("bad.xlsx: シート「Sheet1」のセル A2（Sheet1!A2）");
    }
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn xlsx_repeated_rows_cells_and_sheet_names_are_refused() {
    let e = Env::with_roster();
    let sst = shared();
    let twice = format!("{}{}", row2("3", "<v>100</v>"), row2("3", "<v>7777</v>"));
    let p = e.path("rows.xlsx");
    xlsx(&p, &[("Sheet1", steps_sheet(&twice))], Some(&sst));
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("シート「Sheet1」の 2行目が二度書かれています");

    let cell = r#"<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="inlineStr"><is><t>2025-06-01</t></is></c><c r="C2"><v>100</v></c><c r="C2"><v>7777</v></c></row>"#;
    let p = e.path("cells.xlsx");
    xlsx(&p, &[("Sheet1", steps_sheet(cell))], Some(&sst));
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("セル C2（Sheet1!C2）が二度書かれています");

    let p = e.path("names.xlsx");
    let sheet = steps_sheet(&row2("3", "<v>100</v>"));
    xlsx(&p, &[("S1", sheet.clone()), ("S1", sheet)], Some(&sst));
    e.run(&["steps", "import", s(&p), "--all-sheets"])
        .refused()
        .stderr_has("シート名「S1」と「S1」が重なっています");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn workbook_bombs_end_in_a_clear_refusal() {
    let e = Env::with_roster();
    // Whitespace between rows (2 MiB here; 2 GiB in the wild, where it aborted).
    let ws = " ".repeat(2 * 1024 * 1024);
    let p = e.path("ws.xlsx");
    let sheet = steps_sheet(&format!("{}{ws}", row2("3", "<v>100</v>")));
    xlsx(&p, &[("Sheet1", sheet)], Some(&shared()));
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("ws.xlsx: シート「Sheet1」の 2行目付近に、表のデータではない巨大な部分");

    // An .ods whose repeats calamine would expand to 48 million cells.
    let row = r#"<table:table-row table:number-rows-repeated="3000"><table:table-cell table:number-columns-repeated="16000" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>"#;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="歩数">{row}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let p = e.path("repeat.ods");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    z.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(content.as_bytes()).unwrap();
    z.finish().unwrap();
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("repeat.ods: シート「歩数」のセル SS1（歩数!SS1）にデータがあり");
}

#[test]
fn csv_unclosed_quote_over_a_mebibyte_is_refused() {
    let e = Env::with_roster();
    let mut text = String::from("参加者番号,日付,歩数\nC000001,2025-06-01,\"8000\n");
    while text.len() < 1_300_000 {
        text.push_str("C000001,2025-06-02,8000\n");
    }
    let p = e.write("quote.csv", &text);
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("quote.csv: 2行目から始まる行が長すぎます");
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
}

#[test]
fn cp932_bad_byte_is_reported_at_excels_row() {
    let e = Env::with_roster();
    // A one-column title block saved by Excel: its empty rows are empty lines.
    let (head, _, _) = encoding_rs::SHIFT_JIS.encode("歩数の記録\r\n\r\n");
    let mut bytes = head.into_owned();
    bytes.extend_from_slice(b"\x81\x20\r\n");
    let p = e.write_bytes("bad.csv", &bytes);
    e.run(&["steps", "import", s(&p)])
        .refused()
        .stderr_has("bad.csv: 3行目に CP932");
}

#[test]
fn numbers_with_misplaced_separators_are_refused() {
    let e = Env::with_roster();
    let p = e.write(
        "steps.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-01,\"8,000\"\nC000001,2025-06-02,\"1,2,3\"\nC000001,2025-06-03,8.000\nC000001,2025-06-04,\"１２，３４５\"\n",
    );
    let report = e.path("errors.csv");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused();
    assert_eq!(
        codes_at(&report),
        [
            ("C3".to_string(), "steps.not_a_number".to_string()),
            ("C4".to_string(), "steps.not_a_number".to_string())
        ]
    );
    assert_eq!(e.count("SELECT count(*) FROM steps"), 0);
    // Only the good rows, now: both thousands forms read.
    let p = e.write(
        "good.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-01,\"8,000\"\nC000001,2025-06-04,\"１２，３４５\"\n",
    );
    e.run(&["steps", "import", s(&p)]).ok();
    assert_eq!(e.steps("C000001", "2025-06-01"), Some(8000));
    assert_eq!(e.steps("C000001", "2025-06-04"), Some(12345));
}

#[test]
fn dates_with_weekdays_and_era_abbreviations_and_nonexistent_era_dates() {
    let e = Env::with_roster();
    let p = e.write(
        "steps.csv",
        "参加者番号,日付,歩数\nC000001,2025/5/27（火）,1000\nC000001,2025年6月2日(月),2000\nC000001,令7.5.25,3000\nC000001,R.7.6.4,4000\nC000001,2025/6/5 木曜日,5000\n",
    );
    e.run(&["steps", "import", s(&p)]).ok();
    for (day, want) in [
        ("2025-05-27", 1000),
        ("2025-06-02", 2000),
        ("2025-05-25", 3000),
        ("2025-06-04", 4000),
        ("2025-06-05", 5000),
    ] {
        assert_eq!(e.steps("C000001", day), Some(want), "{day}");
    }
    let p = e.write(
        "era.csv",
        "参加者番号,日付,歩数\nC000001,平成31年5月1日,1000\nC000001,令和元年4月30日,1000\nC000001,S64.1.8,1000\nC000001,平成元年1月7日,1000\n",
    );
    let report = e.path("errors.csv");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused();
    let codes = codes_at(&report);
    for cell in ["B2", "B3", "B4", "B5"] {
        assert!(
            codes.contains(&(cell.to_string(), "date.nonexistent".to_string())),
            "{cell}: {codes:?}"
        );
    }
    // The message tells the operator what the day is called.
    let text = std::fs::read_to_string(&report).unwrap();
    for right in [
        "令和元年5月1日",
        "平成31年4月30日",
        "平成元年1月8日",
        "昭和64年1月7日",
    ] {
        assert!(text.contains(right), "{right} not in {text}");
    }
}

/// The reason a number is refused reaches the operator's message.
#[test]
fn a_refused_number_says_why() {
    let e = Env::with_roster();
    let p = e.write(
        "steps.csv",
        "参加者番号,日付,歩数\nC000001,2025-06-02,\"1,2,3\"\nC000001,2025-06-03,8.000\n",
    );
    let report = e.path("errors.csv");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused();
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("steps.not_a_number"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in lines {
        assert!(l.contains("歩数が数字として読めません: "), "{l}");
    }
}

/// Excel's serial 60 is the 1900-02-29 that never was.
#[test]
fn excel_serial_60_is_a_nonexistent_day() {
    use rust_xlsxwriter::Workbook;
    let e = Env::with_roster();
    let p = e.path("serial.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["参加者番号", "日付", "歩数"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "C000001").unwrap();
    ws.write_number(1, 1, 60.0).unwrap();
    ws.write_number(1, 2, 1000.0).unwrap();
    wb.save(&p).unwrap();
    let report = e.path("errors.csv");
    e.run(&["steps", "import", s(&p), "--errors", s(&report)])
        .refused();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("date.nonexistent"), "{text}");
    assert!(text.contains("1900年2月29日"), "{text}");
}
