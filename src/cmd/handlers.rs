//! `handlers add NAME | passwd | remove NAME | list`: each designated handler's own
//! password wraps the database key in a key slot (`crate::keys`). Adding and removing
//! is the responsible handler's; each handler changes their own password. Every change
//! is in the audit log (the command's entry names the handler whose slot changed).

use crate::cli::HandlersCmd;
use crate::cmd::Ctx;
use crate::keys;
use crate::program::Role;
use anyhow::{bail, Result};

pub fn run(ctx: &mut Ctx, c: &HandlersCmd) -> Result<()> {
    let Some(mut kf) = keys::load(&ctx.db_path)? else {
        bail!("鍵ファイルがありません (no key file)");
    };
    match c {
        HandlersCmd::Add {
            name,
            new_password_file,
        } => {
            responsible_only(ctx, "add")?;
            let Some(h) = ctx.program.handler(name) else {
                bail!(
                    "{name} さんはプログラムファイルの取扱者ではありません。[[handlers]] に載っている方だけを登録できます \
                     (not a designated handler)"
                );
            };
            let name = h.name.clone();
            if kf.slot(&name).is_some() {
                bail!(
                    "{name} さんのパスワードは登録済みです。変更は本人が `stepcard handlers passwd` で行います \
                     (already has a key slot)"
                );
            }
            let pw = keys::read_new_password(new_password_file.as_deref(), &name)?;
            kf.put(&name, &pw, &ctx.db_key)?;
            keys::save(&ctx.db_path, &kf)?;
            ctx.detail.arg("handler", name.as_str());
            ctx.say(format!(
                "{name} さんのパスワードを登録しました。本人に --password-file か端末の入力で使ってもらってください (key slot added)"
            ));
        }
        HandlersCmd::Passwd { new_password_file } => {
            let name = ctx.operator.clone();
            let pw = keys::read_new_password(new_password_file.as_deref(), &name)?;
            kf.put(&name, &pw, &ctx.db_key)?;
            keys::save(&ctx.db_path, &kf)?;
            ctx.detail.arg("handler", name.as_str());
            ctx.say(format!(
                "{name} さんのパスワードを変更しました。以前のパスワードではもう開けません (password changed)"
            ));
        }
        HandlersCmd::Remove { name } => {
            responsible_only(ctx, "remove")?;
            let name = ctx
                .program
                .handler(name)
                .map(|h| h.name.clone())
                .unwrap_or_else(|| name.clone());
            if crate::program::handler_key(&name) == crate::program::handler_key(&ctx.operator) {
                bail!(
                    "取扱責任者自身のパスワードは削除できません（誰も登録できなくなるため）。変更は `stepcard handlers passwd` で行います \
                     (the responsible handler's own slot cannot be removed)"
                );
            }
            if !kf.remove(&name) {
                bail!("{name} さんのパスワードは登録されていません (no key slot for this name)");
            }
            keys::save(&ctx.db_path, &kf)?;
            ctx.detail.arg("handler", name.as_str());
            ctx.say(format!(
                "{name} さんのパスワードを削除しました。{name} さんはもうデータを開けません (key slot removed)"
            ));
        }
        HandlersCmd::List => {
            println!("取扱者\t役割\tパスワード登録\t登録日時\t鍵導出");
            for h in &ctx.program.handlers {
                match kf.slot(&h.name) {
                    Some(s) => println!(
                        "{}\t{}\tあり\t{}\t{} m={}KiB t={} p={}",
                        h.name,
                        h.role.as_ja(),
                        s.created_at,
                        s.kdf.algorithm,
                        s.kdf.m_kib,
                        s.kdf.t,
                        s.kdf.p
                    ),
                    None => println!("{}\t{}\tなし\t\t", h.name, h.role.as_ja()),
                }
            }
            ctx.detail.count("handlers", kf.slots.len() as u64);
        }
    }
    Ok(())
}

fn responsible_only(ctx: &Ctx, what: &str) -> Result<()> {
    match ctx.program.handler(&ctx.operator) {
        Some(h) if h.role == Role::Responsible => Ok(()),
        _ => bail!(
            "パスワードの登録・削除（handlers {what}）は取扱責任者（{}）だけが行えます \
             (only the responsible handler may add or remove key slots)",
            ctx.program
                .responsible()
                .map(|h| h.name.as_str())
                .unwrap_or("")
        ),
    }
}
