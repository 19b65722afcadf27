//! `steps import` / `steps export` (`steps verify` is in `verify.rs`).

use super::Ctx;
use crate::cli::{ImportOpts, LayoutArg};
use crate::import::steps::import_file;
use crate::import::Options;
use crate::output::{TableWriter, Value};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub fn import(
    ctx: &mut Ctx,
    files: &[PathBuf],
    opts: &ImportOpts,
    layout: Option<LayoutArg>,
    replace: bool,
    keyed_by: Option<&str>,
) -> Result<()> {
    let mut opts = Options::from(opts);
    opts.keyed_by = Some(ctx.keyer(keyed_by)?);
    ctx.detail
        .arg("keyed_by", opts.keyed_by.clone().unwrap_or_default());
    let layout = layout.map(Into::into);
    let mut refused = Vec::new();
    for (i, file) in files.iter().enumerate() {
        // One error report per input file: errors.xlsx -> errors_<file>.xlsx.
        let mut file_opts = opts.clone();
        if let (Some(out), true) = (&opts.errors, files.len() > 1) {
            file_opts.errors = Some(per_file_report(out, file));
        }
        match import_file(&mut ctx.session(), file, &file_opts, layout, replace, false) {
            Ok(_) => {}
            Err(e) if files.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("{}", crate::output::terminal_safe(&format!("error: {e:#}")));
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

pub fn export(ctx: &mut Ctx, participant: Option<&str>, out: Option<&Path>) -> Result<()> {
    let mut w = match out {
        Some(p) => TableWriter::create(p)?,
        None => TableWriter::stdout(),
    };
    w.sheet("歩数", &["参加者番号", "日付", "歩数"])?;
    let mut n = 0u64;
    let mut vals = vec![Value::Empty, Value::Empty, Value::Empty];
    crate::db::steps::each(&ctx.conn, participant, |pid, date, steps| {
        vals[0] = Value::Text(pid);
        vals[1] = Value::Text(date);
        vals[2] = Value::Int(steps);
        w.row(&vals)?;
        n += 1;
        Ok(())
    })?;
    if let Some(id) = participant {
        if n == 0 && crate::db::participants::Participant::load(&ctx.conn, id)?.is_none() {
            bail!("参加者番号 {id} は名簿にありません (participant.unknown)");
        }
    }
    if let Some(rec) = w.finish()? {
        ctx.say(format!("{}: {n} 件を書き出しました", rec.shown()));
        ctx.detail.file(rec);
    }
    ctx.detail.count("steps", n);
    Ok(())
}
