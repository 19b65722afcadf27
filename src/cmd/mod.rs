//! One file per subcommand: each wires sheet reading, validation, the database and
//! outputs together, and holds no parsing or scoring of its own. [`Ctx`] is what they
//! share: the database, the program, and the designated handler running the command.

pub mod audit;
pub mod batches;
pub mod cards;
pub mod closeout;
pub mod demo;
pub mod encrypt;
pub mod handlers;
pub mod init;
pub mod labels;
pub mod orders;
pub mod points;
pub mod prizes;
pub mod quality;
pub mod report;
pub mod roster;
pub mod ship;
pub mod status;
pub mod steps;
pub mod survey;
pub mod template;
pub mod verify;

use crate::cli::Cli;
use crate::{db, now, program, usage};
use anyhow::{bail, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// What every command that touches the data works with: the database, the program, the
/// designated handler running it, and the audit detail it fills in.
pub struct Ctx {
    pub conn: Connection,
    pub program: program::Program,
    pub operator: String,
    pub db_path: PathBuf,
    pub quiet: bool,
    pub detail: crate::audit::Detail,
    /// Set when the command already wrote its audit entry inside its own transaction
    /// (an import: the entry commits with the batch, so no batch is ever unrecorded).
    pub recorded: bool,
    /// The database key, from the operator's key slot (`handlers add` wraps it anew).
    pub db_key: crate::keys::DbKey,
}

impl Ctx {
    /// Open the database and check the operator against the program's handlers. A
    /// stranger is refused (exit 1), and the refusal is itself recorded.
    pub fn open(cli: &Cli, command: &str) -> Result<Ctx> {
        crate::closeout::state::refuse_if_in_progress(&cli.db)?;
        let Some(given) = cli
            .operator
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Err(usage(
                "操作者が指定されていません。--operator \"氏名\" か環境変数 STEPCARD_OPERATOR で、\
                 プログラムファイルの取扱者を指定してください (no operator given)",
            ));
        };
        // The handler proves who they are: their password opens their key slot, which
        // holds the database key. A refusal is noted in the key file and written to the
        // audit log at the next successful open (the log is inside the database).
        db::preflight(&cli.db)?;
        let unlocked = crate::keys::unlock_for(&cli.db, given, cli.password_file.as_deref())?;
        let conn = db::open(&cli.db, Some(&unlocked.key))?;
        // A close-out under way is recorded in the database itself: through any path
        // (a symlink to it, say), nothing else may change what was packaged.
        if let Some(v) = db::meta_get(&conn, db::META_CLOSEOUT)? {
            let at = v.split('\t').next().unwrap_or_default().to_string();
            let here = std::fs::canonicalize(&cli.db).unwrap_or_else(|_| cli.db.clone());
            if !(command == "close-out" && Path::new(&at) == here) {
                bail!(
                    "{}: このデータベースは契約終了の手続き（close-out）が途中です（{at} として開始）。データは変更できません。\
                     `stepcard --db {at} close-out …` をもう一度実行して終わらせてください \
                     (a close-out of this database is in progress under another path)",
                    cli.db.display()
                );
            }
        }
        record_refusals(&conn, &unlocked)?;
        crate::keys::settle(&cli.db, &unlocked)?;
        // The handlers come from the stored program: one changed outside the tool (a
        // forged handler) is not trusted.
        if let Some(why) = crate::audit::program_changed(&conn)? {
            bail!("{why}。取扱責任者に報告してください");
        }
        let program = load_program(&conn)?;
        let Some(handler) = program.handler(given) else {
            let mut d = crate::audit::Detail {
                status: crate::keys::REFUSED_STRANGER.into(),
                ..Default::default()
            };
            d.arg("command", command);
            crate::audit::append(&conn, &now(), given, command, &d)?;
            bail!(
                "{given} さんは取扱者として指定されていません。データを扱えるのは指定された取扱者だけです \
                 (契約の特記事項; not a designated handler). 指定されている取扱者: {}",
                handler_list(&program)
            );
        };
        let operator = handler.name.clone();
        Ok(Ctx {
            conn,
            program,
            operator,
            db_path: cli.db.clone(),
            quiet: cli.quiet,
            detail: crate::audit::Detail::default(),
            recorded: false,
            db_key: unlocked.key,
        })
    }

    /// A line for the operator on stderr (stdout is kept for data).
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                crate::output::terminal_safe(msg.as_ref())
            );
        }
    }

    /// Write this command's audit entry.
    pub fn record(&mut self, command: &str, status: &str) -> Result<i64> {
        self.detail.status = status.to_string();
        crate::audit::append(&self.conn, &now(), &self.operator, command, &self.detail)
    }
}

/// While alive, every file the tool writes in this command is first recorded as pending
/// in the hash chain (the file writer calls back through a second handle on the
/// command's connection, so the record joins an open transaction); the command's own
/// entry settles it with its SHA-256. Dropped before the [`Ctx`] it was made from.
pub struct CopyRecorder(());

impl Drop for CopyRecorder {
    fn drop(&mut self) {
        crate::output::set_recorder(None);
    }
}

impl Ctx {
    /// Record every file this command writes as pending before it exists, and refuse an
    /// output onto the database, its sidecars or one of `inputs`.
    pub fn record_copies(&self, command: &str, inputs: &[PathBuf]) -> Result<CopyRecorder> {
        let alias = db::alias(&self.conn)?;
        let operator = self.operator.clone();
        let command = command.to_string();
        let mut protected: Vec<PathBuf> = Vec::new();
        let real = std::fs::canonicalize(&self.db_path).unwrap_or_else(|_| self.db_path.clone());
        for db in [&self.db_path, &real] {
            protected.extend(
                crate::closeout::erase::db_files(db)
                    .into_iter()
                    .map(|(p, _)| p),
            );
            protected.push(crate::closeout::state::path_for(db));
            protected.push(crate::keys::path_for(db));
        }
        protected.extend(inputs.iter().cloned());
        crate::output::set_recorder(Some(Box::new(move |ev| {
            let mut d = crate::audit::Detail::default();
            match ev {
                crate::output::CopyEvent::Pending(path) => {
                    d.status = crate::audit::COPY_PENDING.into();
                    d.arg("path", path);
                    d.arg("purpose", command.as_str());
                }
                crate::output::CopyEvent::NotWritten(path, why) => {
                    d.status = crate::audit::COPY_NOT_WRITTEN.into();
                    d.arg("path", path);
                    d.arg("reason", why);
                }
            }
            crate::audit::append(&alias, &now(), &operator, &command, &d)?;
            Ok(())
        })));
        crate::output::protect(&protected);
        Ok(CopyRecorder(()))
    }
}

/// The refusals noted in the key file since the last successful open, now that the
/// audit log can be written: one entry each, under the name that was given, with the OS
/// user and time of the attempt.
pub fn record_refusals(conn: &Connection, u: &crate::keys::Unlocked) -> Result<()> {
    for r in &u.refusals {
        let mut d = crate::audit::Detail {
            status: r.reason.clone(),
            os_user: r.os_user.clone(),
            ..Default::default()
        };
        d.arg("attempted_at", r.at.as_str());
        crate::audit::append(conn, &now(), &r.operator, "open", &d)?;
    }
    if u.refusals_dropped > 0 {
        let mut d = crate::audit::Detail {
            status: "refusals not listed".into(),
            ..Default::default()
        };
        d.count("refusals", u.refusals_dropped);
        crate::audit::append(conn, &now(), "", "open", &d)?;
    }
    Ok(())
}

fn handler_list(program: &program::Program) -> String {
    program
        .handlers
        .iter()
        .map(|h| format!("{}（{}）", h.name, h.role.as_ja()))
        .collect::<Vec<_>>()
        .join("、")
}

pub fn load_program(conn: &Connection) -> Result<program::Program> {
    let Some(text) = db::meta_get(conn, "program_toml")? else {
        bail!("データベースにプログラムがありません (no program stored; was init completed?)");
    };
    program::Program::load_stored(&text, "stored program")
}

impl Ctx {
    /// What an import needs of this command's context.
    pub fn session(&mut self) -> crate::import::Session<'_> {
        crate::import::Session {
            conn: &mut self.conn,
            program: &self.program,
            operator: &self.operator,
            quiet: self.quiet,
            detail: &mut self.detail,
            recorded: &mut self.recorded,
        }
    }
}

impl Ctx {
    /// Who keyed a file (`--keyed-by`): a designated handler of the program, by the name
    /// the program gives; the operator when not given.
    pub fn keyer(&self, given: Option<&str>) -> Result<String> {
        let Some(name) = given.map(str::trim) else {
            return Ok(self.operator.clone());
        };
        match self.program.handler(name) {
            Some(h) => Ok(h.name.clone()),
            None => bail!(
                "--keyed-by「{name}」は取扱者として指定されていません。入力した人はプログラムファイルの取扱者から指定してください。\
                 何も変えていません (not a designated handler). 指定されている取扱者: {}",
                handler_list(&self.program)
            ),
        }
    }
}
