//! The test harness: run the real binary in a temporary folder, the way an operator
//! types commands, then read results back (the database, written files).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const OPERATOR: &str = "山田 太郎";
/// Every handler's password in the tests (in a password file outside the test's
/// folder, given through STEPCARD_PASSWORD_FILE).
pub const PASSWORD: &str = "テスト用パスワード-42";
pub const PROGRAM: &str = include_str!("../../examples/program.toml");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A scratch folder with a database path; `init` is not run until asked.
pub struct Env {
    pub dir: tempfile::TempDir,
    /// Holds the password file, apart from the data (the close-out scans `dir`).
    pub secrets: tempfile::TempDir,
}

/// What a command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn refused(self) -> Run {
        assert_eq!(
            self.code, 1,
            "expected exit 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn usage(self) -> Run {
        assert_eq!(
            self.code, 2,
            "expected exit 2\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

impl Env {
    pub fn new() -> Env {
        let secrets = tempfile::tempdir().expect("tempdir");
        let pw = secrets.path().join("password.txt");
        std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            secrets,
        }
    }

    /// The password file every command of this test reads.
    pub fn password_file(&self) -> PathBuf {
        self.secrets.path().join("password.txt")
    }

    /// A fresh database made from the sample program (the responsible handler's key
    /// slot only, as `init` leaves it).
    pub fn init() -> Env {
        let e = Env::new();
        e.write("program.toml", PROGRAM);
        e.run(&["init", "--program", "program.toml"]).ok();
        e
    }

    /// Give a designated handler a key slot (the same test password), as the
    /// responsible handler does with `handlers add`.
    pub fn add_handler(&self, name: &str) {
        let pw = self.password_file();
        self.run(&["handlers", "add", name, "--new-password-file", s(&pw)])
            .ok();
    }

    /// A fresh database with the sample roster imported (from a copy: a close-out with
    /// `--erase-inputs` erases what was imported, never the repository's samples).
    pub fn with_roster() -> Env {
        let e = Env::init();
        let roster = e.sample("roster.csv");
        e.run(&["roster", "import", &roster]).ok();
        e
    }

    /// A copy of the sample `name` in this folder (`samples/NAME`), as a path to import.
    pub fn sample(&self, name: &str) -> String {
        let dir = self.path("samples");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::copy(example(name), &p).unwrap();
        p.display().to_string()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("stepcard.db")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Write text as CP932 (Shift_JIS as Excel saves it).
    pub fn write_cp932(&self, name: &str, text: &str) -> PathBuf {
        let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!bad, "test text not encodable in CP932");
        self.write_bytes(name, &bytes)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepcard"));
        c.current_dir(self.dir.path())
            .env("STEPCARD_DB", self.db())
            .env("STEPCARD_OPERATOR", OPERATOR)
            .env("STEPCARD_PASSWORD_FILE", self.password_file())
            // Argon2id at a cheap cost (recorded in each slot): the suite opens the
            // database thousands of times.
            .env("STEPCARD_TEST_CHEAP_KDF", "1")
            .env_remove("STEPCARD_TEST_NO_ENCRYPTION")
            .env_remove("STEPCARD_NOW");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd().args(args).output().expect("run stepcard"))
    }

    pub fn run_as(&self, operator: &str, args: &[&str]) -> Run {
        Run::from(
            self.cmd()
                .env("STEPCARD_OPERATOR", operator)
                .args(args)
                .output()
                .expect("run stepcard"),
        )
    }

    /// The database opened directly (keyed with the database key from the test
    /// operator's slot, unless it is a plain database).
    pub fn conn(&self) -> rusqlite::Connection {
        open_keyed(&self.db())
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A steps value as stored, if any.
    pub fn steps(&self, pid: &str, date: &str) -> Option<i64> {
        use rusqlite::OptionalExtension;
        self.conn()
            .query_row(
                "SELECT steps FROM steps WHERE participant_id=?1 AND date=?2",
                [pid, date],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
    }
}

/// A database opened as the tests' operator would (the key from their slot).
pub fn open_keyed(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    if db.exists() && !stepcard::db::is_plaintext(db) {
        let slots = stepcard::keys::load(db).unwrap().expect("key file");
        let key = slots.unlock(OPERATOR, PASSWORD).unwrap().expect("password");
        stepcard::db::apply_key(&c, &key).unwrap();
    }
    c
}

/// Every cell of a sheet of a written workbook, as text rows.
pub fn read_xlsx(path: &Path, sheet: &str) -> Vec<Vec<String>> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(path).expect("open xlsx");
    let range = wb.worksheet_range(sheet).expect("sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => format!("{i}"),
                    Data::Bool(b) => format!("{b}"),
                    other => format!("{other}"),
                })
                .collect()
        })
        .collect()
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (cell, code) pairs of an `--errors` CSV report.
pub fn codes_at(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rdr =
        csv::ReaderBuilder::new().from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_string(), r[6].to_string())
        })
        .collect()
}

/// Run stepcard with extra environment variables (fault points, a fixed time).
pub fn run_env(e: &Env, envs: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = e.cmd();
    for (k, v) in envs {
        c.env(k, v);
    }
    Run::from(c.args(args).output().expect("run stepcard"))
}

/// The sample program's contract number, which `close-out --confirm` asks for.
pub const CONTRACT: &str = "R7-健-0123";

/// `close-out` into `ret/`, erasing the sheets the test imported (they are copies in the
/// test's folder, so they are erased as imported).
pub fn close_out(e: &Env, extra: &[&str]) -> Run {
    let mut args = vec![
        "close-out",
        "--return-dir",
        "ret",
        "--confirm",
        CONTRACT,
        "--erase-inputs",
    ];
    args.extend_from_slice(extra);
    e.run(&args)
}
