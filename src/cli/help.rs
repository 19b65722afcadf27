//! clap in Japanese: the headings and the help and version flags of every command, and
//! clap's own errors (an unknown command or option, a missing argument, a value that is
//! not a number…) told in Japanese with what to do, as every other message is.

use super::Cli;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches};

const TEMPLATE: &str = "{about-with-newline}\n使い方: {usage}\n\n{all-args}{after-help}";

/// One example or two per command, shown at the end of its `--help`.
const EXAMPLES: &[(&str, &str)] = &[
    ("init", "stepcard init --program program.toml"),
    ("roster", "stepcard roster import 名簿.csv"),
    ("roster import", "stepcard roster import 名簿.csv\n  stepcard roster import 名簿_変更分.xlsx --update"),
    ("roster export", "stepcard roster export --out 名簿.xlsx"),
    ("steps", "stepcard steps import 6月分.xlsx"),
    ("steps import", "stepcard steps import 6月分.xlsx 7月分.csv\n  stepcard steps import 8月分.xlsx --partial --errors 8月分_誤り.xlsx"),
    ("steps verify", "stepcard steps verify 1回目.xlsx 2回目.xlsx --out 照合結果.xlsx\n  stepcard steps verify 1回目.xlsx 2回目.xlsx --import"),
    ("steps export", "stepcard steps export --out 歩数.csv\n  stepcard steps export --participant A000002"),
    ("batches", "stepcard batches list"),
    ("batches list", "stepcard batches list\n  stepcard batches list --format csv > 取込み一覧.csv"),
    ("batches show", "stepcard batches show 3\n  stepcard batches show 3 --rejected --out 修正用.xlsx"),
    ("batches undo", "stepcard batches undo 3"),
    ("points", "stepcard points --out ポイント.xlsx\n  stepcard points --participant A000002 --detail --format table"),
    ("orders", "stepcard orders import 申込み.csv"),
    ("orders import", "stepcard orders import 申込み.csv"),
    ("prizes", "stepcard prizes\n  stepcard prizes --format json"),
    ("status", "stepcard status\n  stepcard status --format json"),
    ("ship", "stepcard ship --out 発送リスト.xlsx\n  stepcard ship --out 送り状.csv --format yamato-b2"),
    ("labels", "stepcard labels --shipment 1 --out 宛名ラベル.xlsx\n  stepcard labels --guidance --out 案内ラベル.xlsx --layout a4-24"),
    ("survey", "stepcard survey import アンケート.csv"),
    ("survey import", "stepcard survey import アンケート.csv"),
    ("report", "stepcard report --out 評価報告書.xlsx"),
    ("audit", "stepcard audit verify\n  stepcard audit --out 取扱状況報告.xlsx"),
    ("audit verify", "stepcard audit verify"),
    ("close-out", "stepcard close-out --return-dir 返還 --confirm R7-健-0123 --erase-exports --erase-inputs"),
    ("demo", "stepcard demo --out demo"),
    ("cards", "stepcard cards --out 台紙.pdf\n  stepcard cards --out 台紙_追加分.pdf --participants 追加分.csv --months 2025-06..2025-08"),
    ("template", "stepcard template --month 2025-06 --out 6月入力.xlsx\n  stepcard template --month 2025-06 --out 6月入力.xlsx --copies 2"),
    ("quality", "stepcard quality\n  stepcard quality --out 入力品質.xlsx"),
    ("handlers", "stepcard handlers list"),
    ("handlers add", "stepcard handlers add \"佐藤 花子\" --new-password-file 佐藤さんの初期パスワード.txt"),
    ("handlers passwd", "stepcard handlers passwd"),
    ("handlers remove", "stepcard handlers remove \"佐藤 花子\""),
    ("handlers list", "stepcard handlers list"),
    ("encrypt", "stepcard --db 旧.db encrypt --out stepcard.db"),
];

/// The command tree with Japanese headings and flags, every subcommand included.
pub fn command() -> clap::Command {
    localize(Cli::command(), "")
}

fn localize(cmd: clap::Command, parent: &str) -> clap::Command {
    let root = parent.is_empty();
    let path = if root {
        String::new()
    } else if parent == "stepcard" {
        cmd.get_name().to_string()
    } else {
        format!("{parent} {}", cmd.get_name())
    };
    let mut cmd = cmd
        .help_template(TEMPLATE)
        .subcommand_help_heading("コマンド")
        .subcommand_value_name("コマンド")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .mut_args(|a| {
            let a = japanese_notes(a);
            if a.get_help_heading().is_some() {
                a
            } else if a.is_positional() {
                a.help_heading("引数")
            } else {
                a.help_heading("オプション")
            }
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("使い方を表示する (print help)")
                .help_heading("オプション"),
        );
    if root {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("版と郵便番号データの日付を表示する (print version)")
                .help_heading("オプション"),
        );
    }
    if let Some((_, ex)) = EXAMPLES.iter().find(|(p, _)| *p == path) {
        if cmd.get_after_help().is_none() && cmd.get_after_long_help().is_none() {
            cmd = cmd.after_help(format!("例:\n  {ex}"));
        }
    }
    let here = if root { "stepcard".to_string() } else { path };
    cmd.mut_subcommands(|s| localize(s, &here))
}

/// clap's English notes under an option (`[env: …]`, `[default: …]`, `[possible
/// values: …]`) said in Japanese in the option's own help instead.
fn japanese_notes(a: Arg) -> Arg {
    let mut notes = Vec::new();
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| match v.get_help() {
            Some(h) => format!("{}（{h}）", v.get_name()),
            None => v.get_name().to_string(),
        })
        .collect();
    let takes_values = a.get_action().takes_values();
    if takes_values && !values.is_empty() {
        notes.push(format!("指定できる値: {}", values.join("、")));
    }
    if let Some(env) = a.get_env() {
        notes.push(format!(
            "環境変数 {} でも指定できます",
            env.to_string_lossy()
        ));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if takes_values && !defaults.is_empty() {
        notes.push(format!("省略時: {}", defaults.join(" ")));
    }
    if notes.is_empty() {
        return a;
    }
    let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
    let help = format!("{help}\n[{}]", notes.join("。"));
    a.help(help)
        .hide_possible_values(true)
        .hide_env(true)
        .hide_default_value(true)
}

/// Parse the command line; a usage error is printed in Japanese and exits with 2, help
/// and version print and exit with 0.
pub fn parse() -> Cli {
    match parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = e.exit_code();
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                }
                _ => {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "{}", japanese(&e));
                }
            }
            std::process::exit(code);
        }
    }
}

pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command();
    let m = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
}

fn text(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join("、")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join("、"),
        ),
        ContextValue::Number(n) => Some(n.to_string()),
        ContextValue::Bool(b) => Some(b.to_string()),
        ContextValue::None => None,
        _ => None,
    }
}

/// Why a value could not be read, in Japanese where the reason is a known one.
fn reason_ja(raw: &str) -> String {
    let known = [
        (
            "invalid digit found in string",
            "数字（半角）で書いてください",
        ),
        ("number too large", "数が大きすぎます"),
        ("number too small", "数が小さすぎます"),
        ("cannot parse integer from empty string", "値が空です"),
        ("invalid value", "使えない値です"),
    ];
    for (en, ja) in known {
        if raw.contains(en) {
            return format!("{ja} ({raw})");
        }
    }
    raw.to_string()
}

/// clap's error as a Japanese message: what was wrong, and what to do.
pub fn japanese(e: &clap::Error) -> String {
    let arg = text(e, ContextKind::InvalidArg)
        .or_else(|| text(e, ContextKind::InvalidSubcommand))
        .unwrap_or_default();
    let value = text(e, ContextKind::InvalidValue).unwrap_or_default();
    let usage = text(e, ContextKind::Usage)
        .map(|u| u.replace("Usage:", "使い方:"))
        .unwrap_or_default();
    let suggest = text(e, ContextKind::SuggestedSubcommand)
        .or_else(|| text(e, ContextKind::SuggestedArg))
        .map(|s| format!("「{s}」のことではありませんか。"))
        .unwrap_or_default();
    let what = match e.kind() {
        ErrorKind::InvalidSubcommand => format!(
            "「{arg}」というコマンドはありません。{suggest}`stepcard --help` でコマンドの一覧を確かめてください \
             (unknown command)"
        ),
        ErrorKind::UnknownArgument => format!(
            "「{arg}」というオプションはありません。{suggest}`--help` で使えるオプションを確かめてください \
             (unknown option)"
        ),
        ErrorKind::InvalidValue => {
            let valid = text(e, ContextKind::ValidValue)
                .map(|v| format!("使える値: {v}。"))
                .unwrap_or_default();
            if value.is_empty() {
                format!("{arg} に値を指定してください。{valid}(a value is required)")
            } else {
                format!("{arg} に「{value}」は指定できません。{valid}{suggest}(invalid value)")
            }
        }
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(e)
                .map(|s| reason_ja(&s.to_string()))
                .unwrap_or_default();
            format!("{arg} の値「{value}」を読めません: {why} (invalid value)")
        }
        ErrorKind::MissingRequiredArgument => format!(
            "指定が足りません: {arg}。上の使い方のとおりに指定してください (required arguments missing)"
        ),
        ErrorKind::ArgumentConflict => {
            let other = text(e, ContextKind::PriorArg).unwrap_or_default();
            format!("{arg} と {other} は一緒に指定できません。どちらか一方にしてください (conflicting options)")
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "コマンドを指定してください。`stepcard --help` でコマンドの一覧を確かめてください (a command is required)".into()
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("{arg} に渡す値の数が違います（「{value}」）。`--help` で確かめてください (wrong number of values)")
        }
        ErrorKind::NoEquals => format!("{arg} は「{arg}=値」の形で指定してください"),
        ErrorKind::InvalidUtf8 => {
            "引数に読めない文字（UTF-8 でない文字）があります。ファイル名などを確かめてください (invalid UTF-8)".into()
        }
        _ => format!(
            "コマンドの指定が正しくありません。`stepcard --help` で確かめてください ({})",
            e.kind()
        ),
    };
    let mut out = format!("error: {what}");
    if !usage.is_empty() {
        out.push_str("\n\n");
        out.push_str(usage.trim_end());
    }
    out.push_str("\n\n詳しくは --help を付けて実行してください。");
    crate::output::terminal_safe(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(args: &[&str]) -> String {
        let mut argv = vec!["stepcard"];
        argv.extend_from_slice(args);
        match parse_from(argv) {
            Ok(_) => panic!("parsed: {args:?}"),
            Err(e) => japanese(&e),
        }
    }

    #[test]
    fn the_tree_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn clap_errors_are_told_in_japanese() {
        let m = err(&["shipp"]);
        assert!(m.contains("「shipp」というコマンドはありません"), "{m}");
        assert!(m.contains("「ship」のことではありませんか"), "{m}");
        let m = err(&["batches", "show", "abc"]);
        assert!(
            m.contains("の値「abc」を読めません: 数字（半角）で書いてください"),
            "{m}"
        );
        let m = err(&["init"]);
        assert!(m.contains("指定が足りません: --program"), "{m}");
        let m = err(&["prizes", "--format", "xml"]);
        assert!(
            m.contains("「xml」は指定できません。使える値: table、csv、json"),
            "{m}"
        );
        let m = err(&["steps", "import", "a.csv", "--partial", "--dry-run"]);
        assert!(m.contains("一緒に指定できません"), "{m}");
        let m = err(&["prizes", "--bogus"]);
        assert!(m.contains("「--bogus」というオプションはありません"), "{m}");
        assert!(m.contains("使い方: stepcard prizes"), "{m}");
        assert!(!m.contains("Usage"), "{m}");
    }

    /// Every command's help ends with an example (a new command needs a line in
    /// `EXAMPLES`, or its own `after_help`).
    #[test]
    fn every_command_has_an_example() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name()).trim().to_string();
                let help = s.clone().render_long_help().to_string();
                if !help.contains("例:") && !help.contains("  stepcard ") {
                    missing.push(p.clone());
                }
                walk(s, &p, missing);
            }
        }
        let mut missing = Vec::new();
        let mut cmd = command();
        cmd.build();
        walk(&cmd, "", &mut missing);
        assert!(missing.is_empty(), "no example in --help: {missing:?}");
    }

    #[test]
    fn help_is_in_japanese() {
        let help = command().render_help().to_string();
        for ja in ["使い方:", "コマンド:", "オプション:", "使い方を表示する"] {
            assert!(help.contains(ja), "{ja}: {help}");
        }
        for en in ["Usage:", "Commands:", "Options:", "Print help"] {
            assert!(!help.contains(en), "{en}: {help}");
        }
        let mut cmd = command();
        cmd.build();
        let sub = cmd.find_subcommand_mut("batches").unwrap();
        let show = sub.find_subcommand_mut("show").unwrap();
        let h = show.render_help().to_string();
        assert!(h.contains("引数:") && h.contains("<番号>"), "{h}");
    }
}
