//! `report --out evaluation.xlsx`: the evaluation report (評価及び検証) for the
//! municipality. Aggregates only, small cells suppressed (see `crate::report`).

use super::Ctx;
use crate::cli::ReportArgs;
use anyhow::Result;

pub fn run(ctx: &mut Ctx, args: &ReportArgs) -> Result<()> {
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.as_deref() != Some("xlsx") {
        return Err(crate::usage(format!(
            "{}: 評価報告書は .xlsx で書き出します。--out evaluation.xlsx のように指定してください (the report is an .xlsx file)",
            args.out.display()
        )));
    }
    let report = crate::report::build(&ctx.conn, &ctx.program, crate::today())?;
    let bytes = crate::output::evaluation::write(&report)?;
    let rec = crate::output::write_bytes(&args.out, &bytes)?;
    ctx.detail.count("participants", report.participants);
    ctx.detail.count("active", report.active);
    ctx.detail.count("hidden_cells", report.hidden_cells as u64);
    ctx.say(format!(
        "{}: 評価報告書を書き出しました（登録者 {} 人、活動した参加者 {} 人、秘匿した欄 {}） (evaluation report written)",
        rec.shown(), report.participants, report.active, report.hidden_cells
    ));
    ctx.detail.file(rec);
    Ok(())
}
