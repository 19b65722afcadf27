//! `encrypt --db OLD --out NEW`: a database as earlier builds wrote it (plain SQLite)
//! becomes an encrypted one. The responsible handler's password makes the first key
//! slot; the copy is compared with the old file table by table (row counts and a hash
//! of every row); only then is the old file erased as the close-out erases files. The
//! move is in the audit log, which travels with the data.

use crate::cli::Cli;
use crate::{audit, db, keys, now, program::Program};
use anyhow::{bail, Context, Result};
use std::path::Path;

pub fn run(cli: &Cli, out: &Path) -> Result<()> {
    let old = &cli.db;
    crate::closeout::state::refuse_if_in_progress(old)?;
    if !old.exists() {
        bail!(
            "{}: データベースがありません (no database here)",
            old.display()
        );
    }
    if !db::is_plaintext(old) {
        bail!(
            "{}: 暗号化されていないデータベースではありません（既に暗号化済みか、SQLite のファイルではありません）。変換は不要です \
             (not an unencrypted database)",
            old.display()
        );
    }
    if out.exists() || keys::path_for(out).exists() {
        bail!(
            "{}: 既にあります。上書きはしません。別の --out を指定してください (the output exists)",
            out.display()
        );
    }
    let conn = db::open(old, None)?;
    let text = db::meta_get(&conn, "program_toml")?
        .context("データベースにプログラムがありません (no program stored)")?;
    let program = Program::load_stored(&text, "stored program")?;
    let given = cli
        .operator
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            crate::usage(
                "操作者が指定されていません。--operator \"氏名\" で取扱責任者を指定してください (no operator given)",
            )
        })?;
    let operator = match program.handler(given) {
        Some(h) if h.role == crate::program::Role::Responsible => h.name.clone(),
        _ => bail!(
            "暗号化は取扱責任者（{}）が行います (only the responsible handler may run encrypt)",
            program.responsible().map(|r| r.name.as_str()).unwrap_or("")
        ),
    };
    let password = keys::read_new_password(cli.password_file.as_deref(), &operator)?;
    let key = keys::DbKey::random()?;
    let mut slots = keys::KeyFile::new(
        program.handlers.iter().map(|h| h.name.clone()).collect(),
        &key,
    );
    slots.put(&operator, &password, &key)?;

    crate::output::create_private(out).with_context(|| {
        format!(
            "{}: データベースを作れません (cannot create)",
            out.display()
        )
    })?;
    let copied = (|| -> Result<()> {
        db::cipher::export_encrypted(&conn, out, &key)?;
        keys::save(out, &slots)?;
        let new = db::open(out, Some(&key))?;
        let before = db::cipher::table_digests(&conn)?;
        let after = db::cipher::table_digests(&new)?;
        db::cipher::check_same(&before, &after, out)?;
        let mut d = audit::Detail {
            status: "ok".into(),
            ..Default::default()
        };
        d.arg("from", crate::output::FileRecord::path_of(old));
        for t in &before {
            d.count(&t.table, t.rows);
        }
        audit::append(&new, &now(), &operator, "encrypt", &d)?;
        Ok(())
    })();
    if let Err(e) = copied {
        // Nothing of the old file was touched; the half-made copy goes.
        for (p, _) in crate::closeout::erase::db_files(out) {
            if p.exists() {
                let _ = crate::closeout::erase::overwrite_and_remove(&p);
            }
        }
        let _ = std::fs::remove_file(keys::path_for(out));
        return Err(e);
    }
    drop(conn);
    let erased = crate::closeout::erase::erase_plain_database(old)?;
    if !cli.quiet {
        eprintln!(
            "{}: 暗号化したデータベースを作り、全テーブルの件数と内容を照合しました。{operator} さんのパスワードを登録しました。\
             元のデータベース（{} ファイル）は 0 で上書きして削除しました。以後は --db {} を使ってください \
             (encrypted copy made and verified; the old files were erased)",
            out.display(),
            erased.len(),
            out.display()
        );
    }
    Ok(())
}
