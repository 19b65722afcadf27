//! `demo --out DIR`: the whole pipeline on the sample data bundled in the binary (the
//! files of `examples/`), writing every artifact to DIR. A newcomer's first command.

use crate::cli::Cli;
use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::Path;

/// The sample inputs, bundled so the demo runs from any folder.
const INPUTS: &[(&str, &[u8])] = &[
    (
        "program.toml",
        include_bytes!("../../examples/program.toml"),
    ),
    ("roster.csv", include_bytes!("../../examples/roster.csv")),
    (
        "steps_card.xlsx",
        include_bytes!("../../examples/steps_card.xlsx"),
    ),
    (
        "steps_long.csv",
        include_bytes!("../../examples/steps_long.csv"),
    ),
    (
        "steps_bad.csv",
        include_bytes!("../../examples/steps_bad.csv"),
    ),
];

const MARKER: &str = ".stepcard-demo";
const RETURN_DIR: &str = "return";

pub fn run(cli: &Cli, out: &Path) -> Result<()> {
    let db = out.join("stepcard.db");
    if db.exists() && !out.join(MARKER).exists() {
        bail!(
            "{}: このフォルダには demo 以外のデータベースがあります。別の --out を指定してください",
            out.display()
        );
    }
    std::fs::create_dir_all(out.join("input"))
        .with_context(|| format!("{}: フォルダを作れません", out.display()))?;
    // A previous demo's database, close-out state and return folder are the demo's
    // own: start again from nothing.
    for suffix in ["", "-wal", "-shm", "-journal", ".closeout.json"] {
        let p = out.join(format!("stepcard.db{suffix}"));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    if out.join(MARKER).exists() && out.join(RETURN_DIR).is_dir() {
        std::fs::remove_dir_all(out.join(RETURN_DIR))?;
    }
    crate::output::write_bytes(&out.join(MARKER), b"stepcard demo output\n")?;
    for (name, bytes) in INPUTS {
        crate::output::write_bytes(&out.join("input").join(name), bytes)?;
    }
    let operator = "山田 太郎";
    let o = |p: &str| out.join(p).display().to_string();
    let step = |title: &str, args: &[&str], expect_ok: bool| -> Result<()> {
        if !cli.quiet {
            eprintln!("\n== {title}\n$ stepcard {}", args.join(" "));
        }
        let mut argv = vec![
            "stepcard".to_string(),
            "--db".into(),
            db.display().to_string(),
        ];
        argv.push("--operator".into());
        argv.push(operator.into());
        if cli.quiet {
            argv.push("--quiet".into());
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        let sub = Cli::try_parse_from(&argv).map_err(|e| anyhow::anyhow!("demo: {e}"))?;
        match (crate::run(sub), expect_ok) {
            (Ok(()), true) => Ok(()),
            (Err(e), false) => {
                if !cli.quiet {
                    eprintln!("error: {e:#}\n(想定どおり拒否されました: the demo shows this refusal on purpose)");
                }
                Ok(())
            }
            (Ok(()), false) => bail!("demo: 「{title}」は拒否されるはずでした"),
            (Err(e), true) => Err(e.context(format!("demo: 「{title}」"))),
        }
    };
    step(
        "データベースを作る (init)",
        &["init", "--program", &o("input/program.toml")],
        true,
    )?;
    step(
        "名簿を取り込む: CP932 の CSV、見出しの上にタイトル行 (roster import)",
        &["roster", "import", &o("input/roster.csv")],
        true,
    )?;
    step(
        "台紙型の Excel ブックを取り込む: 月ごとのシート、全角・カンマ付きの数字 (steps import, card layout)",
        &["steps", "import", &o("input/steps_card.xlsx"), "--all-sheets"],
        true,
    )?;
    step(
        "縦型の CSV を取り込む: UTF-8 (BOM)、和暦の日付 (steps import, long layout)",
        &["steps", "import", &o("input/steps_long.csv")],
        true,
    )?;
    step(
        "同じファイルをもう一度: 何も変わらない (idempotent re-import)",
        &["steps", "import", &o("input/steps_long.csv")],
        true,
    )?;
    step(
        "誤りのあるシート: 全体を拒否し、誤りの一覧を書き出す (a refused sheet and its error report)",
        &["steps", "import", &o("input/steps_bad.csv"), "--errors", &o("errors_steps_bad.xlsx")],
        false,
    )?;
    step("取込みの一覧 (batches list)", &["batches", "list"], true)?;
    step(
        "名簿を書き出す (roster export)",
        &["roster", "export", "--out", &o("roster_export.xlsx")],
        true,
    )?;
    step(
        "歩数を書き出す (steps export)",
        &["steps", "export", "--out", &o("steps_export.csv")],
        true,
    )?;
    step(
        "監査ログを検証する (audit verify)",
        &["audit", "verify"],
        true,
    )?;
    // Contract end. The sample sheets imported above are still in input/: the remnant
    // scan finds them and no certificate is issued, as it would be for a real operator
    // who kept the municipality's source files. Erased, the close-out resumes and ends.
    let program = crate::program::Program::parse(
        std::str::from_utf8(INPUTS[0].1).unwrap_or_default(),
        "examples/program.toml",
    )?;
    let contract = program.program.contract_no.clone();
    let close_out = [
        "close-out",
        "--return-dir",
        &o(RETURN_DIR),
        "--confirm",
        &contract,
        "--erase-exports",
    ];
    step(
        "契約終了: 返還データ・消去・検査。取り込んだ元のファイルが input/ に残っているため、検査で見つかり証明書は出ない \
         (close-out: the source sheets left in input/ are found by the remnant scan)",
        &close_out,
        false,
    )?;
    if !cli.quiet {
        eprintln!(
            "\n== 取り込んだ元のファイル（名簿・歩数シート）を消去する (erase the source sheets)"
        );
    }
    for (name, _) in INPUTS.iter().filter(|(n, _)| *n != "program.toml") {
        let p = out.join("input").join(name);
        if p.exists() {
            crate::closeout::erase::overwrite_and_remove(&p)?;
        }
    }
    step(
        "契約終了をもう一度: 検査から続け、消去記録と消去証明書を書く (close-out resumes at the scan and finishes)",
        &close_out,
        true,
    )?;
    let (pkg, rec, _) = crate::closeout::file_names(&contract);
    step(
        "返還データを消去記録と照合する (close-out --verify)",
        &[
            "close-out",
            "--verify",
            &o(&format!("{RETURN_DIR}/{rec}")),
            "--package",
            &o(&format!("{RETURN_DIR}/{pkg}")),
        ],
        true,
    )?;
    if !cli.quiet {
        eprintln!(
            "\nデモが終わりました。出力: {} (demo finished)",
            out.display()
        );
    }
    Ok(())
}
