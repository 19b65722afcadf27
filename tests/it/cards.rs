//! Pre-printed point cards (`stepcard cards`): one A4 page per participant and period,
//! the QR code decoding back to the participant number, the font embedded as a subset,
//! the cards recorded per participant, and the refusals.

use crate::harness::*;
use std::path::Path;
use std::process::Command;

/// Whether a poppler tool is on PATH; when not, the test says why it is skipped.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-v")
        .output()
        .map(|o| o.status.success() || !o.stderr.is_empty())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "SKIPPED: {tool} (poppler-utils) is not installed; apt-get install poppler-utils"
        );
    }
    ok
}

/// The number of pages a PDF's page tree declares.
pub fn page_count(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let at = text.find("/Type /Pages").expect("a page tree");
    let rest = &text[at..];
    let n = &rest[rest.find("/Count ").unwrap() + 7..];
    n[..n.find(|c: char| !c.is_ascii_digit()).unwrap()]
        .parse()
        .unwrap()
}

/// Page `page` of a PDF rendered in grey at `dpi` (pdftoppm → PGM, read by hand):
/// width, height, pixels.
fn render_gray(pdf: &Path, page: usize, dpi: u32) -> (usize, usize, Vec<u8>) {
    let dir = pdf.parent().unwrap();
    let prefix = dir.join("render");
    let p = page.to_string();
    let st = Command::new("pdftoppm")
        .args([
            "-gray",
            "-r",
            &dpi.to_string(),
            "-f",
            &p,
            "-l",
            &p,
            "-singlefile",
        ])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(dir.join("render.pgm")).unwrap();
    // P5 <w> <h> <max> then one byte per pixel.
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(
            std::str::from_utf8(&bytes[start..i])
                .unwrap()
                .parse::<usize>()
                .unwrap(),
        );
    }
    assert_eq!(&bytes[..2], b"P5");
    let (w, h) = (fields[0], fields[1]);
    let data = bytes[i + 1..].to_vec();
    assert_eq!(data.len(), w * h);
    (w, h, data)
}

fn card_participants(e: &Env) -> Vec<String> {
    let c = e.conn();
    let mut st = c
        .prepare("SELECT id FROM participants WHERE channel = '台紙' ORDER BY id")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn one_card_per_participant_and_period_recorded_per_participant() {
    let e = Env::with_roster();
    let ids = card_participants(&e);
    assert!(ids.len() > 10, "{}", ids.len());
    // Three months fit one card.
    e.run(&["cards", "--out", "may.pdf", "--months", "2025-05..2025-07"])
        .ok()
        .stderr_has(&format!("記録台紙 {} 名分、A4 {} 枚", ids.len(), ids.len()))
        .stderr_has("参加案内の封筒に同封");
    let pdf = std::fs::read(e.path("may.pdf")).unwrap();
    assert_eq!(page_count(&pdf), ids.len());
    // The program period (2025-05 … 2026-03, 11 months) takes four cards each, and the
    // message says so.
    e.run(&["cards", "--out", "all.pdf"]).ok().stderr_has(
        "1 人 4 枚: 2025年5月〜7月／2025年8月〜10月／2025年11月〜2026年1月／2026年2月〜3月",
    );
    let pdf = std::fs::read(e.path("all.pdf")).unwrap();
    assert_eq!(page_count(&pdf), ids.len() * 4);
    // Recorded: two runs, each card participant in each, with the cards printed.
    assert_eq!(e.count("SELECT count(*) FROM card_mailings"), 2);
    assert_eq!(
        e.count("SELECT count(*) FROM cards_sent WHERE mailing_id = 2 AND cards = 4"),
        ids.len() as i64
    );
    assert_eq!(
        e.count("SELECT cards FROM card_mailings WHERE id = 2"),
        ids.len() as i64 * 4
    );
    // The file holds names: the audit entry lists it as a copy with its hash.
    let sha = {
        use sha2::Digest;
        let h = sha2::Sha256::digest(&pdf);
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert_eq!(
        e.count(&format!(
            "SELECT count(*) FROM audit_log WHERE command = 'cards' AND detail LIKE '%{sha}%'"
        )),
        1
    );
}

#[test]
fn the_font_is_embedded_as_a_subset() {
    let e = Env::with_roster();
    e.run(&["cards", "--out", "c.pdf", "--months", "2025-06"])
        .ok();
    let pdf = std::fs::read(e.path("c.pdf")).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/FontFile2"), "no embedded TrueType font");
    let at = text.find("/BaseFont /").unwrap() + 11;
    let tag = &text[at..at + 7];
    assert!(
        tag.ends_with('+') && tag[..6].bytes().all(|b| b.is_ascii_uppercase()),
        "no subset tag: {tag}"
    );
    // 38 cards with a 2 MB font stay small: only the glyphs used are embedded.
    assert!(pdf.len() < 400_000, "{} bytes", pdf.len());
}

#[test]
fn the_qr_code_decodes_to_the_participant_number() {
    let e = Env::with_roster();
    let ids = card_participants(&e);
    e.run(&["cards", "--out", "c.pdf", "--months", "2025-05..2025-07"])
        .ok();
    if !have_tool("pdftoppm") {
        return;
    }
    for (page, want) in [(1, &ids[0]), (3, &ids[2])] {
        let (w, h, px) = render_gray(&e.path("c.pdf"), page, 150);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| px[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code on page {page}");
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(&content, want, "page {page}");
    }
}

#[test]
fn wrong_requests_are_refused_and_write_nothing() {
    let e = Env::with_roster();
    e.run(&["cards", "--out", "c.xlsx"])
        .usage()
        .stderr_has(".pdf にしてください");
    e.run(&["cards", "--out", "c.pdf", "--months", "2025-01..2025-06"])
        .usage()
        .stderr_has("事業期間 2025-05-14〜2026-03-31 の外の月を含みます");
    e.run(&["cards", "--out", "c.pdf", "--months", "5月"])
        .usage()
        .stderr_has("2025-05..2025-07 のように");
    // A list naming someone not on the roster, or an app participant.
    let app: String = e
        .conn()
        .query_row(
            "SELECT id FROM participants WHERE channel = 'アプリ' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    e.write(
        "list.csv",
        &format!("参加者番号\nC000001\nC999999\n{app}\n"),
    );
    e.run(&["cards", "--out", "c.pdf", "--participants", "list.csv"])
        .refused()
        .stderr_has("list.csv:3: 参加者番号「C999999」は名簿にありません")
        .stderr_has(&format!(
            "list.csv:4: 参加者番号「{app}」はアプリの参加者です"
        ));
    assert!(!e.path("c.pdf").exists());
    assert_eq!(e.count("SELECT count(*) FROM card_mailings"), 0);
    // A list of card participants prints just those, each once (a number written again,
    // here in full-width digits, is the same participant).
    e.write("list.csv", "C000004\nC000001\nＣ０００００４\n");
    e.run(&[
        "cards",
        "--out",
        "c.pdf",
        "--participants",
        "list.csv",
        "--months",
        "2025-05",
    ])
    .ok();
    assert_eq!(page_count(&std::fs::read(e.path("c.pdf")).unwrap()), 2);
    assert_eq!(e.count("SELECT count(*) FROM cards_sent"), 2);
    let c = e.conn();
    let sent: Vec<String> = c
        .prepare("SELECT participant_id FROM cards_sent ORDER BY participant_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(sent, vec!["C000001", "C000004"]);
    assert_eq!(
        e.count("SELECT count(*) FROM sqlite_master WHERE name = 'stepcard_cards'"),
        0,
        "the working table is dropped before the commit"
    );
}
