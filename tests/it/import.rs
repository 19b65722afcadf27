//! Import: every input form, validation codes at their cells, batch semantics.

use crate::harness::*;

#[test]
fn demo_samples_import_end_to_end() {
    let e = Env::with_roster();
    assert_eq!(e.count("SELECT count(*) FROM participants"), 60);
    e.run(&[
        "steps",
        "import",
        example("steps_card.xlsx").to_str().unwrap(),
        "--all-sheets",
    ])
    .ok();
    e.run(&[
        "steps",
        "import",
        example("steps_long.csv").to_str().unwrap(),
    ])
    .ok();
    assert_eq!(e.count("SELECT count(*) FROM steps"), 7920);
}

#[test]
fn a_stranger_is_refused() {
    let e = Env::init();
    e.run_as(
        "田中 一郎",
        &["roster", "import", example("roster.csv").to_str().unwrap()],
    )
    .refused()
    .stderr_has("取扱者として指定されていません");
    assert_eq!(e.count("SELECT count(*) FROM participants"), 0);
}
