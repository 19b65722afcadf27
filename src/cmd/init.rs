//! `init --program FILE`: check the program file, create the database (owner-only,
//! encrypted with a new random key from its first write), the responsible handler's key
//! slot (their password: `--password-file` or asked twice at the terminal), store the
//! program in it, and write the first audit entry.

use crate::cli::Cli;
use crate::{audit, db, program::Program};
use anyhow::{Context, Result};
use std::path::Path;

pub fn run(cli: &Cli, program_path: &Path) -> Result<()> {
    // A close-out in progress at this path would erase a database made now.
    crate::closeout::state::refuse_if_in_progress(&cli.db)?;
    let text = std::fs::read_to_string(program_path).with_context(|| {
        format!(
            "{}: プログラムファイルを読めません。場所と名前を確かめてください (cannot read the program file)",
            program_path.display()
        )
    })?;
    let program = Program::parse(&text, &program_path.display().to_string())?;
    let operator = match cli.operator.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => match program.handler(name) {
            Some(h) if h.role == crate::program::Role::Responsible => h.name.clone(),
            Some(h) => anyhow::bail!(
                "データベースを作るのは取扱責任者（{}）です。{} さんのパスワードは、作成後に取扱責任者が                  `stepcard handlers add` で登録します (init is the responsible handler's)",
                program.responsible().map(|r| r.name.as_str()).unwrap_or(""),
                h.name
            ),
            None => anyhow::bail!(
                "{name} さんはこのプログラムファイルの取扱者ではありません。[[handlers]] に載っている方が実行してください (not a designated handler)"
            ),
        },
        None => {
            return Err(crate::usage(
                "操作者が指定されていません。--operator \"氏名\" か環境変数 STEPCARD_OPERATOR で取扱者を指定してください (no operator given)",
            ))
        }
    };
    if cli.db.exists() {
        // db::create refuses it too; checked first so no key file is made for it.
        db::create(&cli.db, &crate::keys::DbKey::random()?)?;
    }
    let password = crate::keys::read_new_password(cli.password_file.as_deref(), &operator)?;
    let key = crate::keys::DbKey::random()?;
    let mut slots = crate::keys::KeyFile::new(
        program.handlers.iter().map(|h| h.name.clone()).collect(),
        &key,
    );
    slots.put(&operator, &password, &key)?;
    crate::keys::save(&cli.db, &slots)?;
    let conn = match db::create(&cli.db, &key) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(crate::keys::path_for(&cli.db));
            return Err(e);
        }
    };
    db::meta_set(&conn, "program_toml", &text)?;
    db::meta_set(&conn, "created_at", &crate::now())?;
    let mut d = audit::Detail {
        status: "ok".into(),
        ..Default::default()
    };
    d.files_read_push(
        &program_path.display().to_string(),
        &crate::output::sha256_hex(text.as_bytes()),
    );
    d.count("handlers", program.handlers.len() as u64);
    d.count("prizes", program.prizes.len() as u64);
    audit::append(&conn, &crate::now(), &operator, "init", &d)?;
    if !cli.quiet {
        eprintln!(
            "{}: 「{}」のデータベースを作りました（暗号化済み、期間 {} 〜 {}、取扱者 {} 名）。\
             {operator} さんのパスワードを登録しました（鍵ファイル {}）。他の取扱者は `stepcard handlers add 氏名` で登録してください \
             (database created, encrypted; key slots in the .keys file beside it)",
            cli.db.display(),
            program.program.name,
            program.program.start,
            program.program.end,
            program.handlers.len(),
            crate::keys::path_for(&cli.db).display()
        );
    }
    Ok(())
}
