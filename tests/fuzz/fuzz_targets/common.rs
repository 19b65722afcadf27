//! Shared by the fuzz targets: write the input to a file (the readers take paths) and
//! read every row of every sheet; any error must name the file.

use std::path::PathBuf;
use stepcard::sheet::{Book, ReadOptions, Row};

/// A file in a per-process scratch folder, overwritten for each input.
pub fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepcard-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write scratch file");
    path
}

/// Read everything; panics (a finding) if an error does not name the file or rows
/// come out of order.
pub fn read_all(path: &std::path::Path, opts: &ReadOptions) {
    let file = path.display().to_string();
    let check = |e: anyhow::Error| {
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with(&format!("{file}: ")),
            "error not located: {msg}"
        );
    };
    let mut book = match Book::open(path, opts) {
        Ok(b) => b,
        Err(e) => return check(e),
    };
    let mut row = Row::new();
    for sheet in book.sheet_names() {
        let mut src = match book.rows(&sheet) {
            Ok(s) => s,
            Err(e) => return check(e),
        };
        let mut last = 0u32;
        loop {
            match src.next_row(&mut row) {
                Ok(true) => {
                    assert!(row.number() > last, "row {} after {last}", row.number());
                    last = row.number();
                    for c in 0..row.len() {
                        std::hint::black_box(row.raw_text(c));
                    }
                    std::hint::black_box(row.is_blank());
                }
                Ok(false) => break,
                Err(e) => return check(e),
            }
        }
    }
}
