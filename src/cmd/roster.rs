//! `roster import` / `roster export`.

use super::Ctx;
use crate::cli::ImportOpts;
use crate::import::batch::{self, Spec};
use crate::import::roster::{RosterImporter, COLUMNS, EXPORT_HEADERS};
use crate::import::Options;
use crate::output::{TableWriter, Value};
use anyhow::Result;
use std::path::Path;

pub fn import(ctx: &mut Ctx, file: &Path, opts: &ImportOpts, update: bool) -> Result<()> {
    let today = crate::today();
    let spec = Spec {
        kind: "roster",
        columns: COLUMNS,
        card_days: false,
        verified: false,
    };
    let opts = Options::from(opts);
    batch::run(&mut ctx.session(), file, &opts, &spec, &mut |b| {
        Ok(Box::new(RosterImporter::new(b, update, today)))
    })?;
    Ok(())
}

pub fn export(ctx: &mut Ctx, out: &Path) -> Result<()> {
    let mut w = TableWriter::create(out)?;
    w.sheet("名簿", &EXPORT_HEADERS)?;
    let mut n = 0u64;
    crate::db::participants::each(&ctx.conn, |p| {
        w.row(&[
            Value::Text(p.id),
            Value::Text(p.name),
            p.name_kana.into(),
            p.postal_code.into(),
            p.address.into(),
            p.address2.into(),
            p.birth_date.into(),
            p.age.into(),
            p.sex.into(),
            p.phone.into(),
            Value::Text(p.channel),
            p.email.into(),
        ])?;
        n += 1;
        Ok(())
    })?;
    if let Some(rec) = w.finish()? {
        ctx.say(format!(
            "{}: {n} 名を書き出しました（個人情報の複製として記録しました）",
            out.display()
        ));
        ctx.detail.file(rec);
    }
    ctx.detail.count("participants", n);
    Ok(())
}
