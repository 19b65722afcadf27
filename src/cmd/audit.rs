//! `audit verify`: recompute the audit log's hash chain and name the first broken entry.

use crate::cli::{AuditArgs, AuditCmd};
use crate::Ctx;
use anyhow::{bail, Result};

pub fn run(ctx: &mut Ctx, args: &AuditArgs) -> Result<()> {
    match args.action {
        Some(AuditCmd::Verify) | None => verify(ctx),
    }
}

fn verify(ctx: &mut Ctx) -> Result<()> {
    let v = crate::audit::verify(&ctx.conn)?;
    ctx.detail.count("entries", v.entries);
    if let Some((seq, why)) = v.broken {
        bail!("監査ログの検証に失敗しました: {why}。この記録以降は信頼できません (audit chain broken at entry {seq})");
    }
    println!(
        "監査ログ: {} 件、連鎖は正常です (audit chain intact)",
        v.entries
    );
    println!("先頭ハッシュ (head): {}", v.head);
    Ok(())
}
