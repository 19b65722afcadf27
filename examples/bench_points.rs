//! Benchmark (not a test): points for 10,000 participants × 365 days.
//!
//!     CARGO_TARGET_DIR=/work/target-points-release cargo run --release --example bench_points [-- PARTICIPANTS]
//!
//! Builds a temporary database through the library (the sample program's rules over a
//! full year, synthetic steps for every day), then times only the points computation:
//! the one streaming pass `stepcard points` makes over the steps table.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let days = 365u32;
    // The sample program over a whole fiscal year (2025-04-01 ..= 2026-03-31).
    let program_text =
        include_str!("program.toml").replace("start = 2025-05-14", "start = 2025-04-01");
    let program = stepcard::program::Program::parse(&program_text, "bench")?;
    let start = program.program.start;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    let mut conn = stepcard::db::create(&path, &stepcard::keys::DbKey::random()?)?;
    stepcard::db::meta_set(&conn, "program_toml", &program_text)?;

    let t = Instant::now();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    {
        let tx = conn.transaction()?;
        let mut person = tx.prepare(
            "INSERT INTO participants(id, name, postal_code, address, birth_date, channel, batch_id) \
             VALUES (?1, '試験', '160-0022', '東京都新宿区', ?2, '台紙', 1)",
        )?;
        let mut step = tx.prepare(
            "INSERT INTO steps(participant_id, date, steps, batch_id, src_row) VALUES (?1, ?2, ?3, 2, 0)",
        )?;
        let dates: Vec<String> = (0..days)
            .map(|d| (start + chrono::Days::new(u64::from(d))).to_string())
            .collect();
        for i in 0..n {
            let id = format!("C{:06}", i + 1);
            let birth = format!("{}-06-15", 1940 + rand() % 66);
            person.execute(rusqlite::params![id, birth])?;
            let base = 3000 + (rand() % 8000) as i64;
            for date in &dates {
                let steps = (base + (rand() % 6000) as i64 - 3000).max(0);
                step.execute(rusqlite::params![id, date, steps])?;
            }
        }
        drop(person);
        drop(step);
        tx.commit()?;
    }
    let rows = u64::from(n) * u64::from(days);
    eprintln!(
        "built {n} participants × {days} days = {rows} step rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let scorer = stepcard::points::Scorer::new(&program, None);
    let mut best = f64::MAX;
    for run in 1..=3 {
        let t = Instant::now();
        let (mut people, mut earned) = (0u64, 0i64);
        stepcard::db::points::for_each_participant(&conn, &scorer, None, |s| {
            people += 1;
            earned += s.score.earned();
            Ok(())
        })?;
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "run {run}: {people} participants, {earned} points, {secs:.3} s, {:.0} rows/s",
            rows as f64 / secs
        );
    }
    println!(
        "best: {best:.3} s for {rows} rows ({:.0} rows/s)",
        rows as f64 / best
    );
    Ok(())
}
