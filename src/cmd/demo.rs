//! `demo --out DIR`: the whole pipeline on the sample data bundled in the binary (the
//! files of `examples/`), writing every artifact to DIR. A newcomer's first command.

use crate::cli::Cli;
use anyhow::{bail, Context, Result};
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
    ("orders.csv", include_bytes!("../../examples/orders.csv")),
    ("survey.csv", include_bytes!("../../examples/survey.csv")),
    (
        "steps_verify_a.csv",
        include_bytes!("../../examples/steps_verify_a.csv"),
    ),
    (
        "steps_verify_b.xlsx",
        include_bytes!("../../examples/steps_verify_b.xlsx"),
    ),
    (
        "steps_verify_b_fixed.xlsx",
        include_bytes!("../../examples/steps_verify_b_fixed.xlsx"),
    ),
];

const MARKER: &str = ".stepcard-demo";
/// The demo's handler password, in its output folder.
const PASSWORD_FILE: &str = "demo-password.txt";
/// The close-out runs on a database of its own in this subfolder, so the artifacts of
/// the main run stay in DIR to be looked at.
const CLOSE_OUT_DIR: &str = "close-out";

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
    for suffix in ["", "-wal", "-shm", "-journal", ".closeout.json", ".keys"] {
        let p = out.join(format!("stepcard.db{suffix}"));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    if out.join(MARKER).exists() && out.join(CLOSE_OUT_DIR).is_dir() {
        std::fs::remove_dir_all(out.join(CLOSE_OUT_DIR))?;
    }
    crate::output::write_bytes(&out.join(MARKER), b"stepcard demo output\n")?;
    for (name, bytes) in INPUTS {
        crate::output::write_bytes(&out.join("input").join(name), bytes)?;
    }
    let operator = "山田 太郎";
    // The handler's password (it wraps the database key): a random one in a file of
    // its own, owner-only, which every step reads as `--password-file` would.
    let password_file = out.join(PASSWORD_FILE);
    let mut pw = [0u8; 12];
    getrandom::fill(&mut pw).map_err(|e| anyhow::anyhow!("乱数を得られません: {e}"))?;
    crate::output::write_bytes(
        &password_file,
        format!("{}\n", crate::keys::hex(&pw)).as_bytes(),
    )?;
    if !cli.quiet {
        eprintln!(
            "デモ用の取扱者パスワードを {} に書きました（所有者だけが読めるファイル）。このフォルダのデータベースを\
             自分で操作するときは --password-file {} を付けてください \
             (the demo's handler password is in this file; pass it as --password-file)",
            password_file.display(),
            password_file.display()
        );
    }
    let o = |p: &str| out.join(p).display().to_string();
    let step_on = |db: &Path, title: &str, args: &[&str], expect_ok: bool| -> Result<()> {
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
        argv.push("--password-file".into());
        argv.push(password_file.display().to_string());
        if cli.quiet {
            argv.push("--quiet".into());
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        let sub = crate::cli::help::parse_from(&argv)
            .map_err(|e| anyhow::anyhow!("demo: {}", crate::cli::help::japanese(&e)))?;
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
    let step = |title: &str, args: &[&str], expect_ok: bool| step_on(&db, title, args, expect_ok);
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
        "入力用シート: 6月の台紙型シートを2回入力用に2ファイル（参加者番号入り、ない日・期間外は灰色、入力規則つき） (template)",
        &["template", "--month", "2025-06", "--out", &o("6月入力.xlsx"), "--copies", "2"],
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
    step(
        "ベリファイ: 同じ台紙を2人が入力（1回目は縦型 CSV、2回目は台紙型 Excel）。表記の違いは一致、\
         1か所の打ち間違いが不一致として照合結果に出る (double-entry verification finds the one real discrepancy)",
        &[
            "steps",
            "verify",
            &o("input/steps_verify_a.csv"),
            &o("input/steps_verify_b.xlsx"),
            "--out",
            &o("verify_report.xlsx"),
            "--import",
            "--keyed-by",
            "山田 太郎",
            "--keyed-by",
            "佐藤 花子",
        ],
        false,
    )?;
    step(
        "台紙を見て2回目を直し、もう一度ベリファイ: 一致したので1回目をベリファイ済みとして取り込む \
         (after the correction the keyings agree; the first is imported as a verified batch)",
        &[
            "steps",
            "verify",
            &o("input/steps_verify_a.csv"),
            &o("input/steps_verify_b_fixed.xlsx"),
            "--out",
            &o("verify_report_fixed.xlsx"),
            "--import",
            "--keyed-by",
            "山田 太郎",
            "--keyed-by",
            "佐藤 花子",
        ],
        true,
    )?;
    step(
        "入力品質: 入力者別・項目別の誤り率（不一致は後の取込みで誤った側が確定） (who keyed what: quality)",
        &["quality", "--out", &o("入力品質.xlsx")],
        true,
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
        "ポイントと残高を書き出す (points)",
        &["points", "--out", &o("points.xlsx")],
        true,
    )?;
    step(
        "景品の申込みを取り込む: CP932、和暦の申込日、却下はお知らせ用の一覧に (orders import)",
        &[
            "orders",
            "import",
            &o("input/orders.csv"),
            "--errors",
            &o("orders_report.xlsx"),
        ],
        true,
    )?;
    step("景品の在庫と受付数 (prizes)", &["prizes"], true)?;
    step(
        "一人の明細: 日ごとのポイント・ボーナス・申込み (points --detail)",
        &[
            "points",
            "--participant",
            "C000007",
            "--detail",
            "--out",
            &o("points_detail.xlsx"),
        ],
        true,
    )?;
    step(
        "申込みのあとで歩数の取込みを取り消そうとすると: 使ったポイントを下回る参加者を挙げて拒否 (batches undo refused)",
        &["batches", "undo", "2"],
        false,
    )?;
    step(
        "発送を確かめる: 送り状データの事前検査だけ (ship --dry-run)",
        &[
            "ship",
            "--dry-run",
            "--format",
            "yamato-b2",
            "--out",
            &o("shipment_1_b2.csv"),
        ],
        true,
    )?;
    step(
        "発送: 受付済みの申込みを発送 1 にまとめ、郵便番号順の発送リストを書き出す (ship)",
        &["ship", "--out", &o("shipment_1.xlsx")],
        true,
    )?;
    step(
        "もう一度 ship: 同じ申込みは二度と発送されない (nothing to ship)",
        &["ship", "--out", &o("shipment_2.xlsx")],
        true,
    )?;
    step(
        "発送 1 をヤマト B2クラウド取込み用 CSV (CP932) で書き出し直す (ship --reprint)",
        &[
            "ship",
            "--reprint",
            "1",
            "--format",
            "yamato-b2",
            "--out",
            &o("shipment_1_b2.csv"),
        ],
        true,
    )?;
    step(
        "発送 1 の宛名ラベルを PDF で: ラベル用紙の位置どおりに印刷 (labels --out .pdf)",
        &[
            "labels",
            "--shipment",
            "1",
            "--out",
            &o("labels_shipment_1.pdf"),
        ],
        true,
    )?;
    step(
        "発送 1 の宛名ラベル: A4 12面 (labels --shipment)",
        &[
            "labels",
            "--shipment",
            "1",
            "--out",
            &o("labels_shipment_1.xlsx"),
        ],
        true,
    )?;
    step(
        "参加案内の宛名ラベル: 台紙の参加者、郵送を記録 (labels --guidance)",
        &["labels", "--guidance", "--out", &o("labels_guidance.xlsx")],
        true,
    )?;
    step(
        "参加案内に同封する記録台紙: 参加者番号と QR コード入り、送付を記録 (cards)",
        &["cards", "--out", &o("台紙.pdf")],
        true,
    )?;
    step(
        "もう一度 --guidance: 送付済みの人には送らない (nobody mailed twice)",
        &[
            "labels",
            "--guidance",
            "--out",
            &o("labels_guidance_again.xlsx"),
        ],
        true,
    )?;
    step(
        "アンケートを取り込む: CP932、事前・事後、回答は番号でも言葉でも (survey import)",
        &["survey", "import", &o("input/survey.csv")],
        true,
    )?;
    step(
        "評価報告書を書き出す: 集計値だけ、5人未満は＊ (report)",
        &["report", "--out", &o("evaluation.xlsx")],
        true,
    )?;
    step(
        "監査ログを検証する (audit verify)",
        &["audit", "verify"],
        true,
    )?;
    step(
        "取扱状況報告書を書き出す: 操作記録・複製記録・保有件数 (audit --out)",
        &["audit", "--out", &o("取扱状況報告.xlsx")],
        true,
    )?;
    // Contract end, on a database of its own in close-out/ (the main run's artifacts
    // stay in DIR to be looked at): the samples imported, one export, then the
    // close-out. The sample sheets are still in close-out/input/: the close-out names
    // them and issues no certificate, as it would for a real operator who kept the
    // source files; run again with --erase-inputs, it erases them and ends.
    let cdir = out.join(CLOSE_OUT_DIR);
    let cdb = cdir.join("stepcard.db");
    std::fs::create_dir_all(cdir.join("input"))?;
    const CLOSE_OUT_INPUTS: [&str; 3] = ["program.toml", "roster.csv", "steps_card.xlsx"];
    for (name, bytes) in INPUTS.iter().filter(|(n, _)| CLOSE_OUT_INPUTS.contains(n)) {
        crate::output::write_bytes(&cdir.join("input").join(name), bytes)?;
    }
    let c = |p: &str| cdir.join(p).display().to_string();
    let program = crate::program::Program::parse(
        std::str::from_utf8(INPUTS[0].1).unwrap_or_default(),
        "examples/program.toml",
    )?;
    let contract = program.program.contract_no.clone();
    step_on(
        &cdb,
        "契約終了の準備: close-out/ に別のデータベースを作り、名簿と歩数を取り込み、名簿を書き出す (a second database for the close-out)",
        &["init", "--program", &c("input/program.toml")],
        true,
    )?;
    step_on(
        &cdb,
        "名簿 (roster import)",
        &["roster", "import", &c("input/roster.csv")],
        true,
    )?;
    step_on(
        &cdb,
        "歩数 (steps import)",
        &[
            "steps",
            "import",
            &c("input/steps_card.xlsx"),
            "--all-sheets",
        ],
        true,
    )?;
    step_on(
        &cdb,
        "名簿の書き出し: 消去の対象になる複製 (roster export)",
        &["roster", "export", "--out", &c("roster_export.xlsx")],
        true,
    )?;
    let return_dir = c("return");
    let close_out = [
        "close-out",
        "--return-dir",
        &return_dir,
        "--confirm",
        &contract,
        "--erase-exports",
    ];
    step_on(
        &cdb,
        "契約終了: 返還データ・消去・検査。取り込んだ元のファイルが input/ に残っているため、名前を挙げて止まり証明書は出ない \
         (close-out: the source sheets left in input/ stop it, each named)",
        &close_out,
        false,
    )?;
    let mut again = close_out.to_vec();
    again.push("--erase-inputs");
    step_on(
        &cdb,
        "契約終了をもう一度 (--erase-inputs): 取り込んだときと同じ内容の元のファイルを消去し、検査から続け、消去記録と消去証明書を書く \
         (close-out resumes, erases the source sheets as imported, and finishes)",
        &again,
        true,
    )?;
    let (pkg, rec, _) = crate::closeout::file_names(&contract);
    step_on(
        &cdb,
        "返還データを消去記録と照合する (close-out --verify)",
        &[
            "close-out",
            "--verify",
            &c(&format!("return/{rec}")),
            "--package",
            &c(&format!("return/{pkg}")),
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
