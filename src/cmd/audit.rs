//! `audit verify`: recompute the audit log's hash chain, name the first broken entry and
//! print the head hash. `audit --out FILE`: the handling-status report (取扱状況報告).

use super::Ctx;
use crate::cli::{AuditArgs, AuditCmd};
use crate::output::listing::{ListFormat, Listing};
use crate::output::{self, TableFormat, Value};
use anyhow::Result;
use std::path::Path;

pub fn run(ctx: &mut Ctx, args: &AuditArgs) -> Result<()> {
    match (&args.action, &args.out) {
        (Some(AuditCmd::Verify { .. }), Some(_)) => Err(crate::usage(
            "audit verify は --out を取りません。報告書は `stepcard audit --out 取扱状況報告.xlsx` で書き出します \
             (audit verify takes no --out; use audit --out FILE)",
        )),
        (_, Some(out)) => report(ctx, out),
        (Some(AuditCmd::Verify { format }), None) => verify(ctx, format.get()),
        (None, None) => verify(ctx, args.format.get()),
    }
}

fn broken_error(seq: i64, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "監査ログの検証に失敗しました: {why}。記録 {seq} 以降は信頼できません。\
         データベースを変更せず、取扱責任者に報告してください (audit chain broken at entry {seq})"
    )
}

fn verify(ctx: &mut Ctx, format: ListFormat) -> Result<()> {
    let v = crate::audit::verify(&ctx.conn)?;
    ctx.detail.count("entries", v.entries);
    if let Some((seq, why)) = v.broken {
        return Err(broken_error(seq, &why));
    }
    if format == ListFormat::Table {
        println!(
            "監査ログ: {} 件、連鎖は正常です (audit chain intact)",
            v.entries
        );
        println!("先頭ハッシュ (head): {}", v.head);
        return Ok(());
    }
    let mut out = Listing::stdout(format, &["件数", "連鎖", "先頭ハッシュ"])?;
    out.row(&[Value::Int(v.entries), "正常".into(), v.head.as_str().into()])?;
    out.finish()?;
    Ok(())
}

fn report(ctx: &mut Ctx, out: &Path) -> Result<()> {
    if TableFormat::from_path(out)? != TableFormat::Xlsx {
        return Err(crate::usage(format!(
            "{}: 取扱状況報告は .xlsx で書き出します (the handling-status report is an .xlsx file)",
            out.display()
        )));
    }
    if same_file(out, &ctx.db_path) {
        return Err(crate::usage(format!(
            "{}: データベースと同じファイルです。別の名前を指定してください (--out names the database itself)",
            out.display()
        )));
    }
    let chain = crate::audit::verify(&ctx.conn)?;
    let broken = chain.broken.clone();
    let data =
        crate::handling::gather(&ctx.conn, &ctx.program, &ctx.operator, &ctx.db_path, chain)?;
    let bytes = output::handling_report::render(&data)?;
    let rec = output::write_bytes(out, &bytes)?;
    ctx.detail.count("entries", data.entries.len() as u64);
    ctx.detail.count("exports", data.copies.len() as u64);
    ctx.say(format!(
        "{}: 取扱状況報告を書き出しました（操作 {} 件、複製 {} 件、うち現在ディスク上 {} 件） (handling-status report written)",
        rec.shown(),
        data.entries.len(),
        data.copies.len(),
        data.copies.iter().filter(|c| c.exists()).count()
    ));
    ctx.detail.file(rec);
    if let Some((seq, why)) = broken {
        // The report is written (it shows the break); the exit status still says so.
        return Err(broken_error(seq, &why));
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
