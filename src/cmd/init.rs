//! `init --program FILE`: check the program file, create the database (owner-only),
//! store the program in it, and write the first audit entry.

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
            Some(h) => h.name.clone(),
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
    let conn = db::create(&cli.db)?;
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
            "{}: 「{}」のデータベースを作りました（期間 {} 〜 {}、取扱者 {} 名） (database created)",
            cli.db.display(),
            program.program.name,
            program.program.start,
            program.program.end,
            program.handlers.len()
        );
    }
    Ok(())
}
