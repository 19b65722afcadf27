//! `steps import` / `steps export` (`steps verify` is in `verify.rs`).

use crate::cli::{ImportOpts, Layout};
use crate::import::batch::{self, Spec};
use crate::import::steps::{participant_ids, StepsImporter, ANY_COLUMNS};
use crate::output::{TableWriter, Value};
use crate::Ctx;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub fn import(
    ctx: &mut Ctx,
    files: &[PathBuf],
    opts: &ImportOpts,
    layout: Option<Layout>,
    replace: bool,
) -> Result<()> {
    let mut refused = Vec::new();
    for (i, file) in files.iter().enumerate() {
        // One error report per input file: errors.xlsx -> errors_<file>.xlsx.
        let mut file_opts = opts.clone();
        if let (Some(out), true) = (&opts.errors, files.len() > 1) {
            file_opts.errors = Some(per_file_report(out, file));
        }
        match import_one(ctx, file, &file_opts, layout, replace) {
            Ok(_) => {}
            Err(e) if files.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("error: {e:#}");
                refused.push(i);
            }
        }
    }
    if !refused.is_empty() {
        bail!(
            "{} ファイル中 {} ファイルを取り込めませんでした（他のファイルはそれぞれ取り込み済み） ({} of {} files refused)",
            files.len(),
            refused.len(),
            refused.len(),
            files.len()
        );
    }
    Ok(())
}

fn per_file_report(out: &Path, input: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = out
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let input = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}_{input}.{ext}"))
}

/// One file as one batch; the batch id if committed.
pub fn import_one(
    ctx: &mut Ctx,
    file: &Path,
    opts: &ImportOpts,
    layout: Option<Layout>,
    replace: bool,
) -> Result<Option<i64>> {
    import_one_with(ctx, file, opts, layout, replace, false)
}

/// [`import_one`], recording on the batch whether the file passed double-entry
/// verification (`steps verify --import`).
pub fn import_one_with(
    ctx: &mut Ctx,
    file: &Path,
    opts: &ImportOpts,
    layout: Option<Layout>,
    replace: bool,
    verified: bool,
) -> Result<Option<i64>> {
    let program = ctx.program.clone();
    let ids = participant_ids(&ctx.conn)?;
    let mut ids = Some(ids);
    let spec = Spec {
        kind: "steps",
        columns: ANY_COLUMNS,
        card_days: true,
        verified,
    };
    let partial = opts.partial;
    batch::run_with(ctx, file, opts, &spec, &mut |conn, b| {
        let importer = StepsImporter::new(
            conn,
            program.clone(),
            ids.take().unwrap_or_default(),
            b,
            replace,
            partial,
            layout,
        )?;
        Ok(Box::new(importer))
    })
}

pub fn export(ctx: &mut Ctx, participant: Option<&str>, out: Option<&Path>) -> Result<()> {
    let mut w = match out {
        Some(p) => TableWriter::create(p)?,
        None => TableWriter::stdout(),
    };
    w.sheet("歩数", &["参加者番号", "日付", "歩数"])?;
    let mut n = 0u64;
    {
        let mut stmt = ctx.conn.prepare(
            "SELECT participant_id, date, steps FROM steps WHERE ?1 IS NULL OR participant_id=?1 ORDER BY participant_id, date",
        )?;
        let mut rows = stmt.query([participant])?;
        let mut vals = vec![Value::Empty, Value::Empty, Value::Empty];
        while let Some(r) = rows.next()? {
            vals[0] = Value::Text(r.get(0)?);
            vals[1] = Value::Text(r.get(1)?);
            vals[2] = Value::Int(r.get(2)?);
            w.row(&vals)?;
            n += 1;
        }
    }
    if let Some(id) = participant {
        if n == 0 && crate::import::roster::Participant::load(&ctx.conn, id)?.is_none() {
            bail!("参加者番号 {id} は名簿にありません (participant.unknown)");
        }
    }
    if let Some(rec) = w.finish()? {
        ctx.say(format!("{}: {n} 件を書き出しました", rec.path));
        ctx.detail.file(rec);
    }
    ctx.detail.count("steps", n);
    Ok(())
}
