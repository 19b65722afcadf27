//! The benchmark harness: how fast and how lean the imports are, measured against floors
//! run on the same files in the same run.
//!
//! ```text
//! cargo run --release --example bench -- [--scale 1000|10000]... [--only STAGE]...
//!                                        [--runs N] [--data DIR] [--tools DIR]
//! ```
//!
//! Data comes from `shared/tools/gen_data.py` (generated once into `--data`, by default
//! `<target>/bench-data`). Every measured program runs as a child process, so its wall
//! time, CPU time and peak memory (max RSS, from `wait4`) are its own. Each stage runs
//! `--runs` rounds, the tools interleaved within a round so that a busy machine slows
//! them alike, and reports the best round of each.
//!
//! Stages:
//! - `import`: `stepcard steps import` of the long CSV (参加者番号,日付,歩数) at each
//!   scale, against `rustfloor load-pk-worowid` (csv crate + one prepared insert into a
//!   `(participant_id, date)` primary key, no validation) and `sqlite3 .import` (no
//!   key, no validation).
//! - `xlsx`: the card-layout workbook at 1,000 participants: stepcard's sheet reader
//!   against `rustfloor xlsx-stream` (calamine's streaming cell reader), both reading
//!   every cell; then the whole `steps import` of that workbook.
//! - `points`, `ship`, `labels`, `close-out`: on one database holding the roster, the
//!   year's long CSV and one prize application per participant (built once, not timed):
//!   `points --out`, `ship --out` (on a fresh copy each round), `labels --shipment 1` (on
//!   a shipped copy), and `close-out` of a copy in a folder of its own.
//! - `orders`: `orders import` of five applications per participant, round-robin (not
//!   grouped by participant), into a copy of that database each round.
//!
//! The floors are optional: a tool that cannot be built or found is skipped with a
//! message, and the stepcard figures are still printed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use stepcard::output::thousands;

type Result<T> = std::result::Result<T, String>;

const OPERATOR: &str = "山田 太郎";
/// The handler's password (issue 15), in `<data>/password.txt`. The database is
/// encrypted; `STEPCARD_TEST_NO_ENCRYPTION=1` in the environment measures the plain
/// database for comparison (use another `--data` for it).
const PASSWORD: &str = "bench-password";
const PROGRAM: &str = include_str!("program.toml");
const MIB: f64 = 1024.0 * 1024.0;
/// The ceiling the import must stay under whatever the file size.
const RSS_LIMIT_MIB: f64 = 64.0;
/// How much slower than its floor a stage may be.
const FLOOR_RATIO: f64 = 1.5;
/// How much slower than its floor the long CSV import may be (issue 19: at most 1.10×).
const IMPORT_FLOOR_RATIO: f64 = 1.10;

/// One stage of the benchmark, by name.
struct Stage {
    name: &'static str,
    what: &'static str,
    /// `None`: the command is not in this build yet.
    run: Option<fn(&mut Bench, u32) -> Result<()>>,
    /// Scales the stage runs at (others are skipped).
    scales: &'static [u32],
}

const STAGES: &[Stage] = &[
    Stage {
        name: "import",
        what: "steps import, long CSV",
        run: Some(stage_import),
        scales: &[1000, 10000],
    },
    Stage {
        name: "xlsx",
        what: "steps import, card-layout .xlsx",
        run: Some(stage_xlsx),
        scales: &[1000],
    },
    Stage {
        name: "points",
        what: "points for every participant",
        run: Some(stage_points),
        scales: &[10000],
    },
    Stage {
        name: "ship",
        what: "a shipment of 10,000",
        run: Some(stage_ship),
        scales: &[10000],
    },
    Stage {
        name: "labels",
        what: "labels for 10,000",
        run: Some(stage_labels),
        scales: &[10000],
    },
    Stage {
        name: "close-out",
        what: "close-out of the 10,000-participant database",
        run: Some(stage_close_out),
        scales: &[10000],
    },
    Stage {
        name: "verify",
        what: "steps verify, long CSV against the card CSV of the same days",
        run: Some(stage_verify),
        scales: &[10000],
    },
    Stage {
        name: "survey",
        what: "survey import, 事前 and 事後 for every participant",
        run: Some(stage_survey),
        scales: &[10000],
    },
    Stage {
        name: "orders",
        what: "orders import, 5 applications per participant, not grouped by participant",
        run: Some(stage_orders),
        scales: &[10000],
    },
    Stage {
        name: "report",
        what: "the evaluation report",
        run: Some(stage_report),
        scales: &[10000],
    },
];

/// Peak RSS every command must stay under at every scale (goal: 64 MiB).
const RSS_CEILING_MIB: f64 = 128.0;
/// How much the time per row may grow from the smallest scale to the largest.
const SCALING_RATIO: f64 = 1.5;

fn main() {
    if let Some(code) = child_mode() {
        std::process::exit(code);
    }
    let opts = match Opts::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}\n\n{}", Opts::USAGE);
            std::process::exit(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("bench: note: this harness is built without --release; stepcard itself is built and run in release");
    }
    let mut bench = match Bench::new(opts) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    };
    let code = bench.run_all();
    std::process::exit(code);
}

struct Opts {
    scales: Vec<u32>,
    only: Vec<String>,
    runs: usize,
    data: Option<PathBuf>,
    tools: Option<PathBuf>,
}

impl Opts {
    const USAGE: &'static str = "usage: cargo run --release --example bench -- \
[--scale|--participants 1000,10000,100000]... [--only import|xlsx|points|ship|labels|close-out|verify|survey|orders|report]... [--runs N] [--data DIR] [--tools DIR]";

    fn parse() -> Result<Opts> {
        let mut o = Opts {
            scales: Vec::new(),
            only: Vec::new(),
            runs: 3,
            data: None,
            tools: std::env::var_os("STEPCARD_BENCH_TOOLS").map(PathBuf::from),
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--scale" | "--participants" => {
                    for s in value("--scale")?.split(',') {
                        let n: u32 = s
                            .parse()
                            .map_err(|_| format!("--scale {s}: not a number of participants"))?;
                        if n == 0 {
                            return Err("--scale must be at least 1".into());
                        }
                        o.scales.push(n);
                    }
                }
                "--only" => {
                    for s in value("--only")?.split(',') {
                        if !STAGES.iter().any(|st| st.name == s) {
                            let names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
                            return Err(format!(
                                "--only {s}: no such stage (stages: {})",
                                names.join(", ")
                            ));
                        }
                        o.only.push(s.to_string());
                    }
                }
                "--runs" => {
                    o.runs = value("--runs")?
                        .parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or("--runs must be a whole number >= 1")?;
                }
                "--data" => o.data = Some(PathBuf::from(value("--data")?)),
                "--tools" => o.tools = Some(PathBuf::from(value("--tools")?)),
                "-h" | "--help" => {
                    println!("{}", Opts::USAGE);
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(o)
    }
}

/// What one child process cost.
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: f64,
    cpu: f64,
    max_rss: f64,
}

/// The best of several rounds of one tool on one stage.
#[derive(Clone, Debug)]
struct Figure {
    tool: String,
    rows: u64,
    wall: f64,
    cpu: f64,
    max_rss: f64,
}

impl Figure {
    fn from_samples(tool: &str, rows: u64, samples: &[Sample]) -> Option<Figure> {
        let min = |f: fn(&Sample) -> f64| samples.iter().map(f).fold(f64::INFINITY, f64::min);
        (!samples.is_empty()).then(|| Figure {
            tool: tool.to_string(),
            rows,
            wall: min(|s| s.wall),
            cpu: min(|s| s.cpu),
            max_rss: samples.iter().map(|s| s.max_rss).fold(0.0, f64::max),
        })
    }
}

struct Bench {
    opts: Opts,
    data: PathBuf,
    tools: Option<PathBuf>,
    stepcard: PathBuf,
    floor: Option<PathBuf>,
    sqlite3: bool,
    report: String,
    failures: Vec<String>,
    /// The stage and scale running, and each stage's stepcard figure per scale.
    stage: &'static str,
    scale: u32,
    scaling: Vec<(&'static str, u32, Figure)>,
}

impl Bench {
    fn new(opts: Opts) -> Result<Bench> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = target_dir()?;
        let data = opts
            .data
            .clone()
            .unwrap_or_else(|| target.join("bench-data"));
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        write_password_file(&data)?;
        let tools = opts.tools.clone().or_else(|| find_tools(&root));
        eprintln!("bench: building stepcard (release)…");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--quiet",
                "--bin",
                "stepcard",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build --release --bin stepcard failed".into());
        }
        let stepcard = target.join("release").join("stepcard");
        let floor = tools
            .as_deref()
            .and_then(|t| match build_floor(t, &target) {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("bench: rustfloor skipped: {e}");
                    None
                }
            });
        let sqlite3 = Command::new("sqlite3")
            .arg("-version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !sqlite3 {
            eprintln!("bench: sqlite3 skipped: the sqlite3 command is not installed (apt-get install sqlite3)");
        }
        Ok(Bench {
            opts,
            data,
            tools,
            stepcard,
            floor,
            sqlite3,
            report: String::new(),
            failures: Vec::new(),
            stage: "",
            scale: 0,
            scaling: Vec::new(),
        })
    }

    fn run_all(&mut self) -> i32 {
        let _ = writeln!(
            self.report,
            "# stepcard benchmark\n\nmachine: {} cores, load average at start {}; best of {} round(s) each; \
             stepcard {} ({})\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average(),
            self.opts.runs,
            env!("CARGO_PKG_VERSION"),
            self.stepcard.display()
        );
        let mut not_built = Vec::new();
        for stage in STAGES {
            if !self.opts.only.is_empty() && !self.opts.only.iter().any(|o| o == stage.name) {
                continue;
            }
            let Some(run) = stage.run else {
                not_built.push(stage);
                continue;
            };
            let mut scales: Vec<u32> = if self.opts.scales.is_empty() {
                stage.scales.to_vec()
            } else {
                self.opts.scales.clone()
            };
            // Workbooks are generated by Python at about 10⁴ rows a second: the xlsx
            // stage runs up to 10,000 participants (a 100,000-participant workbook
            // would take the better part of an hour to write).
            if stage.name == "xlsx" {
                scales.retain(|&n| n <= 10_000);
            }
            for n in scales {
                eprintln!("bench: {} at {n} participants…", stage.name);
                self.stage = stage.name;
                self.scale = n;
                if let Err(e) = run(self, n) {
                    let msg = format!("{} at {n}: {e}", stage.name);
                    eprintln!("bench: FAILED {msg}");
                    self.failures.push(msg);
                }
            }
        }
        for stage in not_built {
            let _ = writeln!(
                self.report,
                "## {} ({})\n\nnot yet built: the command is not in this build.\n",
                stage.name, stage.what
            );
        }
        self.scaling_table();
        let _ = writeln!(self.report, "load average at end {}", load_average());
        if self.failures.is_empty() {
            let _ = writeln!(self.report, "\nall targets met");
        } else {
            let _ = writeln!(self.report, "\ntargets missed or stages failed:");
            for f in &self.failures {
                let _ = writeln!(self.report, "- {f}");
            }
        }
        println!("{}", self.report);
        i32::from(!self.failures.is_empty())
    }

    /// The generated data for `n` participants (generated on first use).
    fn dataset(&self, n: u32, xlsx: bool) -> Result<PathBuf> {
        let dir = self.data.join(format!("n{n}"));
        let marker = dir.join(if xlsx { ".done-xlsx" } else { ".done" });
        if marker.exists() {
            return Ok(dir);
        }
        let tools = self.tools.as_deref().ok_or(
            "no data and no gen_data.py: pass --tools DIR (the folder holding gen_data.py) or --data DIR",
        )?;
        eprintln!(
            "bench: generating {n} participants{} into {} (once)…",
            if xlsx { " with .xlsx" } else { "" },
            dir.display()
        );
        let mut cmd = Command::new("python3");
        cmd.arg(tools.join("gen_data.py"))
            .args(["-n", &n.to_string(), "--quiet", "--out"])
            .arg(&dir);
        if xlsx {
            cmd.arg("--xlsx");
        }
        let status = cmd
            .status()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        if !status.success() {
            return Err(format!(
                "gen_data.py failed{}",
                if xlsx {
                    " (--xlsx needs `pip install xlsxwriter`)"
                } else {
                    ""
                }
            ));
        }
        std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
        if xlsx {
            std::fs::write(dir.join(".done"), b"").map_err(|e| e.to_string())?;
        }
        Ok(dir)
    }

    /// A fresh database holding the program and the roster (not timed).
    fn fresh_db(&self, dir: &Path, name: &str) -> Result<PathBuf> {
        let work = self.data.join("work");
        std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let db = work.join(format!("{name}.db"));
        remove_db(&db);
        let program = work.join("program.toml");
        std::fs::write(&program, bench_program()?).map_err(|e| e.to_string())?;
        self.stepcard(&db)
            .args(["init", "--program"])
            .arg(&program)
            .status()
            .ok()
            .filter(|s| s.success())
            .ok_or("stepcard init failed")?;
        self.stepcard(&db)
            .args(["roster", "import"])
            .arg(dir.join("roster.csv"))
            .status()
            .ok()
            .filter(|s| s.success())
            .ok_or("stepcard roster import failed")?;
        Ok(db)
    }

    fn stepcard(&self, db: &Path) -> Command {
        let mut c = Command::new(&self.stepcard);
        c.arg("--quiet")
            .arg("--db")
            .arg(db)
            .env("STEPCARD_OPERATOR", OPERATOR)
            .env("STEPCARD_PASSWORD_FILE", self.data.join("password.txt"))
            .env_remove("STEPCARD_NOW");
        c
    }

    /// Each stage's time per row and peak RSS at every scale it ran at, so that a
    /// command that stops being linear, or whose memory grows, shows at a glance.
    fn scaling_table(&mut self) {
        if self.scaling.is_empty() {
            return;
        }
        let mut scales: Vec<u32> = self.scaling.iter().map(|s| s.1).collect();
        scales.sort_unstable();
        scales.dedup();
        let _ = writeln!(
            self.report,
            "## scaling: µs per row (peak RSS MiB) by participants\n"
        );
        let mut head = String::from("| command |");
        let mut rule = String::from("|---|");
        for n in &scales {
            let _ = write!(head, " {} |", thousands(u64::from(*n)));
            rule.push_str("---:|");
        }
        head.push_str(" last ÷ first |");
        rule.push_str("---:|");
        let _ = writeln!(self.report, "{head}\n{rule}");
        let mut stages: Vec<&'static str> = self.scaling.iter().map(|s| s.0).collect();
        stages.dedup();
        let mut checks = Vec::new();
        for st in stages {
            let figs: Vec<(u32, Figure)> = self
                .scaling
                .iter()
                .filter(|s| s.0 == st)
                .map(|s| (s.1, s.2.clone()))
                .collect();
            let per_row = |f: &Figure| f.wall * 1e6 / f.rows.max(1) as f64;
            let mut line = format!("| {st} |");
            for n in &scales {
                match figs.iter().find(|(m, _)| m == n) {
                    Some((_, f)) => {
                        let _ = write!(line, " {:.2} ({:.0}) |", per_row(f), f.max_rss / MIB);
                        checks.push((
                            f.max_rss / MIB < RSS_CEILING_MIB,
                            format!(
                                "{st} at {n}: peak RSS {:.1} MiB (< {RSS_CEILING_MIB} MiB)",
                                f.max_rss / MIB
                            ),
                        ));
                    }
                    None => line.push_str(" – |"),
                }
            }
            let first = figs.iter().min_by_key(|(n, _)| *n);
            let last = figs.iter().max_by_key(|(n, _)| *n);
            match (first, last) {
                (Some((a, fa)), Some((b, fb))) if a != b => {
                    let r = per_row(fb) / per_row(fa);
                    let _ = write!(line, " {r:.2}× |");
                    checks.push((
                        r <= SCALING_RATIO,
                        format!("{st}: time per row {r:.2}× from {a} to {b} (≤ {SCALING_RATIO}×)"),
                    ));
                }
                _ => line.push_str(" – |"),
            }
            let _ = writeln!(self.report, "{line}");
        }
        let _ = writeln!(self.report);
        for (ok, what) in checks {
            self.check(ok, what);
        }
    }

    fn section(&mut self, title: &str, figures: &[Figure], base: Option<&Figure>, note: &str) {
        if let Some(f) = figures.first() {
            if !self.stage.is_empty()
                && !self
                    .scaling
                    .iter()
                    .any(|s| s.0 == self.stage && s.1 == self.scale)
            {
                self.scaling.push((self.stage, self.scale, f.clone()));
            }
        }
        let _ = writeln!(self.report, "## {title}\n");
        let _ = writeln!(
            self.report,
            "| tool | rows | wall s | rows/s | CPU s | peak RSS MiB | wall vs floor | CPU vs floor |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for f in figures {
            let ratio =
                |a: f64, b: Option<f64>| b.map_or("–".into(), |b| format!("{:.2}×", a / b));
            let _ = writeln!(
                self.report,
                "| {} | {} | {:.3} | {} | {:.3} | {:.1} | {} | {} |",
                f.tool,
                thousands(f.rows),
                f.wall,
                thousands((f.rows as f64 / f.wall.max(1e-9)) as u64),
                f.cpu,
                f.max_rss / MIB,
                ratio(f.wall, base.map(|b| b.wall)),
                ratio(f.cpu, base.map(|b| b.cpu)),
            );
        }
        if !note.is_empty() {
            let _ = writeln!(self.report, "\n{note}");
        }
        let _ = writeln!(self.report);
    }

    fn check(&mut self, ok: bool, what: String) {
        let _ = writeln!(
            self.report,
            "- {} {what}\n",
            if ok { "target met:" } else { "TARGET MISSED:" }
        );
        if !ok {
            self.failures.push(what);
        }
    }
}

/// `steps import` of the long CSV, against rustfloor and sqlite3 on the same file.
fn stage_import(b: &mut Bench, n: u32) -> Result<()> {
    let dir = b.dataset(n, false)?;
    let csv = dir.join("steps_long.csv");
    let expected = count_lines(&csv)?.saturating_sub(1);
    let (mut ours, mut floor, mut sq) = (Vec::new(), Vec::new(), Vec::new());
    let mut unlock = Vec::new();
    for round in 0..b.opts.runs {
        let db = b.fresh_db(&dir, &format!("import{n}"))?;
        // What every command pays before its own work: the handler's Argon2id unlock and
        // the database's opening checks, measured by the cheapest command there is.
        let mut cmd = b.stepcard(&db);
        cmd.args(["handlers", "list"]).stdout(Stdio::null());
        unlock.push(measure(&mut cmd)?);
        let mut cmd = b.stepcard(&db);
        cmd.args(["steps", "import"]).arg(&csv);
        let s = measure(&mut cmd)?;
        let (read, inserted) = batch_counts(&db)?;
        if read != expected || inserted != expected {
            return Err(format!(
                "stepcard read {read} and stored {inserted} rows; the file has {expected}"
            ));
        }
        ours.push(s);
        remove_db(&db);
        if let Some(fl) = &b.floor {
            let db = b.data.join("work").join(format!("floor{n}.db"));
            remove_db(&db);
            let mut cmd = Command::new(fl);
            cmd.arg("load-pk-worowid").arg(&csv).arg(&db);
            floor.push(measure(&mut cmd)?);
            let rows = sqlite_count(&db)?;
            if rows != expected {
                return Err(format!("rustfloor stored {rows} rows, not {expected}"));
            }
            remove_db(&db);
        }
        if b.sqlite3 {
            let db = b.data.join("work").join(format!("sqlite{n}.db"));
            remove_db(&db);
            let mut cmd = Command::new("sqlite3");
            cmd.arg(&db)
                .arg(".mode csv")
                .arg(format!(".import '{}' steps", csv.display()));
            sq.push(measure(&mut cmd)?);
            let rows = sqlite_count(&db)?;
            if rows != expected {
                return Err(format!(
                    "sqlite3 .import stored {rows} rows, not {expected}"
                ));
            }
            remove_db(&db);
        }
        eprintln!("bench:   round {} done", round + 1);
    }
    let ours = Figure::from_samples("stepcard steps import", expected, &ours).ok_or("no run")?;
    let floor = Figure::from_samples("rustfloor load-pk-worowid", expected, &floor);
    let sq = Figure::from_samples("sqlite3 .import", expected, &sq);
    let unlock = Figure::from_samples(
        "stepcard handlers list (the unlock every command pays)",
        0,
        &unlock,
    );
    let mut figures = vec![ours.clone()];
    figures.extend(floor.clone());
    figures.extend(sq.clone());
    figures.extend(unlock.clone());
    let size = std::fs::metadata(&csv).map_or(0, |m| m.len());
    b.section(
        &format!(
            "import: long CSV, {} participants × 365 days ({} rows, {:.1} MiB)",
            thousands(u64::from(n)),
            thousands(expected),
            size as f64 / MIB
        ),
        &figures,
        floor.as_ref(),
        "stepcard validates every cell (participant in the roster, date, period, steps) and stores \
         batch and source row in one transaction (through the rollback journal when no other command has the database open, as here), in an encrypted database; the floor parses and inserts into a \
         (participant_id, date) primary key with no checks; sqlite3 .import inserts text into a table \
         with no key and no checks. `handlers list` opens the database and does nothing else: \
         the handler's Argon2id unlock (19 MiB × 16 passes) and the opening checks, paid once by \
         every command whatever its size.",
    );
    if let Some(f) = &floor {
        b.check(
            ours.wall <= IMPORT_FLOOR_RATIO * f.wall,
            format!(
                "import at {n}: wall {:.2}× the floor (≤ {IMPORT_FLOOR_RATIO}×)",
                ours.wall / f.wall
            ),
        );
        // Not a target: how much of the gap is the fixed unlock, so the rest shows.
        if let Some(u) = &unlock {
            let _ = writeln!(
                b.report,
                "- for comparison, not a target: import at {n} less the unlock ({:.3} s): {:.2}× the floor\n",
                u.wall,
                (ours.wall - u.wall).max(0.0) / f.wall
            );
        }
    }
    if let Some(s) = &sq {
        b.check(
            ours.wall < s.wall,
            format!(
                "import at {n}: {:.3} s against sqlite3 .import {:.3} s (faster)",
                ours.wall, s.wall
            ),
        );
    }
    b.check(
        ours.max_rss / MIB < RSS_LIMIT_MIB,
        format!(
            "import at {n}: peak RSS {:.1} MiB (< {RSS_LIMIT_MIB} MiB)",
            ours.max_rss / MIB
        ),
    );
    Ok(())
}

/// The database the later stages start from: roster, the year's steps, one application
/// per participant for prize T1 (built once per scale, not timed). Returns its path and
/// the number of participants.
fn pipeline_db(b: &mut Bench, n: u32) -> Result<(PathBuf, u64)> {
    let dir = b.dataset(n, false)?;
    let base = b.data.join("pipeline").join(format!("n{n}"));
    let db = base.join("base.db");
    // v2: the database records its inputs under base/inputs (copies), which the
    // close-out stage puts back and erases each round with --erase-inputs.
    let marker = base.join(".done-v2");
    let participants = count_lines(&dir.join("roster.csv"))?.saturating_sub(1);
    if marker.exists() && db.exists() {
        return Ok((db, participants));
    }
    std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    eprintln!(
        "bench: building the {n}-participant database for points/ship/labels/close-out (once)…"
    );
    let inputs = restore_inputs(&dir, &base)?;
    let fresh = b.fresh_db(&inputs, &format!("pipeline{n}"))?;
    remove_db(&db);
    let fresh_keys = stepcard::keys::path_for(&fresh);
    std::fs::rename(&fresh, &db).map_err(|e| e.to_string())?;
    std::fs::rename(fresh_keys, stepcard::keys::path_for(&db)).map_err(|e| e.to_string())?;
    b.stepcard(&db)
        .args(["steps", "import"])
        .arg(inputs.join("steps_long.csv"))
        .status()
        .ok()
        .filter(|s| s.success())
        .ok_or("stepcard steps import failed")?;
    // One application per participant, in roster order.
    let roster = std::fs::read_to_string(dir.join("roster.csv")).map_err(|e| e.to_string())?;
    let mut orders = String::from("参加者番号,景品コード,数量,申込日\n");
    for line in roster.lines().skip(1) {
        if let Some(id) = line.split(',').next() {
            let _ = writeln!(orders, "{id},T1,1,2026-03-01");
        }
    }
    std::fs::write(base.join("orders.keep.csv"), &orders).map_err(|e| e.to_string())?;
    let orders_csv = inputs.join("orders.csv");
    std::fs::write(&orders_csv, orders).map_err(|e| e.to_string())?;
    b.stepcard(&db)
        .env("STEPCARD_NOW", "2026-03-31T12:00:00+09:00")
        .args(["orders", "import"])
        .arg(&orders_csv)
        .status()
        .ok()
        .filter(|s| s.success())
        .ok_or("stepcard orders import failed")?;
    std::fs::write(&marker, b"").map_err(|e| e.to_string())?;
    Ok((db, participants))
}

/// The pipeline's input files, as copies under `base/inputs` (put back where a close-out
/// round erased them): the database records these paths, so the close-out can erase them
/// with `--erase-inputs` without touching the generated data set.
fn restore_inputs(dataset: &Path, base: &Path) -> Result<PathBuf> {
    let inputs = base.join("inputs");
    std::fs::create_dir_all(&inputs).map_err(|e| e.to_string())?;
    for name in ["roster.csv", "steps_long.csv"] {
        if !inputs.join(name).exists() {
            std::fs::copy(dataset.join(name), inputs.join(name)).map_err(|e| e.to_string())?;
        }
    }
    let keep = base.join("orders.keep.csv");
    if keep.exists() && !inputs.join("orders.csv").exists() {
        std::fs::copy(&keep, inputs.join("orders.csv")).map_err(|e| e.to_string())?;
    }
    Ok(inputs)
}

/// A copy of the pipeline database in a folder of its own (emptied first).
fn copy_db(from: &Path, folder: &Path) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(folder).map_err(|e| e.to_string())?;
    let to = folder.join("stepcard.db");
    std::fs::copy(from, &to).map_err(|e| e.to_string())?;
    let keys = stepcard::keys::path_for(from);
    if keys.exists() {
        std::fs::copy(&keys, stepcard::keys::path_for(&to)).map_err(|e| e.to_string())?;
    }
    Ok(to)
}

/// The handler's password file, owner-only.
fn write_password_file(data: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let p = data.join("password.txt");
    std::fs::write(&p, format!("{PASSWORD}\n")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())
}

/// A stepcard database opened directly, keyed from the handler's slot when encrypted.
fn open_db(db: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    if !stepcard::db::is_plaintext(db) {
        let slots = stepcard::keys::load(db)
            .map_err(|e| e.to_string())?
            .ok_or("no key file")?;
        let key = slots
            .unlock(OPERATOR, PASSWORD)
            .map_err(|e| e.to_string())?
            .ok_or("the bench password does not open the key slot")?;
        stepcard::db::apply_key(&conn, &key).map_err(|e| e.to_string())?;
    }
    Ok(conn)
}

fn accepted_orders(db: &Path) -> Result<u64> {
    let conn = open_db(db)?;
    conn.query_row(
        "SELECT count(*) FROM orders WHERE status='accepted'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(|e| e.to_string())
}

/// A stage that runs one stepcard command per round and reports it alone.
fn timed_stage(
    b: &mut Bench,
    title: &str,
    rows: u64,
    note: &str,
    mut round: impl FnMut(&mut Bench, usize) -> Result<Sample>,
) -> Result<()> {
    let mut samples = Vec::new();
    for r in 0..b.opts.runs {
        samples.push(round(b, r)?);
        eprintln!("bench:   round {} done", r + 1);
    }
    let fig = Figure::from_samples(title, rows, &samples).ok_or("no run")?;
    b.section(title, std::slice::from_ref(&fig), None, note);
    Ok(())
}

fn stage_points(b: &mut Bench, n: u32) -> Result<()> {
    let (base, participants) = pipeline_db(b, n)?;
    // On a copy: the export it records must not follow the base into the close-out.
    let out = b.data.join("pipeline").join("points");
    let db = copy_db(&base, &out)?;
    timed_stage(
        b,
        &format!("points: {} participants × 365 days, to CSV", thousands(u64::from(n))),
        participants,
        "`stepcard points --out points.csv`: every participant's points recomputed from the stored steps and rules.",
        |b, _| {
            let mut cmd = b.stepcard(&db);
            cmd.args(["points", "--out"]).arg(out.join("points.csv"));
            measure(&mut cmd)
        },
    )
}

fn stage_ship(b: &mut Bench, n: u32) -> Result<()> {
    let (db, _) = pipeline_db(b, n)?;
    let orders = accepted_orders(&db)?;
    let work = b.data.join("pipeline").join("ship");
    timed_stage(
        b,
        &format!("ship: one shipment of {} orders", thousands(orders)),
        orders,
        "`stepcard ship --out shipment.xlsx` on a fresh copy of the database each round: the whole \
         shipment checked, the list written sorted by postal code, every order marked shipped.",
        |b, _| {
            let copy = copy_db(&db, &work)?;
            let mut cmd = b.stepcard(&copy);
            cmd.args(["ship", "--out"]).arg(work.join("shipment.xlsx"));
            measure(&mut cmd)
        },
    )
}

fn stage_labels(b: &mut Bench, n: u32) -> Result<()> {
    let (db, _) = pipeline_db(b, n)?;
    let orders = accepted_orders(&db)?;
    let work = b.data.join("pipeline").join("labels");
    let copy = copy_db(&db, &work)?;
    b.stepcard(&copy)
        .args(["ship", "--out"])
        .arg(work.join("shipment.xlsx"))
        .status()
        .ok()
        .filter(|s| s.success())
        .ok_or("stepcard ship failed")?;
    timed_stage(
        b,
        &format!("labels: shipment 1, {} orders, A4 12面", thousands(orders)),
        orders,
        "`stepcard labels --shipment 1 --out labels.xlsx`: every label laid out, fitted and checked.",
        |b, _| {
            let mut cmd = b.stepcard(&copy);
            cmd.args(["labels", "--shipment", "1", "--out"])
                .arg(work.join("labels.xlsx"));
            measure(&mut cmd)
        },
    )
}

fn stage_close_out(b: &mut Bench, n: u32) -> Result<()> {
    let (db, participants) = pipeline_db(b, n)?;
    let work = b.data.join("pipeline").join("close-out");
    let size = std::fs::metadata(&db).map_or(0, |m| m.len());
    timed_stage(
        b,
        &format!(
            "close-out: {} participants, a {:.0} MiB database",
            thousands(participants),
            size as f64 / MIB
        ),
        participants,
        "`stepcard close-out --return-dir R --confirm … --erase-inputs` on a copy in a folder of its own each round: \
         audit check, return package written and read back, erasure, remnant scan, record and certificate.",
        |b, r| {
            let folder = work.join(format!("r{r}"));
            let copy = copy_db(&db, &folder.join("db"))?;
            let ret = folder.join("return");
            let _ = std::fs::remove_dir_all(&ret);
            // The keyed inputs are personal data the close-out must account for: put the
            // copies back (the round before erased them) and let it erase them.
            let base = db.parent().ok_or("no pipeline folder")?;
            restore_inputs(&b.dataset(n, false)?, base)?;
            let mut cmd = b.stepcard(&copy);
            cmd.args(["close-out", "--confirm", "R7-健-0123", "--erase-inputs", "--return-dir"])
                .arg(&ret);
            let s = measure(&mut cmd)?;
            let _ = std::fs::remove_dir_all(&folder);
            Ok(s)
        },
    )
}

/// `steps verify` of the long CSV against the card CSV (the same days, pivoted): every
/// day matched, compared and checked.
fn stage_verify(b: &mut Bench, n: u32) -> Result<()> {
    let dir = b.dataset(n, false)?;
    let long = dir.join("steps_long.csv");
    let card = dir.join("steps_card.csv");
    let days = count_lines(&long)?.saturating_sub(1);
    let db = b.fresh_db(&dir, &format!("verify{n}"))?;
    timed_stage(
        b,
        &format!(
            "verify: {} participants, {} days in each keying",
            thousands(u64::from(n)),
            thousands(days)
        ),
        days,
        "`stepcard steps verify steps_long.csv steps_card.csv`: both keyings read as the import \
         reads them, sorted in bounded runs, merged by (participant, day), every agreed value checked.",
        |b, _| {
            let mut cmd = b.stepcard(&db);
            cmd.args(["steps", "verify"]).arg(&long).arg(&card);
            measure(&mut cmd)
        },
    )
}

/// `survey import` of a 事前 and a 事後 questionnaire for every participant.
fn stage_survey(b: &mut Bench, n: u32) -> Result<()> {
    let dir = b.dataset(n, false)?;
    let roster = std::fs::read_to_string(dir.join("roster.csv")).map_err(|e| e.to_string())?;
    let csv = b.data.join("work").join(format!("survey{n}.csv"));
    let mut text = String::from("参加者番号,回答時期,Q1,Q2,Q3,Q4\n");
    let mut rows = 0u64;
    for (i, line) in roster.lines().skip(1).enumerate() {
        if let Some(id) = line.split(',').next() {
            let _ = writeln!(
                text,
                "{id},事前,{},はい,{},{}",
                1 + i % 5,
                1 + i % 4,
                1 + (i / 5) % 5
            );
            let _ = writeln!(
                text,
                "{id},事後,{},いいえ,{},{}",
                1 + (i + 1) % 5,
                1 + (i + 1) % 4,
                1 + (i / 3) % 5
            );
            rows += 2;
        }
    }
    std::fs::write(&csv, text).map_err(|e| e.to_string())?;
    timed_stage(
        b,
        &format!("survey: {} questionnaires", thousands(rows)),
        rows,
        "`stepcard survey import survey.csv` into a fresh database each round: every answer checked, \
         each questionnaire against this file's earlier rows and the stored answers.",
        |b, _| {
            let db = b.fresh_db(&dir, &format!("survey{n}"))?;
            let mut cmd = b.stepcard(&db);
            cmd.args(["survey", "import"]).arg(&csv);
            let s = measure(&mut cmd)?;
            remove_db(&db);
            Ok(s)
        },
    )
}

/// `orders import` of five applications per participant, round-robin (each participant's
/// five far apart in the file), into a copy of the pipeline database each round.
fn stage_orders(b: &mut Bench, n: u32) -> Result<()> {
    let (base, participants) = pipeline_db(b, n)?;
    let dir = b.dataset(n, false)?;
    let roster = std::fs::read_to_string(dir.join("roster.csv")).map_err(|e| e.to_string())?;
    let ids: Vec<&str> = roster
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    let work = b.data.join("pipeline").join("orders");
    let csv = b.data.join("work").join(format!("orders{n}.csv"));
    let mut text = String::from("参加者番号,景品コード,数量,申込日\n");
    let rounds = [
        ("T1", "2025-07-01"),
        ("W1", "2025-09-01"),
        ("Q1", "2025-11-01"),
        ("T1", "2026-01-15"),
        ("T1", "2026-03-01"),
    ];
    for (code, date) in rounds {
        for id in &ids {
            let _ = writeln!(text, "{id},{code},1,{date}");
        }
    }
    std::fs::write(&csv, text).map_err(|e| e.to_string())?;
    let rows = participants * rounds.len() as u64;
    timed_stage(
        b,
        &format!("orders: {} applications, not grouped by participant", thousands(rows)),
        rows,
        "`stepcard orders import orders.csv` into a copy of the pipeline database (one application \
         each already stored): each application decided in file order from the points earned by its \
         申込日, the stock and the per-person limits.",
        |b, _| {
            let db = copy_db(&base, &work)?;
            let mut cmd = b.stepcard(&db);
            cmd.env("STEPCARD_NOW", "2026-03-31T12:00:00+09:00")
                .args(["orders", "import"])
                .arg(&csv);
            measure(&mut cmd)
        },
    )
}

/// `report` on the pipeline database (a copy: it records its export).
fn stage_report(b: &mut Bench, n: u32) -> Result<()> {
    let (base, participants) = pipeline_db(b, n)?;
    let out = b.data.join("pipeline").join("report");
    let db = copy_db(&base, &out)?;
    timed_stage(
        b,
        &format!("report: {} participants × 365 days", thousands(u64::from(n))),
        participants,
        "`stepcard report --out report.xlsx`: every step read once, aggregated per participant and month.",
        |b, _| {
            let mut cmd = b.stepcard(&db);
            cmd.args(["report", "--out"]).arg(out.join("report.xlsx"));
            measure(&mut cmd)
        },
    )
}

/// The card workbook: stepcard's reader against calamine's streaming reader, then the
/// whole import.
fn stage_xlsx(b: &mut Bench, n: u32) -> Result<()> {
    let dir = b.dataset(n, true)?;
    let xlsx = dir.join("steps_card.xlsx");
    let self_exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // The long CSV holds the same day values as the card workbook (it is its pivot): the
    // floor's insert of it plus calamine's read is the floor for the whole import.
    let long = dir.join("steps_long.csv");
    let (mut read, mut floor, mut import) = (Vec::new(), Vec::new(), Vec::new());
    let mut floor_load = Vec::new();
    let (mut rows_read, mut stored) = (0, 0);
    for _ in 0..b.opts.runs {
        let mut cmd = Command::new(&self_exe);
        cmd.arg("--read-sheets").arg(&xlsx);
        let (s, out) = measure_output(&mut cmd)?;
        rows_read = out
            .trim()
            .parse()
            .map_err(|_| format!("reader said {out:?}"))?;
        read.push(s);
        if let Some(fl) = &b.floor {
            let mut cmd = Command::new(fl);
            cmd.arg("xlsx-stream").arg(&xlsx);
            floor.push(measure(&mut cmd)?);
            let db = b.data.join("work").join(format!("floor-xlsx{n}.db"));
            remove_db(&db);
            let mut cmd = Command::new(fl);
            cmd.arg("load-pk-worowid").arg(&long).arg(&db);
            floor_load.push(measure(&mut cmd)?);
            remove_db(&db);
        }
        let db = b.fresh_db(&dir, &format!("xlsx{n}"))?;
        let mut cmd = b.stepcard(&db);
        cmd.args(["steps", "import"]).arg(&xlsx);
        import.push(measure(&mut cmd)?);
        let (cards, inserted) = batch_counts(&db)?;
        if cards + 1 != rows_read {
            return Err(format!(
                "the import read {cards} cards; the sheet has {} rows below its header",
                rows_read.saturating_sub(1)
            ));
        }
        stored = inserted;
        remove_db(&db);
    }
    let ours = Figure::from_samples("stepcard sheet reader", rows_read, &read).ok_or("no run")?;
    let fl = Figure::from_samples("calamine xlsx-stream (rustfloor)", rows_read, &floor);
    let mut figures = vec![ours.clone()];
    figures.extend(fl.clone());
    b.section(
        &format!(
            "xlsx: card-layout workbook, {} participants ({} rows × 31 days), reading",
            thousands(u64::from(n)),
            thousands(rows_read.saturating_sub(1))
        ),
        &figures,
        fl.as_ref(),
        "Both read every cell of every sheet with calamine's streaming reader; stepcard's also \
         builds its rows (dates, numbers, text) and checks the sheet's bounds.",
    );
    if let Some(f) = &fl {
        b.check(
            ours.wall <= FLOOR_RATIO * f.wall,
            format!(
                "xlsx read at {n}: wall {:.2}× calamine's streaming read (≤ {FLOOR_RATIO}×)",
                ours.wall / f.wall
            ),
        );
    }
    let imp = Figure::from_samples("stepcard steps import", stored, &import).ok_or("no run")?;
    // Floor for the whole import: calamine's read plus the floor's insert of the same values.
    let both = fl.as_ref().and_then(|r| {
        let l = Figure::from_samples("", stored, &floor_load)?;
        Some(Figure {
            tool: "calamine xlsx-stream + rustfloor load-pk-worowid".into(),
            rows: stored,
            wall: r.wall + l.wall,
            cpu: r.cpu + l.cpu,
            max_rss: r.max_rss.max(l.max_rss),
        })
    });
    let mut figures = vec![imp.clone()];
    figures.extend(both.clone());
    b.section(
        &format!(
            "xlsx: the whole import of that workbook ({} day values stored)",
            thousands(stored)
        ),
        &figures,
        both.as_ref(),
        "rows here are the day values stored (one card row holds up to 31). The import reads the \
         workbook as above, validates every day cell and inserts each value, so its floor is \
         calamine's read plus the floor's insert of the same values (from the long CSV, which holds \
         exactly those values); the two floor runs are added.",
    );
    if let Some(f) = &both {
        b.check(
            imp.wall <= FLOOR_RATIO * f.wall,
            format!(
                "xlsx import at {n}: wall {:.2}× calamine read + floor insert (≤ {FLOOR_RATIO}×)",
                imp.wall / f.wall
            ),
        );
    }
    b.check(
        imp.max_rss / MIB < RSS_LIMIT_MIB,
        format!(
            "xlsx import at {n}: peak RSS {:.1} MiB (< {RSS_LIMIT_MIB} MiB)",
            imp.max_rss / MIB
        ),
    );
    Ok(())
}

/// `bench --read-sheets FILE`: read every row of every sheet through stepcard's reader,
/// print the number of rows. The harness runs this as a child to time it.
/// `--spawn PROGRAM ARGS…`: run one measured command and report its own peak RSS.
///
/// Linux gives an exec'd child the peak RSS of the process it was forked from as its
/// starting `ru_maxrss`, so a command spawned straight from the bench (which holds a
/// roster or a generated file now and then) would report at least the bench's peak.
/// This small process in between has a fresh, small peak of its own: it runs the
/// command, waits for it with `wait4`, and prints `BENCH-RSS <KiB>` as its last line on
/// stderr, exiting with the command's exit code.
fn spawn_mode(args: &[String]) -> i32 {
    let Some(program) = args.first() else {
        eprintln!("--spawn PROGRAM [ARGS]");
        return 2;
    };
    let child = match Command::new(program).args(&args[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{program}: {e}");
            return 2;
        }
    };
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return 2;
    };
    let mut status = 0;
    // SAFETY: as in run_child: wait4 fills in plain data and reaps exactly this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    drop(child);
    if got != pid {
        return 2;
    }
    eprintln!("BENCH-RSS {}", usage.ru_maxrss);
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        1
    }
}

fn child_mode() -> Option<i32> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--spawn") {
        return Some(spawn_mode(&args[2..]));
    }
    if args.get(1).map(String::as_str) != Some("--read-sheets") {
        return None;
    }
    let Some(path) = args.get(2) else {
        eprintln!("--read-sheets FILE");
        return Some(2);
    };
    let run = || -> anyhow::Result<u64> {
        use stepcard::sheet::{Book, ReadOptions, Row};
        let mut book = Book::open(Path::new(path), &ReadOptions::default())?;
        let mut rows = 0u64;
        let mut cells = 0u64;
        let mut row = Row::new();
        for sheet in book.sheet_names() {
            let mut src = book.rows(&sheet)?;
            while src.next_row(&mut row)? {
                rows += 1;
                cells += row.len() as u64;
            }
        }
        std::hint::black_box(cells);
        Ok(rows)
    };
    match run() {
        Ok(n) => {
            println!("{n}");
            Some(0)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Some(1)
        }
    }
}

/// Run a child to completion; its own wall time, CPU time and peak RSS.
fn measure(cmd: &mut Command) -> Result<Sample> {
    run_child(cmd, false).map(|(s, _)| s)
}

/// As [`measure`], keeping what the child printed on stdout.
fn measure_output(cmd: &mut Command) -> Result<(Sample, String)> {
    run_child(cmd, true)
}

/// `cmd` to be run through this program's `--spawn` (see [`spawn_mode`]), with the same
/// environment and folder.
fn through_spawner(cmd: &Command) -> Result<Command> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut c = Command::new(me);
    c.arg("--spawn").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    Ok(c)
}

fn run_child(cmd: &Command, keep_stdout: bool) -> Result<(Sample, String)> {
    use std::io::Read;
    let shown = format!("{cmd:?}");
    let mut wrapped = through_spawner(cmd)?;
    let cmd = wrapped.stdout(if keep_stdout {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let t0 = Instant::now();
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    // stderr on a thread of its own, so a chatty child never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; wait4 reaps exactly this child,
    // and std never waits for it again (dropping a Child neither waits nor kills).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t0.elapsed().as_secs_f64();
    drop(child);
    let mut err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if got != pid {
        return Err(format!("{shown}: wait4 failed"));
    }
    // The command's own peak, as the spawner saw it (its last line on stderr).
    let own_rss_kib = err
        .trim_end()
        .rsplit_once('\n')
        .map_or(err.trim_end(), |(_, l)| l);
    let own_rss_kib = own_rss_kib
        .strip_prefix("BENCH-RSS ")
        .and_then(|n| n.trim().parse::<f64>().ok());
    if let Some(i) = err.rfind("BENCH-RSS ") {
        err.truncate(i);
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{shown} failed:\n{}", err.trim_end()));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        Sample {
            wall,
            cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
            // Linux reports ru_maxrss in KiB.
            max_rss: own_rss_kib.unwrap_or(usage.ru_maxrss as f64) * 1024.0,
        },
        out,
    ))
}

/// rows_read and inserted of the database's one steps batch.
fn batch_counts(db: &Path) -> Result<(u64, u64)> {
    let conn = open_db(db)?;
    conn.query_row(
        "SELECT rows_read, inserted FROM batches WHERE kind='steps' ORDER BY id",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .map_err(|e| format!("{}: no steps batch ({e})", db.display()))
}

fn sqlite_count(db: &Path) -> Result<u64> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.query_row("SELECT count(*) FROM steps", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(|e| format!("{}: {e}", db.display()))
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal", ".keys"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn count_lines(path: &Path) -> Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| e.to_string())?;
        if k == 0 {
            return Ok(n);
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// The sample program with a period covering gen_data's default year (2025-04-01 to
/// 2026-03-31), so every generated day is in the period.
fn bench_program() -> Result<String> {
    let from = "start = 2025-05-14";
    if !PROGRAM.contains(from) {
        return Err("examples/program.toml no longer has the start date this harness moves".into());
    }
    // Enough stock for one T1 per participant at every scale.
    Ok(PROGRAM.replacen(from, "start = 2025-04-01", 1).replacen(
        "stock = 1000",
        "stock = 10000000",
        1,
    ))
}

/// The target directory this example was built into (…/target/release/examples/bench).
fn target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{}: cannot tell the target directory", exe.display()))
}

/// `shared/tools` in this folder or one above it.
fn find_tools(root: &Path) -> Option<PathBuf> {
    root.ancestors()
        .map(|a| a.join("shared").join("tools"))
        .find(|t| t.join("gen_data.py").exists())
}

/// Build (or find, when up to date) rustfloor into `<target>/rustfloor`.
fn build_floor(tools: &Path, target: &Path) -> Result<PathBuf> {
    let manifest = tools.join("rustfloor").join("Cargo.toml");
    if !manifest.exists() {
        return Err(format!("{} not found", manifest.display()));
    }
    let floor_target = target.join("rustfloor");
    let bin = floor_target.join("release").join("rustfloor");
    eprintln!("bench: building rustfloor (release)…");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &floor_target)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !bin.exists() {
        return Err(format!("cargo build of {} failed", manifest.display()));
    }
    Ok(bin)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
