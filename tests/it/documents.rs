//! Every document the demo writes, read back: no internal key (an ASCII snake_case
//! name, a dotted problem code, an English table name) where a person reads. Codes may
//! stand in a column of their own beside the Japanese (a column headed コード or 表).

use crate::harness::*;
use std::path::{Path, PathBuf};

/// Columns that hold codes, names of files or hashes on purpose.
const CODE_COLUMNS: &[&str] = &[
    "コード",
    "表",
    "ファイル",
    "読んだファイル",
    "書き出したファイル",
    "ハッシュ（先頭16桁）",
    "SHA-256",
    "フォルダ",
    "場所",
    "ファイル名",
    "形式",
    "シート",
    "セル",
];

fn xlsx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // Copies of the sample sheets are the operator's input, not documents.
            if p.file_name().is_some_and(|n| n != "input") {
                xlsx_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "xlsx") {
            out.push(p);
        }
    }
}

/// The internal keys a cell shows, if any: `snake_case`, `dotted.code`.
fn internal_keys(cell: &str) -> Vec<String> {
    let mut found = Vec::new();
    // An e-mail address is the participant's own.
    if cell.contains('@') {
        return found;
    }
    for word in cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
        let w = word.trim_matches('.');
        if w.is_empty() || !w.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        // File names keep their underscores (steps_long.csv).
        let file = [
            ".csv", ".xlsx", ".xls", ".ods", ".toml", ".json", ".zip", ".pdf", ".db",
        ]
        .iter()
        .any(|ext| w.ends_with(ext));
        if file {
            continue;
        }
        let snake = w.contains('_')
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let dotted = w.contains('.')
            && w.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if snake || dotted {
            found.push(w.to_string());
        }
    }
    found
}

#[test]
fn no_document_shows_an_internal_key_where_a_person_reads() {
    let e = Env::new();
    e.run(&["demo", "--out", "d"]).ok();
    let mut files = Vec::new();
    xlsx_files(&e.path("d"), &mut files);
    assert!(files.len() >= 8, "{files:?}");
    // The operator's own file and sheet names (steps_bad, steps_verify_a!C76).
    let stems: Vec<String> = std::fs::read_dir(e.path("d/input"))
        .unwrap()
        .map(|f| {
            let p = f.unwrap().path();
            p.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    let mut bad = Vec::new();
    for f in &files {
        use calamine::Reader;
        let wb = calamine::open_workbook_auto(f).unwrap();
        for sheet in wb.sheet_names().to_vec() {
            // Copies of an input sheet inside a report show the operator's own keying.
            if sheet.starts_with("入力") || sheet.contains("のコピー") {
                continue;
            }
            let rows = read_xlsx(f, &sheet);
            let exempt: Vec<usize> = rows
                .iter()
                .take(6)
                .flat_map(|r| {
                    r.iter()
                        .enumerate()
                        .filter(|(_, c)| CODE_COLUMNS.contains(&c.as_str()))
                        .map(|(i, _)| i)
                })
                .collect();
            for (r, row) in rows.iter().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    if exempt.contains(&c) {
                        continue;
                    }
                    for k in internal_keys(cell)
                        .into_iter()
                        .filter(|k| !stems.contains(k))
                    {
                        bad.push(format!(
                            "{}!{sheet} R{}C{}: {k} in 「{cell}」",
                            f.file_name().unwrap().to_string_lossy(),
                            r + 1,
                            c + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "internal keys in documents:\n{}",
        bad.join("\n")
    );
}

/// An English word standing alone where a person reads (a command or count key the
/// tables forgot: `template`, `keyers 2`); glosses in brackets and names of tools and
/// formats are fine.
fn bare_english(cell: &str) -> Vec<String> {
    const KNOWN: &[&str] = &[
        "stepcard", "xlsx", "csv", "zip", "pdf", "json", "toml", "wal", "shm", "journal",
        "manifest", "sha", "utf", "aes", "os", "root", "qr",
    ];
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut word = String::new();
    let flush = |w: &mut String, depth: i32, out: &mut Vec<String>| {
        if depth == 0
            && w.len() >= 3
            && w.chars().all(|c| c.is_ascii_lowercase())
            && !KNOWN.contains(&w.as_str())
        {
            out.push(w.clone());
        }
        w.clear();
    };
    for c in cell.chars() {
        match c {
            '(' | '（' | '[' => {
                flush(&mut word, depth, &mut out);
                depth += 1;
            }
            ')' | '）' | ']' => {
                flush(&mut word, depth, &mut out);
                depth -= 1;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '@' || c == '/' => {
                word.push(c)
            }
            _ => flush(&mut word, depth, &mut out),
        }
    }
    flush(&mut word, depth, &mut out);
    out
}

#[test]
fn the_handling_report_has_no_bare_english_in_its_operations() {
    let e = Env::new();
    e.run(&["demo", "--out", "d"]).ok();
    let rows = read_xlsx(&e.path("d/取扱状況報告.xlsx"), "操作記録");
    let head = &rows[0];
    let cols: Vec<usize> = ["操作", "結果", "件数"]
        .iter()
        .map(|h| head.iter().position(|c| c == h).expect(h))
        .collect();
    let mut bad = Vec::new();
    for (r, row) in rows.iter().enumerate().skip(1) {
        for &c in &cols {
            for w in bare_english(&row[c]) {
                bad.push(format!("R{}C{}: {w} in 「{}」", r + 1, c + 1, row[c]));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_key_finder_finds_keys_and_spares_file_names() {
    assert_eq!(bare_english("keyers 2、不一致 1"), ["keyers"]);
    assert!(bare_english("入力品質（quality）").is_empty());
    assert_eq!(
        internal_keys("却下（points.insufficient）"),
        ["points.insufficient"]
    );
    assert_eq!(internal_keys("verify_agreeing 3"), ["verify_agreeing"]);
    assert!(internal_keys("steps_long.csv を読みました").is_empty());
    assert!(internal_keys("QUOカード 1,000円分").is_empty());
}

#[test]
fn data_exports_print_titled_and_open_with_filters() {
    let e = Env::with_roster();
    let steps = e.sample("steps_long.csv");
    e.run(&["steps", "import", &steps]).ok();
    e.run(&["points", "--out", "points.xlsx"]).ok();
    let f = std::fs::File::open(e.path("points.xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(f).unwrap();
    let mut sheet = String::new();
    use std::io::Read;
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(sheet.contains("<autoFilter ref=\"A1:G61\"/>"), "{sheet}");
    // The title (document, program, as-of) in the page header; page x / y and the print
    // time in the footer; whole numbers with thousands separators.
    assert!(
        sheet.contains("ポイント一覧　しんじゅく健康ポイント（台紙）"),
        "no title"
    );
    assert!(sheet.contains("&amp;P / &amp;N"), "no page numbers");
    let mut styles = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains("#,##0"), "no thousands separators");
}
