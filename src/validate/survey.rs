//! The rules of a questionnaire sheet (事前・事後アンケート): `参加者番号, 回答時期,
//! <question codes>…`, the columns built from the program's questions, and how each
//! answer fits its question's kind. Pure: a row in, a questionnaire or its problems out.

use super::fields::{check_participant_id, header_problem, problem, PARTICIPANT};
use super::header::{ColumnDef, Header};
use super::Problem;
use crate::program::{AnswerKind, Program, Question};
use crate::sheet::normalize::{float_to_int, normalize, parse_int, IntParse};
use crate::sheet::{CellRef, Row};
use std::collections::{BTreeMap, HashSet};

/// Before or after the program (事前・事後).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timing {
    Pre,
    Post,
}

impl Timing {
    pub fn as_ja(self) -> &'static str {
        match self {
            Timing::Pre => "事前",
            Timing::Post => "事後",
        }
    }

    pub fn from_stored(s: &str) -> Option<Timing> {
        match s {
            "事前" => Some(Timing::Pre),
            "事後" => Some(Timing::Post),
            _ => None,
        }
    }
}

/// A keyed 回答時期: 事前/事後, also 前/後, 開始時/終了時, pre/post, before/after.
pub fn parse_timing(s: &str) -> Option<Timing> {
    let k = crate::sheet::normalize::header_key(s);
    match k.as_str() {
        "事前" | "前" | "開始時" | "開始前" | "参加前" | "pre" | "before" => {
            Some(Timing::Pre)
        }
        "事後" | "後" | "終了時" | "終了後" | "参加後" | "post" | "after" => {
            Some(Timing::Post)
        }
        _ => None,
    }
}

/// The key a question's column is known by in a parsed header.
pub fn column_key(code: &str) -> String {
    format!("q:{code}")
}

/// The survey sheet's columns, built from the program's questions. `ColumnDef` holds
/// `&'static str` (the other imports' columns are constants), so the question codes and
/// texts are leaked once per call: a few short strings for the life of a CLI process,
/// which is smaller and safer than making every column table generic over ownership.
pub fn columns(program: &Program) -> Vec<ColumnDef> {
    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }
    let mut cols = vec![
        PARTICIPANT,
        ColumnDef {
            key: "timing",
            names: &["回答時期", "時期", "timing"],
            required: true,
        },
    ];
    for q in &program.survey.questions {
        let names: Vec<&'static str> = vec![leak(q.code.clone()), leak(q.text.clone())];
        cols.push(ColumnDef {
            key: leak(column_key(&q.code)),
            names: Box::leak(names.into_boxed_slice()),
            required: false,
        });
    }
    cols
}

const YES: &[&str] = &["はい", "yes", "y", "○", "◯", "有", "あり"];
const NO: &[&str] = &["いいえ", "no", "n", "×", "✕", "無", "なし"];

/// An answer cell in its stored form: `Ok(None)` for no answer, `Err(message)` when
/// it does not fit the question's kind.
pub fn parse_answer(
    q: &Question,
    cell: CellRef<'_>,
) -> std::result::Result<Option<String>, String> {
    let number = |cell: CellRef<'_>| -> Option<IntParse> {
        match cell {
            CellRef::Number(f) => Some(float_to_int(f)),
            CellRef::Text(s) => {
                let n = normalize(s);
                let n = n.trim_end_matches(['.', '点', '番']);
                n.bytes().all(|b| b.is_ascii_digit()).then(|| parse_int(n))
            }
            _ => None,
        }
    };
    let text = match cell {
        CellRef::Empty => return Ok(None),
        CellRef::Text(s) => {
            let n = normalize(s);
            if n.is_empty() {
                return Ok(None);
            }
            n.into_owned()
        }
        CellRef::Number(f) => f.to_string(),
        CellRef::Bool(b) => {
            if q.kind == AnswerKind::YesNo {
                return Ok(Some(if b { "はい" } else { "いいえ" }.to_string()));
            }
            b.to_string()
        }
        CellRef::Date(d) => d.to_string(),
        CellRef::Error(e) => e.to_string(),
    };
    match q.kind {
        AnswerKind::Scale5 => match number(cell) {
            Some(IntParse::Int(v)) if (1..=5).contains(&v) => Ok(Some(v.to_string())),
            _ => Err(format!(
                "設問 {} は 1〜5 の5段階で答える設問です。「{text}」は受け付けられません。回答用紙の数字を確かめてください",
                q.code
            )),
        },
        AnswerKind::YesNo => {
            let k = crate::sheet::normalize::header_key(&text);
            let is = |words: &[&str]| words.iter().any(|w| k.eq_ignore_ascii_case(w));
            if is(YES) || matches!(number(cell), Some(IntParse::Int(1))) {
                Ok(Some("はい".into()))
            } else if is(NO) || matches!(number(cell), Some(IntParse::Int(2))) {
                Ok(Some("いいえ".into()))
            } else {
                Err(format!(
                    "設問 {} は「はい」「いいえ」（または 1・2）で答える設問です。「{text}」は受け付けられません",
                    q.code
                ))
            }
        }
        AnswerKind::Choice => {
            let k = choice_key(&text);
            if let Some(c) = q.choices.iter().find(|c| choice_key(c) == k) {
                return Ok(Some(c.clone()));
            }
            if let Some(IntParse::Int(i)) = number(cell) {
                if i >= 1 && (i as usize) <= q.choices.len() {
                    return Ok(Some(q.choices[i as usize - 1].clone()));
                }
            }
            Err(format!(
                "設問 {} の選択肢にない回答です: 「{text}」。選択肢: {}（番号 1〜{} でも入力できます）",
                q.code,
                q.choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{}.{c}", i + 1))
                    .collect::<Vec<_>>()
                    .join("、"),
                q.choices.len()
            ))
        }
    }
}

/// How a keyed choice is compared with the program's: as headings are (NFKC, no
/// spaces, ASCII lowercased), with every wave dash and tilde one character and every
/// dash one hyphen, since Windows IMEs key 〜 as U+FF5E (NFKC: `~`) where the program
/// file may hold U+301C, and CP932 files decode 0x8160 to either.
fn choice_key(s: &str) -> String {
    crate::sheet::normalize::header_key(s)
        .chars()
        .map(|c| match c {
            '\u{301C}' | '\u{FF5E}' | '~' => '~',
            c if crate::sheet::normalize::is_hyphen(c) => '-',
            c => c,
        })
        .collect()
}

/// A survey sheet needs at least one question column.
pub fn check_header(h: &Header, questions: &[Question]) -> Vec<Problem> {
    if questions.iter().any(|q| h.has(&column_key(&q.code))) {
        return Vec::new();
    }
    vec![header_problem(
        h,
        None,
        "header.missing_column",
        format!(
            "設問の列が一つもありません。プログラムファイルの設問コード（{}）を見出しにしてください (no question column)",
            questions
                .iter()
                .map(|q| q.code.as_str())
                .collect::<Vec<_>>()
                .join("、")
        ),
    )]
}

/// One questionnaire as keyed: who, when, and each answered question's (column, answer).
pub struct Questionnaire {
    pub pid: String,
    pub timing: Timing,
    pub answers: BTreeMap<String, (usize, String)>,
    pub pid_col: usize,
}

/// Read a row into a questionnaire, or put every problem with it in `out`.
pub fn read_row(
    h: &Header,
    row: &Row,
    questions: &[Question],
    participants: &HashSet<String>,
    out: &mut Vec<Problem>,
) -> Option<Questionnaire> {
    let before = out.len();
    let p = |col: usize, code: &'static str, message: String| problem(h, row, col, code, message);
    let (Some(pc), Some(tc)) = (h.col("participant_id"), h.col("timing")) else {
        return None;
    };
    let pid = normalize(&row.raw_text(pc)).into_owned();
    if let Err(msg) = check_participant_id(&pid) {
        out.push(p(pc, "participant.id_invalid", msg.into()));
    } else if !participants.contains(&pid) {
        out.push(p(
            pc,
            "participant.unknown",
            format!("参加者番号 {pid} は名簿にありません。回答用紙の番号を確かめるか、先に名簿を取り込んでください"),
        ));
    }
    let timing = parse_timing(&row.raw_text(tc));
    if timing.is_none() {
        out.push(p(
            tc,
            "survey.timing_invalid",
            if row.raw_text(tc).trim().is_empty() {
                "回答時期が空です。「事前」か「事後」を入力してください".to_string()
            } else {
                "回答時期は「事前」か「事後」で入力してください".to_string()
            },
        ));
    }
    let mut answers: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for q in questions {
        let Some(c) = h.col(&column_key(&q.code)) else {
            continue;
        };
        match parse_answer(q, row.get(c)) {
            Ok(Some(a)) => {
                answers.insert(q.code.clone(), (c, a));
            }
            Ok(None) => {}
            Err(msg) => out.push(p(c, "survey.answer_invalid", msg)),
        }
    }
    if out.len() > before {
        return None;
    }
    Some(Questionnaire {
        pid,
        timing: timing?,
        answers,
        pid_col: pc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: AnswerKind, choices: &[&str]) -> Question {
        Question {
            code: "Q1".into(),
            text: "設問".into(),
            kind,
            choices: choices.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scale_answers() {
        let s = q(AnswerKind::Scale5, &[]);
        assert_eq!(parse_answer(&s, CellRef::Text("３")), Ok(Some("3".into())));
        assert_eq!(parse_answer(&s, CellRef::Number(5.0)), Ok(Some("5".into())));
        assert_eq!(parse_answer(&s, CellRef::Text(" ")), Ok(None));
        assert_eq!(parse_answer(&s, CellRef::Empty), Ok(None));
        assert!(parse_answer(&s, CellRef::Text("6")).is_err());
        assert!(parse_answer(&s, CellRef::Text("0")).is_err());
        assert!(parse_answer(&s, CellRef::Number(2.5)).is_err());
        assert!(parse_answer(&s, CellRef::Text("よい")).is_err());
    }

    #[test]
    fn yes_no_answers() {
        let y = q(AnswerKind::YesNo, &[]);
        for yes in ["はい", "Yes", "○", "1", "１"] {
            assert_eq!(
                parse_answer(&y, CellRef::Text(yes)),
                Ok(Some("はい".into())),
                "{yes}"
            );
        }
        for no in ["いいえ", "NO", "×", "2"] {
            assert_eq!(
                parse_answer(&y, CellRef::Text(no)),
                Ok(Some("いいえ".into())),
                "{no}"
            );
        }
        assert_eq!(
            parse_answer(&y, CellRef::Bool(true)),
            Ok(Some("はい".into()))
        );
        assert!(parse_answer(&y, CellRef::Text("3")).is_err());
        assert!(parse_answer(&y, CellRef::Text("たぶん")).is_err());
    }

    #[test]
    fn choice_answers_by_text_or_number() {
        let c = q(AnswerKind::Choice, &["毎日", "週に数回", "ほとんどしない"]);
        assert_eq!(
            parse_answer(&c, CellRef::Text("週に 数回")),
            Ok(Some("週に数回".into()))
        );
        assert_eq!(
            parse_answer(&c, CellRef::Text("3")),
            Ok(Some("ほとんどしない".into()))
        );
        assert_eq!(
            parse_answer(&c, CellRef::Number(1.0)),
            Ok(Some("毎日".into()))
        );
        let e = parse_answer(&c, CellRef::Text("4")).unwrap_err();
        assert!(e.contains("1.毎日、2.週に数回、3.ほとんどしない"), "{e}");
        assert!(parse_answer(&c, CellRef::Text("月に一回")).is_err());
        let w = q(AnswerKind::Choice, &["週に3〜4日", "ほぼ毎日"]);
        for keyed in ["週に3〜4日", "週に3～4日", "週に3~4日", "週に３～４日"] {
            assert_eq!(
                parse_answer(&w, CellRef::Text(keyed)),
                Ok(Some("週に3〜4日".into())),
                "{keyed}"
            );
        }
    }

    #[test]
    fn timings() {
        assert_eq!(parse_timing("事前"), Some(Timing::Pre));
        assert_eq!(parse_timing(" 事後 "), Some(Timing::Post));
        assert_eq!(parse_timing("POST"), Some(Timing::Post));
        assert_eq!(parse_timing("中間"), None);
        assert_eq!(parse_timing(""), None);
    }
}
