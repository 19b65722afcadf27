//! The workbook reader: arbitrary bytes as the sheet XML inside a well-formed .xlsx
//! package (where the interesting parsing is), or as the whole file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use stepcard::sheet::ReadOptions;

#[path = "common.rs"]
mod common;

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

fn package(sheet_xml: &[u8]) -> Vec<u8> {
    let parts: [(&str, String); 6] = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string()),
        ("_rels/.rels", format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#)),
        ("xl/workbook.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#)),
        ("xl/_rels/workbook.xml.rels", format!(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/></Relationships>"#)),
        ("xl/styles.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>"#)),
        ("xl/sharedStrings.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}" count="2" uniqueCount="2"><si><t>参加者番号</t></si><si><t>歩数</t></si></sst>"#)),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, text) in parts {
        zip.start_file(name, opts).expect("zip");
        zip.write_all(text.as_bytes()).expect("zip");
    }
    zip.start_file("xl/worksheets/sheet1.xml", opts)
        .expect("zip");
    zip.write_all(sheet_xml).expect("zip");
    zip.finish().expect("zip").into_inner()
}

fuzz_target!(|data: &[u8]| {
    let (raw, body) = match data.split_first() {
        Some((b, rest)) => (*b == 0xFF, rest),
        None => (false, data),
    };
    let bytes = if raw { body.to_vec() } else { package(body) };
    let path = common::scratch("in.xlsx", &bytes);
    common::read_all(&path, &ReadOptions::default());
});
