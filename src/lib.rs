//! stepcard: an offline tool for municipal health point programs (健康ポイント事業).
//!
//! Data flows one way: sheet -> import (validation) -> db -> outputs. Each subcommand
//! lives in `cmd/` (with [`cmd::Ctx`], the designated-handler check); this file wires the
//! command line to them and writes the audit entry every command leaves.

pub mod audit;
pub mod cli;
pub mod closeout;
pub mod cmd;
pub mod cp932;
pub mod db;
pub mod handling;
pub mod ids;
pub mod import;
pub mod keys;
pub mod layout;
pub mod output;
pub mod points;
pub mod postal;
pub mod program;
pub mod quality;
pub mod report;
pub mod sheet;
pub mod shipping;
pub mod stats;
pub mod validate;
pub mod verify;

use anyhow::Result;
use cli::{Cli, Command};

/// An error in how the command was called (exit code 2), as opposed to data or state
/// that refused the work (exit code 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The process exit code for an error.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|e| e.downcast_ref::<UsageError>().is_some())
    {
        2
    } else {
        1
    }
}

/// The current time as stored and printed. `STEPCARD_NOW` fixes it (tests, demo
/// reproducibility); it is not a documented option.
pub fn now() -> String {
    if let Ok(s) = std::env::var("STEPCARD_NOW") {
        return s;
    }
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// A stored time (RFC 3339) as operators read it: Japan time, `2026/11/30 20:12`
/// (the programs are Japanese municipalities'; the PC's own zone may be UTC). Text that
/// is not a time is shown as it is.
pub fn shown_time(stored: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(stored) {
        Ok(t) => {
            let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
            t.with_timezone(&jst).format("%Y/%m/%d %H:%M").to_string()
        }
        Err(_) => stored.to_string(),
    }
}

/// The OS account running this process: the password database's name for the
/// effective user id, else `$USER`.
pub fn os_user() -> String {
    #[cfg(unix)]
    {
        // SAFETY: getpwuid returns a pointer into static storage or null; the name is
        // copied out at once, on this thread, before any other getpw* call.
        unsafe {
            let pw = libc::getpwuid(libc::geteuid());
            if !pw.is_null() && !(*pw).pw_name.is_null() {
                if let Ok(s) = std::ffi::CStr::from_ptr((*pw).pw_name).to_str() {
                    if !s.is_empty() {
                        return s.to_string();
                    }
                }
            }
        }
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "不明".into())
}

/// Today's date in local time (or from `STEPCARD_NOW`).
pub fn today() -> chrono::NaiveDate {
    let n = now();
    chrono::NaiveDate::parse_from_str(n.get(..10).unwrap_or(""), "%Y-%m-%d")
        .unwrap_or_else(|_| chrono::Local::now().date_naive())
}

/// The name an audit entry gives a command.
fn command_name(c: &Command) -> &'static str {
    use cli::{BatchesCmd, HandlersCmd, OrdersCmd, RosterCmd, StepsCmd, SurveyCmd};
    match c {
        Command::Init { .. } => "init",
        Command::Roster(RosterCmd::Import { .. }) => "roster import",
        Command::Roster(RosterCmd::Export { .. }) => "roster export",
        Command::Steps(StepsCmd::Import { .. }) => "steps import",
        Command::Steps(StepsCmd::Export { .. }) => "steps export",
        Command::Steps(StepsCmd::Verify(_)) => "steps verify",
        Command::Batches(BatchesCmd::List { .. }) => "batches list",
        Command::Batches(BatchesCmd::Show { .. }) => "batches show",
        Command::Batches(BatchesCmd::Undo { .. }) => "batches undo",
        Command::Points(_) => "points",
        Command::Orders(OrdersCmd::Import { .. }) => "orders import",
        Command::Prizes { .. } => "prizes",
        Command::Status { .. } => "status",
        Command::Ship(_) => "ship",
        Command::Labels(_) => "labels",
        Command::Cards(_) => "cards",
        Command::Survey(SurveyCmd::Import { .. }) => "survey import",
        Command::Report(_) => "report",
        Command::Audit(_) => "audit",
        Command::CloseOut(_) => "close-out",
        Command::Demo { .. } => "demo",
        Command::Template(_) => "template",
        Command::Quality { .. } => "quality",
        Command::Handlers(HandlersCmd::Add { .. }) => "handlers add",
        Command::Handlers(HandlersCmd::Passwd { .. }) => "handlers passwd",
        Command::Handlers(HandlersCmd::Remove { .. }) => "handlers remove",
        Command::Handlers(HandlersCmd::List) => "handlers list",
        Command::Encrypt { .. } => "encrypt",
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Init { program } => return cmd::init::run(&cli, program),
        Command::Demo { out } => return cmd::demo::run(&cli, out),
        // Close-out runs on after the database is gone (erasure, resume, --verify), so
        // it opens the database itself and writes its own audit entries.
        Command::CloseOut(args) => return cmd::closeout::run(&cli, args),
        // Encrypt works on a database as earlier builds wrote it (no key slots).
        Command::Encrypt { out } => return cmd::encrypt::run(&cli, out),
        _ => {}
    }
    let name = command_name(&cli.command);
    let mut ctx = cmd::Ctx::open(&cli, name)?;
    let inputs = inputs_of(&cli.command);
    let copies = ctx.record_copies(name, &inputs)?;
    if !inputs.is_empty() {
        // The source files by full path, in the chain: the close-out accounts for them.
        let abs: Vec<String> = inputs
            .iter()
            .map(|p| crate::output::FileRecord::path_of(p))
            .collect();
        ctx.detail.arg("inputs", abs);
    }
    let result = dispatch(&mut ctx, &cli.command);
    let status = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) if exit_code(e) == 2 => "usage error".to_string(),
        Err(_) => "refused".to_string(),
    };
    let d = &ctx.detail;
    let nothing_since = d.counts.is_empty() && d.files.is_empty() && d.files_read.is_empty();
    if ctx.recorded && result.is_ok() && nothing_since {
        return Ok(());
    }
    let recorded = ctx.record(name, &status);
    drop(copies);
    result?;
    recorded?;
    Ok(())
}

/// The files a command reads: no output of the same command may be written onto them.
fn inputs_of(command: &Command) -> Vec<std::path::PathBuf> {
    use cli::{OrdersCmd, RosterCmd, StepsCmd, SurveyCmd};
    match command {
        Command::Roster(RosterCmd::Import { file, .. })
        | Command::Orders(OrdersCmd::Import { file, .. })
        | Command::Survey(SurveyCmd::Import { file, .. }) => vec![file.clone()],
        Command::Steps(StepsCmd::Import { files, .. }) => files.clone(),
        Command::Steps(StepsCmd::Verify(a)) => vec![a.first.clone(), a.second.clone()],
        Command::Cards(a) if a.participants != "all" => vec![a.participants.clone().into()],
        Command::Template(a) if !["all", "card"].contains(&a.participants.as_str()) => {
            vec![std::path::PathBuf::from(&a.participants)]
        }
        _ => Vec::new(),
    }
}

fn dispatch(ctx: &mut cmd::Ctx, command: &Command) -> Result<()> {
    use cli::{BatchesCmd, OrdersCmd, RosterCmd, StepsCmd, SurveyCmd};
    match command {
        Command::Init { .. }
        | Command::Demo { .. }
        | Command::CloseOut(_)
        | Command::Encrypt { .. } => {
            unreachable!("handled before")
        }
        Command::Handlers(c) => cmd::handlers::run(ctx, c),
        Command::Roster(RosterCmd::Import { file, opts, update }) => {
            cmd::roster::import(ctx, file, opts, *update)
        }
        Command::Roster(RosterCmd::Export { out }) => cmd::roster::export(ctx, out),
        Command::Steps(StepsCmd::Import {
            files,
            opts,
            layout,
            replace,
            keyed_by,
        }) => cmd::steps::import(ctx, files, opts, *layout, *replace, keyed_by.as_deref()),
        Command::Steps(StepsCmd::Verify(args)) => cmd::verify::run(ctx, args),
        Command::Steps(StepsCmd::Export { participant, out }) => {
            cmd::steps::export(ctx, participant.as_deref(), out.as_deref())
        }
        Command::Batches(BatchesCmd::List { format }) => cmd::batches::list(ctx, format.get()),
        Command::Batches(BatchesCmd::Show {
            id,
            format,
            rejected,
            out,
        }) => cmd::batches::show(ctx, *id, format.get(), *rejected, out.as_deref()),
        Command::Batches(BatchesCmd::Undo { id }) => cmd::batches::undo(ctx, *id),
        Command::Points(args) => cmd::points::run(ctx, args),
        Command::Orders(OrdersCmd::Import { file, opts }) => cmd::orders::import(ctx, file, opts),
        Command::Prizes { format } => cmd::prizes::list(ctx, format.get()),
        Command::Status { format } => cmd::status::run(ctx, format.get()),
        Command::Ship(args) => cmd::ship::run(ctx, args),
        Command::Labels(args) => cmd::labels::run(ctx, args),
        Command::Cards(args) => cmd::cards::run(ctx, args),
        Command::Survey(SurveyCmd::Import { file, opts }) => cmd::survey::import(ctx, file, opts),
        Command::Report(args) => cmd::report::run(ctx, args),
        Command::Audit(args) => cmd::audit::run(ctx, args),
        Command::Template(args) => cmd::template::run(ctx, args),
        Command::Quality { out } => cmd::quality::run(ctx, out.as_deref()),
    }
}
