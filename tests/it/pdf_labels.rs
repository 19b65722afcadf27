//! Print-exact PDF documents. Labels: measured from the PDF itself (`pdftotext -bbox`),
//! the first label's text lies inside its rectangle on the label sheet, for every
//! built-in layout, and starts where the layout's padding says. The erasure
//! certificate: a PDF beside the `.xlsx`, saying what the `.xlsx` says.

use crate::cards::{have_tool, page_count};
use crate::harness::*;
use std::process::Command;

/// A word on page 1 and its box in millimetres from the paper's top-left corner.
#[derive(Debug)]
struct Word {
    text: String,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

fn attr(tag: &str, name: &str) -> f64 {
    let at = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let v = &tag[at..];
    v[..v.find('"').unwrap()].parse().unwrap()
}

/// The words of page 1, from `pdftotext -bbox` (points, origin top-left).
fn words_page1(pdf: &std::path::Path) -> Vec<Word> {
    let out = Command::new("pdftotext")
        .args(["-bbox", "-f", "1", "-l", "1"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    let html = String::from_utf8(out.stdout).unwrap();
    let mm = |pt: f64| pt * 25.4 / 72.0;
    html.split("<word ")
        .skip(1)
        .map(|w| {
            let (tag, rest) = w.split_once('>').unwrap();
            Word {
                text: rest[..rest.find("</word>").unwrap()].to_string(),
                x0: mm(attr(tag, "xMin")),
                y0: mm(attr(tag, "yMin")),
                x1: mm(attr(tag, "xMax")),
                y1: mm(attr(tag, "yMax")),
            }
        })
        .collect()
}

/// (name, left, top, width, height) of the built-in sheets, as the README lists them.
const LAYOUTS: [(&str, f64, f64, f64, f64); 3] = [
    ("a4-12", 18.6, 21.2, 86.4, 42.3),
    ("a4-21", 0.0, 0.45, 70.0, 42.3),
    ("a4-24", 6.0, 12.9, 66.0, 33.9),
];

#[test]
fn the_first_label_lies_inside_its_rectangle_on_every_layout() {
    let e = Env::with_roster();
    let mut first = true;
    for (name, left, top, w, h) in LAYOUTS {
        let out = format!("g_{name}.pdf");
        let mut args = vec!["labels", "--guidance", "--layout", name, "--out", &out];
        if !first {
            args.push("--resend");
        }
        first = false;
        e.run(&args).ok().stderr_has("を書き出しました");
        let pdf = std::fs::read(e.path(&out)).unwrap();
        assert!(page_count(&pdf) >= 2, "{name}");
        if !have_tool("pdftotext") {
            return;
        }
        let words = words_page1(&e.path(&out));
        // The first label's words: those starting inside its rectangle's area (the
        // next label starts at its right and bottom edges).
        let label: Vec<&Word> = words
            .iter()
            .filter(|x| x.x0 < left + w && x.y0 < top + h)
            .collect();
        assert!(label[0].text.starts_with('〒'), "{name}: {label:?}");
        assert!(label.iter().any(|x| x.text == "様"), "{name}: {label:?}");
        assert!(
            label
                .iter()
                .any(|x| x.text.starts_with('C') && x.text.len() == 7),
            "{name}: the participant number: {label:?}"
        );
        for x in &label {
            assert!(
                x.x0 >= left - 0.5
                    && x.x1 <= left + w + 0.5
                    && x.y0 >= top - 0.5
                    && x.y1 <= top + h + 0.5,
                "{name}: {x:?} outside the label at {left},{top} {w}×{h}"
            );
        }
        // The text starts where the layout's padding puts it: 3 mm in (5 mm from the
        // paper's edge at least), plus the 0.8 mm a cell keeps, as on the .xlsx.
        let pad = 3.0f64.max(5.0 - left);
        let x_start = left + pad + 0.8;
        assert!(
            (label[0].x0 - x_start).abs() < 0.5,
            "{name}: 〒 at x {} not {x_start}",
            label[0].x0
        );
        let y_pad = 3.0f64.max(5.0 - top);
        assert!(
            label[0].y0 >= top + y_pad - 0.1 && label[0].y0 <= top + y_pad + 1.5,
            "{name}: 〒 at y {} (label top {top})",
            label[0].y0
        );
    }
}

#[test]
fn the_calibration_pdf_outlines_each_label_where_the_layout_puts_it() {
    let e = Env::with_roster();
    e.run(&[
        "labels",
        "--calibrate",
        "--layout",
        "a4-24",
        "--out",
        "cal.pdf",
    ])
    .ok();
    assert_eq!(e.count("SELECT count(*) FROM mailings"), 0);
    let pdf = std::fs::read(e.path("cal.pdf")).unwrap();
    assert_eq!(page_count(&pdf), 1);
    if !have_tool("pdftotext") {
        return;
    }
    let words = words_page1(&e.path("cal.pdf"));
    // 24 labels, each naming its position; the last one's words lie in its rectangle.
    assert_eq!(words.iter().filter(|w| w.text == "a4-24").count(), 24);
    let (left, top) = (6.0 + 2.0 * 66.0, 12.9 + 7.0 * 33.9);
    let last: Vec<&Word> = words.iter().filter(|w| w.x0 > left && w.y0 > top).collect();
    assert!(last.iter().any(|w| w.text == "3列"), "{last:?}");
    for w in last {
        assert!(
            w.x1 <= left + 66.0 + 0.5 && w.y1 <= top + 33.9 + 0.5,
            "{w:?}"
        );
    }
}

#[test]
fn labels_refuse_an_unknown_extension_and_a_character_the_font_lacks() {
    let e = Env::with_roster();
    e.run(&["labels", "--guidance", "--out", "g.docx"])
        .usage()
        .stderr_has(".pdf（ラベル用紙に正確な位置で）");
    e.conn()
        .execute(
            "UPDATE participants SET name = '𠮷田 一郎' WHERE id = 'C000004'",
            [],
        )
        .unwrap();
    e.run(&["labels", "--guidance", "--out", "g.pdf"])
        .refused()
        .stderr_has("C000004: 「𠮷」(U+20BB7) は PDF のフォント");
    assert!(!e.path("g.pdf").exists());
    assert_eq!(e.count("SELECT count(*) FROM mailings"), 0);
    // The spreadsheet label is still possible (the printer's font may have it).
    e.run(&["labels", "--guidance", "--out", "g.xlsx"]).ok();
}

#[test]
fn the_close_out_writes_the_certificate_as_pdf_too_saying_what_the_xlsx_says() {
    let e = Env::with_roster();
    e.run(&["cards", "--out", "cards.pdf", "--months", "2025-05"])
        .ok();
    close_out(&e, &["--erase-exports"])
        .ok()
        .stderr_has("消去証明書（PDF、そのまま印刷できます）: ")
        .stderr_has(&format!("消去証明書_{CONTRACT}.pdf"));
    let pdf_path = e.path(&format!("ret/消去証明書_{CONTRACT}.pdf"));
    let xlsx_path = e.path(&format!("ret/消去証明書_{CONTRACT}.xlsx"));
    let pdf = std::fs::read(&pdf_path).expect("the PDF certificate beside the xlsx");
    assert_eq!(page_count(&pdf), 1, "one A4 page to stamp");
    assert!(String::from_utf8_lossy(&pdf).contains("/FontFile2"));
    // The cards PDF (it holds names) was an export the close-out erased.
    assert!(!e.path("cards.pdf").exists());
    // `--verify` still reads the record's SHA-256 from the .xlsx.
    e.run(&[
        "close-out",
        "--verify",
        &format!("ret/消去記録_{CONTRACT}.json"),
        "--package",
        &format!("ret/返還データ_{CONTRACT}.zip"),
    ])
    .ok();
    if !have_tool("pdftotext") {
        return;
    }
    let out = Command::new("pdftotext")
        .args(["-raw"])
        .arg(&pdf_path)
        .arg("-")
        .output()
        .unwrap();
    let text: String = String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // Every text of the .xlsx certificate is on the PDF, with the seal boxes.
    let cells = read_xlsx(&xlsx_path, "消去証明書");
    let mut checked = 0;
    for cell in cells.iter().flatten().flat_map(|c| c.lines()) {
        let cell: String = cell.chars().filter(|c| !c.is_whitespace()).collect();
        if cell.is_empty() {
            continue;
        }
        assert!(text.contains(&cell), "the PDF lacks「{cell}」");
        checked += 1;
    }
    assert!(checked > 40, "{checked}");
    // The two seal boxes (印) as on the .xlsx, and no more.
    let xlsx_seals: usize = cells
        .iter()
        .flatten()
        .map(|c| c.matches('印').count())
        .sum();
    assert_eq!(text.matches('印').count(), xlsx_seals);
    assert!(cells.iter().flatten().filter(|c| *c == "印").count() == 2);
}

#[test]
fn start_at_skips_used_labels_on_the_pdf_too() {
    let e = Env::with_roster();
    e.run(&["labels", "--guidance", "--start-at", "3", "--out", "g.pdf"])
        .ok()
        .stderr_has("1 枚目は 3 面目から");
    if !have_tool("pdftotext") {
        return;
    }
    // a4-12: label 3 is the first of the second row.
    let words = words_page1(&e.path("g.pdf"));
    let first = &words[0];
    assert!(first.text.starts_with('〒'), "{first:?}");
    assert!((first.x0 - (18.6 + 3.0 + 0.8)).abs() < 0.5, "{first:?}");
    let row2 = 21.2 + 42.3 + 3.0;
    assert!(
        first.y0 >= row2 - 0.1 && first.y0 <= row2 + 1.5,
        "{first:?}"
    );
}
