//! Command-line interface: global options and one subcommand per job. The `///` comments
//! here are the `--help` text operators see.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// clap in Japanese: headings, help and version flags, examples, and clap's errors.
pub mod help;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "stepcard",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        "\n郵便番号データ (postal codes): ",
        include_str!("postal/snapshot.txt"),
        "\n"
    ),
    about = "健康ポイント事業（台紙）のデータ管理: 取込み・ポイント・景品・発送・報告・消去",
    long_about = "stepcard: 健康ポイント事業（台紙）のデータを一つのファイル（データベース）で扱う道具です。\n\
                  名簿と歩数シート（CSV・Excel）を取り込み、ポイント・景品の申込み・発送・宛名ラベル・\n\
                  評価報告書を作り、契約終了時にはデータを返還して消去し、消去証明書を作ります。\n\
                  終了コード: 0 完了、1 受け付けなかった（データ・状態・取扱者）、2 コマンドの指定の誤り。\n\
                  (An offline tool for municipal health point programs. Exit codes: 0 done, 1 refused, 2 usage.)",
    after_help = "例:\n  stepcard demo --out demo                       サンプルで全工程を試す\n  \
                  stepcard init --program program.toml          データベースを作る\n  \
                  stepcard roster import 名簿.csv               名簿を取り込む\n  \
                  stepcard steps import 6月分.xlsx              歩数シートを取り込む\n  \
                  stepcard status                               データベースの中身を見る\n\n\
                  各コマンドの使い方: stepcard <コマンド> --help"
)]
pub struct Cli {
    /// データベースファイル (the SQLite database)
    #[arg(
        long,
        global = true,
        env = "STEPCARD_DB",
        default_value = "stepcard.db"
    )]
    pub db: PathBuf,
    /// 操作者の氏名: プログラムファイルの取扱者であること (your name, as a designated handler)
    #[arg(long, global = true, env = "STEPCARD_OPERATOR")]
    pub operator: Option<String>,
    /// 進行表示と要約を出さない (no progress bar, no summary on stderr)
    #[arg(long, global = true)]
    pub quiet: bool,
    /// パスワードのファイル（1 行目）。省略時は端末で入力 (file whose first line is your password; else asked at the terminal)
    #[arg(
        long,
        global = true,
        env = "STEPCARD_PASSWORD_FILE",
        value_name = "FILE"
    )]
    pub password_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// データベースを作る (create the database from a program file)
    Init {
        /// プログラムファイル (program.toml)
        #[arg(long)]
        program: PathBuf,
    },
    /// 登録者名簿 (participants)
    #[command(subcommand)]
    Roster(RosterCmd),
    /// 歩数 (keyed step sheets)
    #[command(subcommand)]
    Steps(StepsCmd),
    /// 取込み単位 (every import is a batch: list, show, undo)
    #[command(subcommand)]
    Batches(BatchesCmd),
    /// ポイントと残高: 参加者ごとの記録日数・歩数・獲得・使用・残高 (per-participant points and balances)
    Points(PointsArgs),
    /// 景品の申込み (prize applications keyed from cards)
    #[command(subcommand)]
    Orders(OrdersCmd),
    /// 景品の一覧: 必要ポイント・在庫・受付数・残り (prizes: cost, stock, applied, left)
    Prizes {
        #[command(flatten)]
        format: FormatOpt,
    },
    /// データベースの中身の要約: 事業・期間・取扱者・件数・監査ログ・契約終了の状態 (what the database holds)
    #[command(after_help = "例: stepcard status\n    stepcard status --format json")]
    Status {
        #[command(flatten)]
        format: FormatOpt,
    },
    /// 発送: 受付済みで未発送の申込みを次の発送にまとめ、発送リストを書き出して発送済みにする (the next shipment: shipping list; marks the orders shipped)
    Ship(ShipArgs),
    /// 宛名ラベル: 発送分または参加案内の郵送分を A4 ラベル用紙に (mailing labels for a shipment or the guidance mailing)
    Labels(LabelsArgs),
    /// 記録台紙: 参加者ごとの A4 の台紙（参加者番号と QR コード、氏名、月ごとの記入欄、ポイントのしくみ、送付のしかた）を PDF に (pre-printed point cards)
    Cards(CardsArgs),
    /// 事前・事後アンケート (questionnaire answers)
    #[command(subcommand)]
    Survey(SurveyCmd),
    /// 評価報告書: 集計値だけ、5人未満は秘匿 (the evaluation report: aggregates only, small cells suppressed)
    Report(ReportArgs),
    /// 取扱状況報告と監査ログの検証 (handling-status report and audit-log verification)
    ///
    /// `audit` / `audit verify`: 監査ログのハッシュ連鎖を検証し、先頭ハッシュを表示します。
    /// 書換え・削除・入替えがあれば最初の記録の番号を示して終了コード 1。
    /// `audit --out 取扱状況報告.xlsx`: 取扱状況報告書（操作記録・複製記録・保有件数）。
    Audit(AuditArgs),
    /// 契約終了: 返還データ・消去・消去記録・消去証明書 (contract end: return package, erasure, erasure record, certificate)
    #[command(long_about = CLOSE_OUT_HELP)]
    CloseOut(CloseOutArgs),
    /// 入力用シート: 1か月分の台紙型（または縦型）の入力シートを参加者番号入りで書き出す (the entry workbook of one month, pre-filled)
    Template(TemplateArgs),
    /// 入力品質: 入力者別・項目別の入力セル数・不一致・誤り・誤り率と取込みの誤り (who keyed what: per-keyer error rates)
    Quality {
        /// 出力ファイル (.xlsx)。省略時は表を画面に出すだけ (omitted: the table on stdout only)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// 取扱者のパスワード（鍵）: 登録・変更・削除・一覧 (handlers' passwords: add, passwd, remove, list)
    #[command(subcommand)]
    Handlers(HandlersCmd),
    /// 暗号化されていない旧データベースを暗号化した複製に移し、照合の上で旧ファイルを消去する
    /// (convert an unencrypted database: copy, verify row by row, erase the old files)
    Encrypt {
        /// 新しい（暗号化した）データベース (the new encrypted database)
        #[arg(long, value_name = "NEW")]
        out: PathBuf,
    },
    /// サンプルデータで全工程を実行 (run the whole pipeline on bundled sample data)
    Demo {
        /// 出力フォルダ (every artifact is written here)
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum HandlersCmd {
    /// 取扱者のパスワードを登録する（取扱責任者のみ）(add a handler's key slot; responsible handler only)
    Add {
        /// プログラムファイルの取扱者の氏名 (a designated handler's name)
        name: String,
        /// 新しい取扱者のパスワードのファイル（1 行目）。省略時は端末で 2 回入力 (the new handler's password file)
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// 自分のパスワードを変更する (change your own password)
    Passwd {
        /// 新しいパスワードのファイル（1 行目）。省略時は端末で 2 回入力 (the new password file)
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// 取扱者のパスワードを削除する（取扱責任者のみ）(remove a handler's key slot; responsible handler only)
    Remove {
        /// 取扱者の氏名 (the handler's name)
        name: String,
    },
    /// 登録されているパスワード（鍵）の一覧 (list the key slots)
    List,
}

#[derive(Debug, Subcommand)]
pub enum RosterCmd {
    /// 名簿を取り込む (import participants)
    Import {
        /// 名簿ファイル (.csv .tsv .xlsx .xlsm .xls .ods)
        file: PathBuf,
        #[command(flatten)]
        opts: ImportOpts,
        /// 登録内容の変更を受け入れる（変更前は履歴に残す）(accept changed participants; old values kept)
        #[arg(long)]
        update: bool,
    },
    /// 名簿を書き出す (export participants in the roster layout)
    Export {
        /// 出力ファイル (.csv or .xlsx)
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum StepsCmd {
    /// 歩数シートを取り込む (import keyed step sheets; each file is one batch)
    Import {
        /// 歩数ファイル (.csv .tsv .xlsx .xlsm .xls .ods)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        opts: ImportOpts,
        /// シートの形式 (default: detected from the header)
        #[arg(long, value_enum)]
        layout: Option<LayoutArg>,
        /// 既にある値と違う値で置き換える（旧値は履歴に残す）(replace stored values; old kept in history)
        #[arg(long)]
        replace: bool,
        /// 入力した人（取扱者。既定は操作者）: 入力品質の集計に使う (who keyed the files: a designated handler; default the operator)
        #[arg(long, value_name = "NAME")]
        keyed_by: Option<String>,
    },
    /// 2回の入力を照合する（ベリファイ） (double-entry verification of two keyings of the same cards)
    Verify(VerifyArgs),
    /// 歩数を書き出す (export stored steps in the long layout)
    Export {
        /// この参加者だけ (only this participant)
        #[arg(long)]
        participant: Option<String>,
        /// 出力ファイル (.csv or .xlsx; omitted: CSV on stdout)
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `steps verify FIRST SECOND`: both keyings are read as `steps import` reads a sheet.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// 1回目の入力 (the first keying: .csv .tsv .xlsx .xlsm .xls .ods)
    pub first: PathBuf,
    /// 2回目の入力 (the second keying of the same cards, by another operator)
    pub second: PathBuf,
    /// 照合結果を書き出す (.xlsx: sheets per kind, differences highlighted; .csv: one table)
    #[arg(long, value_name = "REPORT")]
    pub out: Option<PathBuf>,
    /// 一致し誤りもないときだけ、1回目の入力をベリファイ済みとして取り込む (import the first keying when, and only when, they agree)
    #[arg(long)]
    pub import: bool,
    /// 読むシート名（両方のファイルに適用） (default: the first; applies to both files)
    #[arg(long, conflicts_with = "all_sheets")]
    pub sheet: Option<String>,
    /// 見出しのあるすべてのシートを読む（両方のファイル） (every sheet with a header, in both files)
    #[arg(long)]
    pub all_sheets: bool,
    /// CSV の文字コード (default: detected in each file)
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// この列を読まずに捨てる (drop this column unread; repeatable)
    #[arg(long = "ignore-column", value_name = "NAME")]
    pub ignore_column: Vec<String>,
    /// シートの形式 (default: detected from each file's header, so a card-layout keying can be checked against a long one)
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// 入力した人（取扱者）: 1回目、2回目の順に2回指定する（既定はどちらも操作者） (who keyed the first and the second file: give it twice; default the operator)
    #[arg(long = "keyed-by", value_name = "NAME", num_args = 1)]
    pub keyed_by: Vec<String>,
}

/// `--format table|csv|json` of the listings printed on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// 見やすく揃えた表 (aligned columns)
    Table,
    /// CSV（Excel・他のプログラム用）
    Csv,
    /// JSON（列名をキーとするオブジェクトの配列）
    Json,
}

impl From<FormatArg> for crate::output::listing::ListFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => Self::Table,
            FormatArg::Csv => Self::Csv,
            FormatArg::Json => Self::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, Args, Default)]
pub struct FormatOpt {
    /// 出力の形式（既定は table）(output format; default table)
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

impl FormatOpt {
    pub fn get(&self) -> crate::output::listing::ListFormat {
        self.format.map(Into::into).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// 参加者番号, 日付, 歩数
    Long,
    /// 参加者番号, 年月, 1 … 31
    Card,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    #[value(name = "cp932", alias = "sjis", alias = "shift_jis")]
    Cp932,
}

/// Options every import takes.
#[derive(Debug, Clone, Args, Default)]
pub struct ImportOpts {
    /// 読むシート名 (default: the first)
    #[arg(long, conflicts_with = "all_sheets")]
    pub sheet: Option<String>,
    /// 見出しのあるすべてのシートを一つの取込みとして読む (every sheet with a header, one batch)
    #[arg(long)]
    pub all_sheets: bool,
    /// CSV の文字コード (default: detected)
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// この列を読まずに捨てる (drop this column unread; repeatable)
    #[arg(long = "ignore-column", value_name = "NAME")]
    pub ignore_column: Vec<String>,
    /// 正しい行だけ取り込み、誤りの行は保管する (commit valid rows; keep rejected rows for fixing)
    #[arg(long, conflicts_with = "dry_run")]
    pub partial: bool,
    /// 検査だけして何も変えない (validate and report; change nothing)
    #[arg(long)]
    pub dry_run: bool,
    /// 誤りの一覧を書き出す (.xlsx or .csv; one row per problem)
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BatchesCmd {
    /// 取込みの一覧 (every batch)
    List {
        #[command(flatten)]
        format: FormatOpt,
    },
    /// 取込みの詳細 (one batch, its problems; --rejected --out exports its rejected rows)
    Show {
        /// 取込み番号（`stepcard batches list` の「番号」）(the batch number)
        #[arg(value_name = "番号")]
        id: i64,
        #[command(flatten)]
        format: FormatOpt,
        /// 保管した誤りの行を取込み形式で書き出す (export rejected rows in the import layout)
        #[arg(long, requires = "out")]
        rejected: bool,
        /// 出力ファイル (.csv or .xlsx)
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// 取込みを取り消す (remove a batch's rows)
    Undo {
        /// 取り消す取込みの番号（`stepcard batches list` の「番号」）(the batch number)
        #[arg(value_name = "番号")]
        id: i64,
    },
}

#[derive(Debug, Args)]
pub struct PointsArgs {
    /// この日までの歩数と申込みで計算する（例: 2025-09-30、R7.9.30）(count days and orders up to this date)
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// 出力ファイル (.csv or .xlsx; omitted: CSV on stdout)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// この参加者だけ (only this participant)
    #[arg(long, value_name = "ID")]
    pub participant: Option<String>,
    /// 日ごとのポイントと取込み番号、月ごとのボーナスを出す (each day's points and batch, each bonus)
    #[arg(long, requires = "participant")]
    pub detail: bool,
    /// 画面への出力の形式（--out のないとき。既定は csv）(stdout format without --out; default csv)
    #[arg(long, value_enum, conflicts_with = "out")]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCmd {
    /// 景品申込みを取り込む: 参加者番号, 景品コード, 数量, 申込日 (import applications; the file is one batch)
    Import {
        /// 申込みファイル (.csv .tsv .xlsx .xlsm .xls .ods)
        file: PathBuf,
        #[command(flatten)]
        opts: ImportOpts,
    },
}

#[derive(Debug, Args)]
pub struct ShipArgs {
    /// 出力ファイル (.xlsx, or .csv for csv / yamato-b2 / yupack / yupack-filter)
    #[arg(long)]
    pub out: PathBuf,
    /// 形式 (default: from the file name: .xlsx or .csv)
    // The carriers' names come from `output::carrier::REGISTRY`.
    #[arg(long, value_parser = crate::output::carrier::format_values())]
    pub format: Option<String>,
    /// 何が発送されるかを確かめるだけで、書き出さず発送済みにもしない (check and report; write and change nothing)
    #[arg(long, conflicts_with = "reprint")]
    pub dry_run: bool,
    /// 発送番号 N を書き出し直す（.csv は元が送り状形式ならその形式で） (rewrite an earlier shipment's file)
    #[arg(long, value_name = "N")]
    pub reprint: Option<i64>,
    /// 送り状の出荷予定日・発送予定日 (YYYY-MM-DD; 既定は今日)。今日から30日後までに限る（B2クラウド ES003001）。--reprint でも使う (the carriers' ship date, today..today+30)
    #[arg(long, value_name = "DATE")]
    pub ship_date: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["shipment", "guidance", "calibrate"])))]
pub struct LabelsArgs {
    /// 発送番号 N の宛名ラベル (labels for shipment N)
    #[arg(long, value_name = "N")]
    pub shipment: Option<i64>,
    /// 参加案内の郵送分: まだ送っていない台紙の参加者 (card participants not yet sent the guidance; the mailing is recorded)
    #[arg(long)]
    pub guidance: bool,
    /// 出力ファイル (.pdf: ラベル用紙に mm 単位で正確に配置、何枚でも 1 ファイル; .xlsx: ラベル用紙に合わせた配置; .csv: 差し込み印刷用)
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "a4-12", help = crate::layout::LAYOUT_HELP)]
    pub layout: String,
    /// 調整用シート: 用紙の各ラベルの枠と位置だけを印刷し、実際の用紙に重ねてプリンタのずれを確かめる（個人情報なし、記録なし） (a calibration sheet: each label's rectangle)
    #[arg(long, conflicts_with_all = ["resend", "participant", "start_at"])]
    pub calibrate: bool,
    /// 使いかけの用紙: 1 枚目は K 面目から（前の K−1 面は使用済み） (start at label K of the first sheet)
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub start_at: usize,
    /// 参加案内を送付済みの人にも送る（再送として記録） (include those already mailed; recorded as a resend)
    #[arg(long, conflicts_with = "shipment")]
    pub resend: bool,
    /// 参加案内をこの参加者だけに (only these participants; repeatable)
    #[arg(long, value_name = "ID", conflicts_with = "shipment")]
    pub participant: Vec<String>,
}

/// `cards --out 台紙.pdf [--participants all|FILE] [--months 2025-05..2025-07]`
#[derive(Debug, Args)]
#[command(
    after_help = "例: stepcard cards --out 台紙.pdf --months 2025-05..2025-07\n\
1 枚の台紙に 3 か月分。期間が長いと 1 人に複数枚（枚数は終了時に表示）。\n\
参加案内の封筒に同封します。書き出した台紙は参加者ごとに記録され（取扱状況報告に出ます）、\n\
氏名を含むため個人情報の複製として記録されます。"
)]
pub struct CardsArgs {
    /// 出力ファイル (.pdf)
    #[arg(long)]
    pub out: PathBuf,
    /// 対象: all（台紙の参加者全員）か、参加者番号を 1 行に 1 つ書いたファイル (.txt/.csv) (all card participants, or a file of participant numbers)
    #[arg(long, value_name = "all|FILE", default_value = "all")]
    pub participants: String,
    /// 月の範囲 YYYY-MM..YYYY-MM（または YYYY-MM）。省略時は事業期間 (months; default the program period)
    #[arg(long, value_name = "YYYY-MM..YYYY-MM")]
    pub months: Option<String>,
    /// 送付の締切: 各台紙の最後の月の翌月の何日か（1〜28、既定 10） (the card is due on this day of the month after its last month)
    #[arg(long, value_name = "DAY", default_value_t = 10)]
    pub due_day: u32,
}

#[derive(Debug, Subcommand)]
pub enum SurveyCmd {
    /// 回答を取り込む: 参加者番号, 回答時期（事前/事後）, 設問コード… (import answers; the file is one batch)
    Import {
        /// 回答ファイル (.csv .tsv .xlsx .xlsm .xls .ods)
        file: PathBuf,
        #[command(flatten)]
        opts: ImportOpts,
    },
}

/// `template --month 2025-06 --out 6月入力.xlsx`: the entry workbook of one month.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// 対象の年月（例: 2025-06、R7.6）(the month to key)
    #[arg(long)]
    pub month: String,
    /// 出力ファイル (.xlsx)。--copies 2 では名前に _1回目・_2回目 が付く (with --copies 2: _1回目, _2回目)
    #[arg(long)]
    pub out: PathBuf,
    /// シートの形式: card（台紙型: 1行に1人・1〜31日）か long（縦型: 1行に1人1日） (card: a row per participant; long: a row per participant and day)
    #[arg(long, value_enum, default_value = "card")]
    pub layout: LayoutArg,
    /// 載せる参加者: all（全員）、card（利用区分が台紙の人）、または参加者番号の一覧ファイル (all, card, or a file of participant numbers)
    #[arg(long, default_value = "card", value_name = "all|card|FILE")]
    pub participants: String,
    /// 2回入力（ベリファイ）用に 1回目・2回目 の2ファイルを書き出す (2: one file per keying of a double entry)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub copies: u8,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// 出力ファイル (.xlsx): 概要・月別歩数・目標達成・行動変容・継続・アンケート・景品
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: Option<AuditCmd>,
    /// 取扱状況報告書を書き出す (.xlsx; the handling-status report: operations, copies made, records held)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatOpt,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// 監査ログの連鎖を検証し、先頭ハッシュを表示する (recompute the hash chain; print the head hash)
    Verify {
        #[command(flatten)]
        format: FormatOpt,
    },
}

const CLOSE_OUT_HELP: &str = "契約終了の手続き（特記事項 11・12）: 監査ログを検証し、全テーブルを CSV にした返還データ\n\
(zip、manifest.json 付き) を作って読み直して照合し、データベースと書出しファイルを消去し、残存検査の上で\n\
消去記録 (JSON) と消去証明書 (.xlsx) を返還フォルダに書きます。途中で止まっても、同じコマンドをもう一度\n\
実行すれば続きから終わらせます。取扱責任者が実行してください。\n\
(Contract close-out: verify the audit log, write and re-check the return package, erase the database and\n\
exports, scan for remnants, then write the erasure record and certificate. Re-running finishes an\n\
interrupted close-out. Run by the responsible handler.)\n\
\n\
  stepcard close-out --return-dir 返還 --confirm R7-健-0123 --erase-exports\n\
  stepcard close-out --verify 返還/消去記録_R7-健-0123.json --package 返還/返還データ_R7-健-0123.zip";

#[derive(Debug, Args)]
pub struct CloseOutArgs {
    /// 返還データ・消去記録・消去証明書を置くフォルダ (where the return package, record and certificate go)
    #[arg(long, value_name = "DIR", required_unless_present = "verify")]
    pub return_dir: Option<PathBuf>,
    /// 確認のため契約番号を入力する (type the contract number to confirm; erasure cannot be undone)
    #[arg(long, value_name = "CONTRACT_NO", required_unless_present = "verify")]
    pub confirm: Option<String>,
    /// 記録にある書出しファイルも消去する（指定しなければ一覧に載せるだけ）(also erase the exports the audit log recorded)
    #[arg(long, conflicts_with = "verify")]
    pub erase_exports: bool,
    /// 取り込んだ元のファイル（名簿・歩数シートなど）のうち、取り込んだときと同じ内容のものを消去する
    /// (also erase the imported source files still identical to what was imported)
    #[arg(long, conflicts_with = "verify")]
    pub erase_inputs: bool,
    /// 返還データを AES-256 で暗号化するパスワードのファイル（1 行目）。取扱者のログイン用パスワードとは別のものにする
    /// (file holding the return package's password, AES-256; never a handler's own password)
    #[arg(long, value_name = "FILE")]
    pub package_password_file: Option<PathBuf>,
    /// 消去記録 (JSON) と返還データを照合する (check a return package against its erasure record)
    #[arg(
        long,
        value_name = "RECORD",
        requires = "package",
        conflicts_with_all = ["return_dir", "confirm"]
    )]
    pub verify: Option<PathBuf>,
    /// 照合する返還データ (.zip) (the package to check, with --verify)
    #[arg(long, value_name = "ZIP", requires = "verify")]
    pub package: Option<PathBuf>,
    /// 消去記録の SHA-256 を読む消去証明書 (.xlsx)。省略時は消去記録と同じフォルダの証明書
    /// (the certificate whose printed SHA-256 the record must match; default: beside the record)
    #[arg(
        long,
        value_name = "XLSX",
        requires = "verify",
        conflicts_with = "record_sha256"
    )]
    pub certificate: Option<PathBuf>,
    /// 消去証明書に印刷された消去記録の SHA-256 (the record's SHA-256 as printed on the certificate)
    #[arg(long, value_name = "HEX", requires = "verify")]
    pub record_sha256: Option<String>,
}

impl From<LayoutArg> for crate::import::Layout {
    fn from(l: LayoutArg) -> crate::import::Layout {
        match l {
            LayoutArg::Long => crate::import::Layout::Long,
            LayoutArg::Card => crate::import::Layout::Card,
        }
    }
}

impl From<EncodingArg> for crate::sheet::Encoding {
    fn from(e: EncodingArg) -> crate::sheet::Encoding {
        match e {
            EncodingArg::Utf8 => crate::sheet::Encoding::Utf8,
            EncodingArg::Cp932 => crate::sheet::Encoding::Cp932,
        }
    }
}

impl From<&ImportOpts> for crate::import::Options {
    fn from(o: &ImportOpts) -> crate::import::Options {
        crate::import::Options {
            sheet: o.sheet.clone(),
            all_sheets: o.all_sheets,
            encoding: o.encoding.map(Into::into),
            ignore_column: o.ignore_column.clone(),
            partial: o.partial,
            dry_run: o.dry_run,
            errors: o.errors.clone(),
            keyed_by: None,
        }
    }
}

impl From<&VerifyArgs> for crate::import::Options {
    /// The reading options of both keyings (verification changes nothing).
    fn from(a: &VerifyArgs) -> crate::import::Options {
        crate::import::Options {
            sheet: a.sheet.clone(),
            all_sheets: a.all_sheets,
            encoding: a.encoding.map(Into::into),
            ignore_column: a.ignore_column.clone(),
            ..Default::default()
        }
    }
}
