//! The roster's rules (登録者名簿): only the listed items, each checked and kept in one
//! form (postal code `NNN-NNNN`, フリガナ in full-width katakana, sex as 男/女/…). Pure:
//! a row in, a participant or every problem with it out.

use super::fields::{
    check_participant_id, header_problem, problem, text_problem, PARTICIPANT, TEXT_LIMITS,
};
use super::header::{ColumnDef, Header};
use super::Problem;
use crate::sheet::date::{from_excel_serial, parse_date};
use crate::sheet::normalize::{
    float_to_int, is_email, is_katakana_name, normalize, normalize_phone, normalize_postal,
    parse_channel, parse_int, parse_sex, to_fullwidth_katakana, Channel, IntParse,
};
use crate::sheet::{CellRef, Row};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A participant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub name_kana: Option<String>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub birth_date: Option<String>,
    pub age: Option<i64>,
    pub sex: Option<String>,
    pub phone: Option<String>,
    pub channel: String,
    pub email: Option<String>,
}

pub const COLUMNS: &[ColumnDef] = &[
    PARTICIPANT,
    ColumnDef {
        key: "name",
        names: &["氏名", "名前", "name"],
        required: true,
    },
    ColumnDef {
        key: "name_kana",
        names: &["フリガナ", "ふりがな", "カナ", "name_kana", "kana"],
        required: false,
    },
    ColumnDef {
        key: "postal_code",
        names: &["郵便番号", "〒", "postal_code", "zip"],
        required: false,
    },
    ColumnDef {
        key: "address",
        names: &["住所", "address"],
        required: false,
    },
    ColumnDef {
        key: "address2",
        names: &["方書", "住所2", "address2"],
        required: false,
    },
    ColumnDef {
        key: "birth_date",
        names: &["生年月日", "birth_date", "birthday"],
        required: false,
    },
    ColumnDef {
        key: "age",
        names: &["年齢", "age"],
        required: false,
    },
    ColumnDef {
        key: "sex",
        names: &["性別", "sex", "gender"],
        required: false,
    },
    ColumnDef {
        key: "phone",
        names: &["電話番号", "電話", "phone", "tel"],
        required: false,
    },
    ColumnDef {
        key: "channel",
        names: &["利用区分", "区分", "channel"],
        required: false,
    },
    ColumnDef {
        key: "email",
        names: &["メールアドレス", "メール", "email", "e-mail"],
        required: false,
    },
];

/// The roster layout's headings, in order, for exports.
pub const EXPORT_HEADERS: [&str; 12] = [
    "参加者番号",
    "氏名",
    "フリガナ",
    "郵便番号",
    "住所",
    "方書",
    "生年月日",
    "年齢",
    "性別",
    "電話番号",
    "利用区分",
    "メールアドレス",
];

fn text(row: &Row, h: &Header, key: &str) -> Option<(usize, String)> {
    let c = h.col(key)?;
    let v = normalize(&row.raw_text(c)).into_owned();
    (!v.is_empty()).then_some((c, v))
}

/// Check one roster row; the participant, or the problems found (all of them).
pub fn check_row(row: &Row, h: &Header, today: NaiveDate) -> Result<Participant, Vec<Problem>> {
    let mut out = Vec::new();
    let mut bad = |c: usize, code: &'static str, msg: &str| {
        out.push(problem(h, row, c, code, msg.to_string()))
    };
    // Text fields first: a value with a line break, a control character or too many
    // characters is refused once, and not read further (nor called missing).
    let mut refused: Vec<&str> = Vec::new();
    for (key, max) in TEXT_LIMITS {
        if let Some(c) = h.col(key) {
            if let Some((code, msg)) = text_problem(&row.raw_text(c), *max) {
                bad(c, code, &msg);
                refused.push(key);
            }
        }
    }
    let text = |row: &Row, h: &Header, key: &str| {
        if refused.contains(&key) {
            None
        } else {
            text(row, h, key)
        }
    };
    let pc = h.col("participant_id").unwrap_or(0);
    let id = text(row, h, "participant_id")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if let Err(msg) = check_participant_id(&id) {
        bad(pc, "participant.id_invalid", msg);
    }
    let name = match text(row, h, "name") {
        Some((_, v)) => v,
        None => {
            if !refused.contains(&"name") {
                bad(h.col("name").unwrap_or(0), "name.missing", "氏名が空です");
            }
            String::new()
        }
    };
    let name_kana = text(row, h, "name_kana").and_then(|(c, v)| {
        let k = to_fullwidth_katakana(&v);
        if is_katakana_name(&k) {
            Some(k)
        } else {
            bad(
                c,
                "name_kana.invalid",
                "フリガナはカタカナで入力してください",
            );
            None
        }
    });
    let channel = match text(row, h, "channel") {
        None => Channel::Card,
        Some((c, v)) => parse_channel(&v).unwrap_or_else(|| {
            bad(
                c,
                "channel.invalid",
                "利用区分は「台紙」か「アプリ」にしてください",
            );
            Channel::Card
        }),
    };
    let card = channel == Channel::Card;
    let postal_code = match text(row, h, "postal_code") {
        Some((c, v)) => normalize_postal(&v).or_else(|| {
            bad(
                c,
                "postal_code.invalid",
                "郵便番号は7桁の数字で入力してください（例: 160-0022）",
            );
            None
        }),
        None => {
            if card && !refused.contains(&"postal_code") {
                bad(
                    h.col("postal_code").unwrap_or(pc),
                    "postal_code.missing",
                    "台紙の参加者には郵便番号が必要です（景品・案内の発送先）",
                );
            }
            None
        }
    };
    let address = text(row, h, "address").map(|(_, v)| v);
    if address.is_none() && card && !refused.contains(&"address") {
        bad(
            h.col("address").unwrap_or(pc),
            "address.missing",
            "台紙の参加者には住所が必要です（景品・案内の発送先）",
        );
    }
    // 郵便番号 ↔ 住所 (validate::postal, the embedded Japan Post table).
    if let (Some(pcode), Some(addr)) = (&postal_code, &address) {
        if let Some(slip) = super::postal::check(pcode, addr) {
            let key = if slip.at_postal_code {
                "postal_code"
            } else {
                "address"
            };
            bad(h.col(key).unwrap_or(pc), slip.code, &slip.message);
        }
    }
    let address2 = text(row, h, "address2").map(|(_, v)| v);
    let birth_date = h.col("birth_date").and_then(|c| {
        let d = match row.get(c) {
            CellRef::Empty => return None,
            CellRef::Date(d) => Some(d),
            CellRef::Number(f) => from_excel_serial(f, false),
            CellRef::Text(s) if normalize(s).is_empty() => return None,
            CellRef::Text(s) => parse_date(s).ok(),
            CellRef::Bool(_) | CellRef::Error(_) => None,
        };
        match d {
            Some(d) if d <= today && chrono::Datelike::year(&d) >= 1900 => {
                Some(d.format("%Y-%m-%d").to_string())
            }
            Some(_) => {
                bad(
                    c,
                    "birth_date.invalid",
                    "生年月日が未来か古すぎます。確かめてください",
                );
                None
            }
            None => {
                bad(
                    c,
                    "birth_date.invalid",
                    "生年月日として読めません（例: 1955-04-01、S30.4.1、昭和30年4月1日）",
                );
                None
            }
        }
    });
    let age = h.col("age").and_then(|c| {
        let parsed = match row.get(c) {
            CellRef::Empty => return None,
            CellRef::Number(f) => float_to_int(f),
            CellRef::Text(s) => {
                let n = normalize(s);
                if n.is_empty() {
                    return None;
                }
                parse_int(n.trim_end_matches('歳'))
            }
            _ => IntParse::NotANumber,
        };
        match parsed {
            IntParse::Int(a) if (0..=120).contains(&a) => Some(a),
            _ => {
                bad(c, "age.invalid", "年齢は 0〜120 の整数で入力してください");
                None
            }
        }
    });
    if birth_date.is_none()
        && age.is_none()
        && !h
            .col("birth_date")
            .or(h.col("age"))
            .is_some_and(|c| !matches!(row.get(c), CellRef::Empty))
    {
        bad(
            h.col("birth_date").or(h.col("age")).unwrap_or(pc),
            "birth_date.missing",
            "生年月日か年齢のどちらかが必要です（年代別の集計とポイント規則に使います）",
        );
    }
    let sex = text(row, h, "sex").and_then(|(c, v)| match parse_sex(&v) {
        Some(s) => Some(s.as_ja().to_string()),
        None => {
            bad(
                c,
                "sex.invalid",
                "性別は 男・女・その他・無回答 のいずれかにしてください",
            );
            None
        }
    });
    let phone = text(row, h, "phone").and_then(|(c, v)| {
        normalize_phone(&v).or_else(|| {
            bad(
                c,
                "phone.invalid",
                "電話番号として読めません（0 から始まる10〜11桁）",
            );
            None
        })
    });
    let email = text(row, h, "email").and_then(|(c, v)| {
        if card {
            bad(
                c,
                "email.not_allowed",
                "台紙の参加者のメールアドレスは事業に不要なため収集できません（契約: 必要な項目のみ）。削除してください",
            );
            None
        } else if !is_email(&v) {
            bad(c, "email.invalid", "メールアドレスとして読めません");
            None
        } else {
            Some(v)
        }
    });
    if out.is_empty() {
        Ok(Participant {
            id,
            name,
            name_kana,
            postal_code,
            address,
            address2,
            birth_date,
            age,
            sex,
            phone,
            channel: channel.as_ja().to_string(),
            email,
        })
    } else {
        Err(out)
    }
}

impl Participant {
    /// The columns that differ from `other`, by their Japanese heading.
    pub fn changed_fields(&self, other: &Participant) -> Vec<&'static str> {
        let pairs: [(&str, bool); 11] = [
            ("氏名", self.name != other.name),
            ("フリガナ", self.name_kana != other.name_kana),
            ("郵便番号", self.postal_code != other.postal_code),
            ("住所", self.address != other.address),
            ("方書", self.address2 != other.address2),
            ("生年月日", self.birth_date != other.birth_date),
            ("年齢", self.age != other.age),
            ("性別", self.sex != other.sex),
            ("電話番号", self.phone != other.phone),
            ("利用区分", self.channel != other.channel),
            ("メールアドレス", self.email != other.email),
        ];
        pairs.iter().filter(|p| p.1).map(|p| p.0).collect()
    }
}

/// A roster needs 生年月日 or 年齢 (age bands and point rules use them).
pub fn check_header(h: &Header) -> Vec<Problem> {
    if h.has("birth_date") || h.has("age") {
        return Vec::new();
    }
    vec![header_problem(
        h,
        None,
        "header.missing_column",
        "「生年月日」か「年齢」の列が必要です (one of birth_date or age)".into(),
    )]
}

/// `p` with every field whose column the sheet lacks taken from the stored `old`.
pub fn merge_absent(mut p: Participant, old: &Participant, h: &Header) -> Participant {
    let absent = |key: &str| !h.has(key);
    if absent("name_kana") {
        p.name_kana = old.name_kana.clone();
    }
    if absent("postal_code") {
        p.postal_code = old.postal_code.clone();
    }
    if absent("address") {
        p.address = old.address.clone();
    }
    if absent("address2") {
        p.address2 = old.address2.clone();
    }
    if absent("birth_date") {
        p.birth_date = old.birth_date.clone();
    }
    if absent("age") {
        p.age = old.age;
    }
    if absent("sex") {
        p.sex = old.sex.clone();
    }
    if absent("phone") {
        p.phone = old.phone.clone();
    }
    if absent("channel") {
        p.channel = old.channel.clone();
    }
    if absent("email") {
        p.email = old.email.clone();
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::sheet;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    fn check(csv: &str) -> Result<Participant, Vec<&'static str>> {
        let (h, rows) = sheet(csv, COLUMNS, false);
        check_row(&rows[0], &h, today()).map_err(|ps| ps.iter().map(|p| p.code).collect())
    }

    const HEAD: &str = "参加者番号,氏名,フリガナ,郵便番号,住所,生年月日,利用区分,メールアドレス\n";

    #[test]
    fn a_row_is_kept_in_one_form() {
        let p = check(&format!(
            "{HEAD}C000001,山田 花子,やまだ はなこ,１６０００２２,新宿区1-1,S30.4.1,台紙,\n"
        ))
        .unwrap();
        assert_eq!(p.postal_code.as_deref(), Some("160-0022"));
        assert_eq!(p.name_kana.as_deref(), Some("ヤマダ\u{3000}ハナコ"));
        assert_eq!(p.birth_date.as_deref(), Some("1955-04-01"));
        assert_eq!(p.channel, "台紙");
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        assert_eq!(
            check(&format!(
                "{HEAD}C000001,,Yamada,12,,2030-01-01,台紙,a@example.jp\n"
            )),
            Err(vec![
                "name.missing",
                "name_kana.invalid",
                "postal_code.invalid",
                "address.missing",
                "birth_date.invalid",
                "email.not_allowed",
            ])
        );
    }

    #[test]
    fn an_app_participant_needs_no_address_and_may_give_an_email() {
        let p = check(&format!(
            "{HEAD}A000001,佐藤 一郎,,,,40,アプリ,a@example.jp\n"
        ));
        // 40 in the birth-date column is no date.
        assert_eq!(p, Err(vec!["birth_date.invalid"]));
        let p = check(
            "参加者番号,氏名,年齢,利用区分,メールアドレス\nA000001,佐藤 一郎,40,アプリ,a@example.jp\n",
        )
        .unwrap();
        assert_eq!(
            (p.age, p.email.as_deref()),
            (Some(40), Some("a@example.jp"))
        );
    }

    #[test]
    fn a_roster_needs_a_birth_date_or_an_age_column() {
        let (h, _) = sheet("参加者番号,氏名\nC1,山田\n", COLUMNS, false);
        assert_eq!(check_header(&h)[0].code, "header.missing_column");
        let (h, _) = sheet("参加者番号,氏名,年齢\nC1,山田,70\n", COLUMNS, false);
        assert!(check_header(&h).is_empty());
    }
}
