//! `quality [--out FILE.xlsx]`: who keyed what (入力品質). Per keyer and field kind
//! (participant number, date or month, steps): cells keyed, discrepancies double entry
//! found, errors attributed once the corrected keying was imported, the error rate per
//! 10,000 cells; and the importer's refusals per keyer and code. Aggregates only. The
//! table goes to stdout; `--out` writes it as a workbook (the handling-status report has
//! the same sheet).

use super::Ctx;
use crate::output::quality::{line_texts, HEADINGS, REFUSAL_HEADINGS};
use anyhow::Result;
use std::path::Path;

pub fn run(ctx: &mut Ctx, out: Option<&Path>) -> Result<()> {
    if let Some(out) = out {
        let xlsx = out
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        if !xlsx {
            return Err(crate::usage(format!(
                "{}: 入力品質の報告は .xlsx で書き出します (the quality report is an .xlsx file)",
                out.display()
            )));
        }
    }
    let q = crate::db::quality::quality(&ctx.conn)?;
    println!("{}", HEADINGS.join("\t"));
    for l in &q.lines {
        println!("{}", line_texts(l).join("\t"));
    }
    if !q.refusals.is_empty() {
        println!();
        println!("{}", REFUSAL_HEADINGS.join("\t"));
        for (k, code, meaning, n) in &q.refusals {
            println!("{k}\t{code}\t{n}\t{meaning}");
        }
    }
    ctx.say(format!(
        "ベリファイ {} 回、不一致 {} 件（うち未確定 {} 件）。誤り率は入力したセル1万あたりの、確定した誤りの数です \
         (errors per 10,000 cells keyed, once resolved)",
        q.runs, q.discrepancies, q.unresolved
    ));
    ctx.detail.count(
        "keyers",
        q.lines.iter().filter(|l| l.field.is_none()).count() as u64,
    );
    ctx.detail.count("discrepancies", q.discrepancies);
    if let Some(out) = out {
        let bytes = crate::output::quality::write(&q, &crate::now())?;
        let rec = crate::output::write_bytes(out, &bytes)?;
        ctx.say(format!(
            "{}: 入力品質の報告を書き出しました (quality report written)",
            rec.shown()
        ));
        ctx.detail.file(rec);
    }
    Ok(())
}
