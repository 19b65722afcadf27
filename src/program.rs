//! The program file (program.toml): one program year's rules, prizes and designated
//! handlers. Parsed strictly (an unknown key is an error naming it), then checked as a
//! whole so that every mistake is reported at once, each with its key.

use anyhow::{bail, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub program: ProgramInfo,
    pub points: PointsRules,
    #[serde(default)]
    pub prizes: Vec<Prize>,
    #[serde(default)]
    pub handlers: Vec<Handler>,
    /// ご依頼主 (the sender on carrier slips); needed only for the carrier formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    /// A custom label sheet and the printer offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelsConfig>,
    /// The questionnaire (事前・事後アンケート); optional, so program files without one
    /// still parse.
    #[serde(default)]
    pub survey: Survey,
    /// `[report]`: optional figures for the evaluation report.
    #[serde(default, skip_serializing_if = "ReportConfig::is_empty")]
    pub report: ReportConfig,
}

/// `[report]`: the eligible population (for the participation rate) and the first-month
/// threshold of the baseline classes. Both optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// 対象人口: the people the program was open to (e.g. residents aged 20 and over).
    pub eligible_population: Option<i64>,
    /// The first-month mean daily steps below which a participant is in the
    /// low-activity class; default 8,000.
    pub baseline_threshold: Option<i64>,
}

impl ReportConfig {
    fn is_empty(&self) -> bool {
        self == &ReportConfig::default()
    }
}

/// `[shipping]`: the sender (ご依頼主) printed on carrier slips, and the carrier
/// account codes. Every key is optional here; `ship --format yamato-b2|yupack` refuses
/// to run when one it needs is missing, naming the key.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Shipping {
    /// ご依頼主名; default: `program.contractor`.
    pub sender_name: Option<String>,
    pub sender_postal_code: Option<String>,
    pub sender_address: Option<String>,
    /// ご依頼主の建物名・部屋 (optional).
    pub sender_address2: Option<String>,
    pub sender_phone: Option<String>,
    /// ヤマト B2クラウド: ご請求先顧客コード (10–12 digits).
    pub yamato_customer_code: Option<String>,
    /// ヤマト B2クラウド: ご請求先分類コード (optional, up to 3 digits).
    pub yamato_class_code: Option<String>,
    /// ヤマト B2クラウド: 運賃管理番号 (2 digits).
    pub yamato_freight_no: Option<String>,
}

/// `[labels]`: a custom label sheet (selected with `labels --layout NAME`) and the
/// printer offset applied to every layout.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsConfig {
    /// The custom layout's name (letters, digits, `-`; not a built-in name).
    pub layout: Option<String>,
    pub cols: Option<u32>,
    pub rows: Option<u32>,
    pub width_mm: Option<f64>,
    pub height_mm: Option<f64>,
    pub left_mm: Option<f64>,
    pub top_mm: Option<f64>,
    #[serde(default)]
    pub gap_x_mm: f64,
    #[serde(default)]
    pub gap_y_mm: f64,
    /// Printer offset: positive moves the print right.
    #[serde(default)]
    pub offset_x_mm: f64,
    /// Printer offset: positive moves the print down.
    #[serde(default)]
    pub offset_y_mm: f64,
}

/// `[survey]`: the questions `survey import` accepts, in the order the report lists them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    #[serde(default)]
    pub questions: Vec<Question>,
}

/// How a question is answered.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    /// 1〜5 の 5 段階
    Scale5,
    /// はい・いいえ
    YesNo,
    /// `choices` のどれか一つ
    Choice,
}

impl AnswerKind {
    pub fn as_ja(self) -> &'static str {
        match self {
            AnswerKind::Scale5 => "5段階（1〜5）",
            AnswerKind::YesNo => "はい・いいえ",
            AnswerKind::Choice => "選択肢",
        }
    }
}

/// One `[[survey.questions]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The column heading on the keyed sheet (e.g. `Q1`).
    #[serde(default)]
    pub code: String,
    /// The question as printed on the questionnaire; also accepted as the heading.
    #[serde(default)]
    pub text: String,
    pub kind: AnswerKind,
    /// The answers a `choice` question allows, in the order the report lists them.
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramInfo {
    pub name: String,
    pub municipality: String,
    #[serde(default)]
    pub department: String,
    pub contractor: String,
    /// 受託者の所在地 and 代表者 (title and name), printed on the erasure certificate
    /// above the seal; optional, so program files without them still load.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contractor_address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contractor_representative: String,
    pub contract_no: String,
    #[serde(deserialize_with = "de_date")]
    pub start: NaiveDate,
    #[serde(deserialize_with = "de_date")]
    pub end: NaiveDate,
    #[serde(default = "default_max_daily_steps")]
    pub max_daily_steps: i64,
}

fn default_max_daily_steps() -> i64 {
    60000
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub steps: i64,
    pub points: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgeBands {
    pub min_age: u32,
    pub bands: Vec<Band>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bonus {
    pub name: String,
    pub min_days: u32,
    pub min_steps: i64,
    pub points: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointsRules {
    pub bands: Vec<Band>,
    #[serde(default)]
    pub daily_cap: Option<i64>,
    #[serde(default)]
    pub age_bands: Vec<AgeBands>,
    #[serde(default)]
    pub bonus: Vec<Bonus>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prize {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub points: i64,
    pub stock: i64,
    #[serde(default)]
    pub per_person: Option<i64>,
}

/// The longest prize code an order file can carry.
pub const PRIZE_CODE_MAX_LEN: usize = 20;

/// Why a text cannot be a prize code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrizeCodeError {
    Empty,
    /// Not letters, digits, `-` and `_` within [`PRIZE_CODE_MAX_LEN`]: the code as read.
    Unreadable(String),
}

/// A prize code as it is compared and stored: the cell normalization every sheet value
/// gets (NFKC, trimmed), in upper case, so `ｑ１`, ` q1 ` and `Q1` are one code. The
/// program file's `prizes[i].code` and an order file's 景品コード both read through
/// here, so the two always meet.
pub fn prize_code(raw: &str) -> std::result::Result<String, PrizeCodeError> {
    let code = crate::sheet::normalize::normalize(raw).to_ascii_uppercase();
    if code.is_empty() {
        Err(PrizeCodeError::Empty)
    } else if code.len() > PRIZE_CODE_MAX_LEN
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Err(PrizeCodeError::Unreadable(code))
    } else {
        Ok(code)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 取扱責任者
    Responsible,
    /// 取扱者
    Handler,
}

impl Role {
    pub fn as_ja(self) -> &'static str {
        match self {
            Role::Responsible => "取扱責任者",
            Role::Handler => "取扱者",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub name: String,
    pub role: Role,
}

/// TOML dates are written bare (`start = 2025-05-14`); a quoted string is accepted too.
fn de_date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Dt(toml::value::Datetime),
        S(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Dt(dt) => match (dt.date, dt.time) {
            (Some(date), None) => {
                return NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
                .ok_or_else(|| serde::de::Error::custom("no such date"))
            }
            _ => dt.to_string(),
        },
        Raw::S(s) => s,
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
        serde::de::Error::custom(format!("'{text}' is not a date (write it as 2025-05-14)"))
    })
}

impl Program {
    /// Parse and check a program file's text. `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Program> {
        Program::read(text, origin, true)
    }

    /// The program `init` stored (in the database, or a close-out's state), checked as
    /// at `init` except for prize codes: one an earlier build accepted that no order can
    /// match (`景品1`), or that reads like another, is kept as it is rather than refused,
    /// so a database made then still opens and can be closed out.
    pub fn load_stored(text: &str, origin: &str) -> Result<Program> {
        Program::read(text, origin, false)
    }

    fn read(text: &str, origin: &str, strict_codes: bool) -> Result<Program> {
        let mut program: Program = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => bail!(
                "{origin}: プログラムファイルを読めません (cannot read the program file):\n{}",
                e.to_string().trim_end()
            ),
        };
        let problems = program.check_with(strict_codes);
        // Codes are kept as orders are read, so limits, counts and names all meet the
        // orders stored under them (`q1` in the file is `Q1` on the order form).
        for pr in &mut program.prizes {
            if let Ok(code) = prize_code(&pr.code) {
                pr.code = code;
            }
        }
        if !problems.is_empty() {
            bail!(
                "{origin}: プログラムファイルに誤りがあります (the program file has {} mistake(s)); fix each key and run again:\n{}",
                problems.len(),
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        Ok(program)
    }

    /// Every semantic mistake, each naming its key.
    pub fn check(&self) -> Vec<String> {
        self.check_with(true)
    }

    fn check_with(&self, strict_codes: bool) -> Vec<String> {
        let mut out = Vec::new();
        let p = &self.program;
        for (key, v) in [
            ("program.name", &p.name),
            ("program.municipality", &p.municipality),
            ("program.contractor", &p.contractor),
            ("program.contract_no", &p.contract_no),
        ] {
            if v.trim().is_empty() {
                out.push(format!("{key}: 空です (must not be empty)"));
            }
        }
        if self.report.eligible_population.is_some_and(|n| n <= 0) {
            out.push(
                "report.eligible_population: 1以上の人数を書いてください (must be a positive number of people)"
                    .to_string(),
            );
        }
        if self
            .report
            .baseline_threshold
            .is_some_and(|n| !(1..=100_000).contains(&n))
        {
            out.push(
                "report.baseline_threshold: 1〜100000 の歩数を書いてください (must be 1..=100000 steps)"
                    .to_string(),
            );
        }
        if p.end < p.start {
            out.push(format!(
                "program.end: 終了日 {} が開始日 {} より前です (end is before start)",
                p.end, p.start
            ));
        }
        if p.max_daily_steps <= 0 {
            out.push("program.max_daily_steps: 1 以上にしてください (must be positive)".into());
        }
        check_bands("points.bands", &self.points.bands, &mut out);
        if let Some(cap) = self.points.daily_cap {
            if cap <= 0 {
                out.push("points.daily_cap: 1 以上にしてください (must be positive)".into());
            }
        }
        let mut last_age = None;
        for (i, ab) in self.points.age_bands.iter().enumerate() {
            check_bands(&format!("points.age_bands[{i}].bands"), &ab.bands, &mut out);
            if let Some(prev) = last_age {
                if ab.min_age <= prev {
                    out.push(format!(
                        "points.age_bands[{i}].min_age: 年齢は昇順に (min_age must increase: {} after {prev})",
                        ab.min_age
                    ));
                }
            }
            last_age = Some(ab.min_age);
        }
        for (i, b) in self.points.bonus.iter().enumerate() {
            if b.name.trim().is_empty() {
                out.push(format!(
                    "points.bonus[{i}].name: 空です (must not be empty)"
                ));
            }
            if b.min_days == 0 || b.min_days > 31 {
                out.push(format!(
                    "points.bonus[{i}].min_days: 1〜31 にしてください (must be 1..31, is {})",
                    b.min_days
                ));
            }
            if b.points <= 0 {
                out.push(format!(
                    "points.bonus[{i}].points: 1 以上にしてください (must be positive)"
                ));
            }
        }
        // Each code as an order file's 景品コード cell reads, with the first prize that
        // had it: two codes that read alike would take each other's orders.
        let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
        for (i, pr) in self.prizes.iter().enumerate() {
            match prize_code(&pr.code) {
                Err(PrizeCodeError::Empty) => out.push(format!(
                    "prizes[{i}].code: 景品コードがありません (a prize has no code)"
                )),
                Err(PrizeCodeError::Unreadable(_)) if !strict_codes => {}
                Err(PrizeCodeError::Unreadable(code)) => out.push(format!(
                    "prizes[{i}].code: 景品コード「{}」は申込書の景品コードとして読めません。\
                     英数字と - _ の {PRIZE_CODE_MAX_LEN} 文字以内にしてください \
                     (no order code can match it: use letters, digits, - and _)",
                    code.trim()
                )),
                Ok(code) => {
                    if !strict_codes {
                        // Two prizes reading alike: orders go to the first, as before.
                    } else if let Some(&first) = codes.get(&code) {
                        let shown = if pr.code == code {
                            code.clone()
                        } else {
                            format!("「{}」（読むと {code}）", pr.code)
                        };
                        out.push(format!(
                            "prizes[{i}].code: 景品コード {shown} は prizes[{first}].code「{}」と同じコードになります。\
                             申込書で区別できないので、別のコードにしてください (duplicate code after normalization)",
                            self.prizes[first].code
                        ));
                    } else {
                        codes.insert(code, i);
                    }
                }
            }
            if pr.name.trim().is_empty() {
                out.push(format!(
                    "prizes[{i}].name: 景品名がありません (a prize has no name)"
                ));
            }
            if pr.points <= 0 {
                out.push(format!(
                    "prizes[{i}].points: 1 以上にしてください (must be positive)"
                ));
            }
            if pr.stock < 0 {
                out.push(format!(
                    "prizes[{i}].stock: 0 以上にしてください (must not be negative)"
                ));
            }
            if let Some(pp) = pr.per_person {
                if pp <= 0 {
                    out.push(format!(
                        "prizes[{i}].per_person: 1 以上にしてください (must be positive)"
                    ));
                }
            }
        }
        if self.handlers.is_empty() {
            out.push("handlers: 取扱者が一人もいません (name at least one [[handlers]])".into());
        }
        if !self.handlers.iter().any(|h| h.role == Role::Responsible) {
            out.push(
                "handlers: 取扱責任者 (role = \"responsible\") がいません (name the responsible handler)"
                    .into(),
            );
        }
        if let Some(sh) = &self.shipping {
            check_shipping(sh, &mut out);
        }
        if let Some(l) = &self.labels {
            check_labels(l, &mut out);
        }
        check_survey(&self.survey, &mut out);
        let mut names = std::collections::BTreeSet::new();
        for (i, h) in self.handlers.iter().enumerate() {
            if h.name.trim().is_empty() {
                out.push(format!("handlers[{i}].name: 空です (must not be empty)"));
            } else if !names.insert(handler_key(&h.name)) {
                out.push(format!(
                    "handlers[{i}].name: {} が重複しています (duplicate handler)",
                    h.name
                ));
            }
        }
        out
    }

    /// The designated handler with this name, matching as people type names (full-width
    /// or half-width spaces, surrounding blanks).
    pub fn handler(&self, name: &str) -> Option<&Handler> {
        let key = handler_key(name);
        self.handlers.iter().find(|h| handler_key(&h.name) == key)
    }

    pub fn responsible(&self) -> Option<&Handler> {
        self.handlers.iter().find(|h| h.role == Role::Responsible)
    }

    /// The declared question with this code.
    pub fn question(&self, code: &str) -> Option<&Question> {
        self.survey.questions.iter().find(|q| q.code == code)
    }

    pub fn prize(&self, code: &str) -> Option<&Prize> {
        self.prizes.iter().find(|p| p.code == code)
    }

    /// Whether a date can earn points.
    pub fn in_period(&self, d: NaiveDate) -> bool {
        d >= self.program.start && d <= self.program.end
    }
}

fn check_shipping(sh: &Shipping, out: &mut Vec<String>) {
    use crate::sheet::normalize::{normalize_phone, normalize_postal};
    let text_keys = [
        ("shipping.sender_name", &sh.sender_name),
        ("shipping.sender_address", &sh.sender_address),
        ("shipping.sender_address2", &sh.sender_address2),
    ];
    for (key, v) in text_keys {
        let Some(v) = v else { continue };
        if v.trim().is_empty() && key != "shipping.sender_address2" {
            out.push(format!(
                "{key}: 空です (must not be empty; leave the key out instead)"
            ));
        }
        if let Some(bad) = crate::cp932::unencodable(v).first() {
            out.push(format!(
                "{key}: 「{}」({}) は CP932（送り状ソフトの文字コード）で表せません。別の字に直してください (not encodable in CP932)",
                bad.ch,
                bad.code_point()
            ));
        }
    }
    if let Some(v) = &sh.sender_postal_code {
        if normalize_postal(v).is_none() {
            out.push(format!(
                "shipping.sender_postal_code: 「{v}」は郵便番号ではありません（例: \"160-0023\"） (7 digits)"
            ));
        }
    }
    if let Some(v) = &sh.sender_phone {
        if normalize_phone(v).is_none() {
            out.push(format!(
                "shipping.sender_phone: 「{v}」は電話番号ではありません（例: \"03-1234-5678\"） (10 or 11 digits)"
            ));
        }
    }
    let digits = |v: &str, lo: usize, hi: usize| {
        v.chars().all(|c| c.is_ascii_digit()) && (lo..=hi).contains(&v.len())
    };
    if let Some(v) = &sh.yamato_customer_code {
        if !digits(v, 10, 12) {
            out.push(format!(
                "shipping.yamato_customer_code: ご請求先顧客コードは半角数字 10〜12 桁です（「{v}」） (10 to 12 digits)"
            ));
        }
    }
    if let Some(v) = &sh.yamato_class_code {
        if !digits(v, 0, 3) {
            out.push(format!(
                "shipping.yamato_class_code: ご請求先分類コードは半角数字 3 桁までです（「{v}」） (up to 3 digits)"
            ));
        }
    }
    if let Some(v) = &sh.yamato_freight_no {
        if !digits(v, 2, 2) {
            out.push(format!(
                "shipping.yamato_freight_no: 運賃管理番号は半角数字 2 桁です（「{v}」） (2 digits)"
            ));
        }
    }
}

fn check_labels(l: &LabelsConfig, out: &mut Vec<String>) {
    use crate::layout::{Layout, BUILTIN, MAX_OFFSET_MM};
    for (key, v) in [
        ("labels.offset_x_mm", l.offset_x_mm),
        ("labels.offset_y_mm", l.offset_y_mm),
    ] {
        if !v.is_finite() || v.abs() > MAX_OFFSET_MM {
            out.push(format!(
                "{key}: プリンタの補正は ±{MAX_OFFSET_MM} mm までです（{v}） (printer offset out of range)"
            ));
        }
    }
    let geometry = [
        ("labels.cols", l.cols.is_some()),
        ("labels.rows", l.rows.is_some()),
        ("labels.width_mm", l.width_mm.is_some()),
        ("labels.height_mm", l.height_mm.is_some()),
        ("labels.left_mm", l.left_mm.is_some()),
        ("labels.top_mm", l.top_mm.is_some()),
    ];
    let given = geometry.iter().filter(|(_, g)| *g).count();
    if given == 0 && l.gap_x_mm == 0.0 && l.gap_y_mm == 0.0 {
        if let Some(name) = &l.layout {
            out.push(format!(
                "labels.layout: 「{name}」の寸法 (cols, rows, width_mm, height_mm, left_mm, top_mm) がありません (a custom layout needs its geometry)"
            ));
        }
        return;
    }
    for (key, g) in geometry {
        if !g {
            out.push(format!(
                "{key}: 独自のラベル用紙にはこの値が必要です (a custom layout needs every dimension)"
            ));
        }
    }
    let name = match &l.layout {
        None => {
            out.push(
                "labels.layout: 独自のラベル用紙の名前がありません（例: layout = \"my-12\"） (name the custom layout)"
                    .into(),
            );
            return;
        }
        Some(n) => n.clone(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        out.push(format!(
            "labels.layout: 「{name}」: 名前は半角英数字と - _ で付けてください (letters, digits, - and _)"
        ));
    }
    if BUILTIN.iter().any(|b| b.name == name) {
        out.push(format!(
            "labels.layout: 「{name}」は組込みの用紙名です。別の名前にしてください (clashes with a built-in layout)"
        ));
    }
    if given < geometry.len() {
        return;
    }
    let layout = Layout {
        name,
        cols: l.cols.unwrap_or(0),
        rows: l.rows.unwrap_or(0),
        width_mm: l.width_mm.unwrap_or(0.0),
        height_mm: l.height_mm.unwrap_or(0.0),
        left_mm: l.left_mm.unwrap_or(0.0),
        top_mm: l.top_mm.unwrap_or(0.0),
        gap_x_mm: l.gap_x_mm,
        gap_y_mm: l.gap_y_mm,
    };
    for p in layout.check() {
        out.push(format!("labels.{p}"));
    }
}

/// The form handler names compare in (also the key slots' names, `crate::keys`).
pub fn handler_key(name: &str) -> String {
    crate::sheet::normalize::header_key(name)
}

/// Headings a survey sheet already uses for its own columns: a question may not take
/// one of them as its code or text.
pub const SURVEY_RESERVED: &[&str] = &[
    "参加者番号",
    "会員番号",
    "参加者ID",
    "participant_id",
    "participant",
    "回答時期",
    "時期",
    "timing",
];

fn check_survey(survey: &Survey, out: &mut Vec<String>) {
    use crate::sheet::normalize::header_key;
    let reserved: Vec<String> = SURVEY_RESERVED.iter().map(|s| header_key(s)).collect();
    // Codes and texts are both headings on the sheet, so neither may repeat anywhere.
    let mut headings = std::collections::BTreeMap::new();
    for (i, q) in survey.questions.iter().enumerate() {
        let key = format!("survey.questions[{i}]");
        let code = q.code.trim();
        if code.is_empty() {
            out.push(format!(
                "{key}.code: 設問コードがありません (a question has no code)"
            ));
        } else if code.chars().count() > 20 {
            out.push(format!(
                "{key}.code: 設問コード「{code}」は 20 文字までにしてください (code too long)"
            ));
        }
        if q.text.trim().is_empty() {
            out.push(format!(
                "{key}.text: 設問文がありません (a question has no text)"
            ));
        }
        for (field, value) in [("code", code), ("text", q.text.trim())] {
            let k = header_key(value);
            if k.is_empty() {
                continue;
            }
            if reserved.contains(&k) {
                out.push(format!(
                    "{key}.{field}: 「{value}」はアンケート表の参加者番号・回答時期の列名と同じです。別の名前にしてください (reserved heading)"
                ));
            } else if crate::validate::header::is_forbidden(&k) {
                out.push(format!(
                    "{key}.{field}: 「{value}」は思想・信条・宗教・犯罪歴・病歴などの要配慮情報を尋ねるおそれがあり、\
                     契約（個人情報取扱特記事項）により収集できません (the contract forbids this category)"
                ));
            } else if let Some(prev) = headings.insert(k, format!("{key}.{field}")) {
                if !(field == "text" && prev == format!("{key}.code")) {
                    out.push(format!(
                        "{key}.{field}: 「{value}」が {prev} と重複しています (duplicate code or text)"
                    ));
                }
            }
        }
        match q.kind {
            AnswerKind::Choice => {
                if q.choices.is_empty() {
                    out.push(format!(
                        "{key}.choices: 選択肢がありません。choices = [\"…\", \"…\"] を書いてください (a choice question needs choices)"
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                for (j, c) in q.choices.iter().enumerate() {
                    let n = crate::sheet::normalize::normalize(c).into_owned();
                    if n.is_empty() {
                        out.push(format!("{key}.choices[{j}]: 空の選択肢です (empty choice)"));
                    } else if n.bytes().all(|b| b.is_ascii_digit()) {
                        // Keyed numbers are read as the choice's position (1 = first).
                        out.push(format!(
                            "{key}.choices[{j}]: 選択肢「{c}」は数字だけです。番号での入力（1 = 最初の選択肢）と区別できないため、言葉で書いてください (a choice may not be only digits)"
                        ));
                    } else if !seen.insert(n) {
                        out.push(format!(
                            "{key}.choices[{j}]: 選択肢「{c}」が重複しています (duplicate choice)"
                        ));
                    }
                }
            }
            AnswerKind::Scale5 | AnswerKind::YesNo => {
                if !q.choices.is_empty() {
                    out.push(format!(
                        "{key}.choices: 選択肢は kind = \"choice\" の設問にだけ書けます（この設問は {}） (choices only for kind = \"choice\")",
                        q.kind.as_ja()
                    ));
                }
            }
        }
    }
}

fn check_bands(key: &str, bands: &[Band], out: &mut Vec<String>) {
    if bands.is_empty() {
        out.push(format!("{key}: 段階が一つもありません (at least one band)"));
    }
    for (i, w) in bands.windows(2).enumerate() {
        if w[1].steps <= w[0].steps {
            out.push(format!(
                "{key}[{}].steps: 歩数は増えていく必要があります (bands must increase: {} after {})",
                i + 1,
                w[1].steps,
                w[0].steps
            ));
        }
        if w[1].points < w[0].points {
            out.push(format!(
                "{key}[{}].points: ポイントが前の段階より少ないです (points must not decrease: {} after {})",
                i + 1,
                w[1].points,
                w[0].points
            ));
        }
    }
    for (i, b) in bands.iter().enumerate() {
        if b.steps <= 0 || b.points <= 0 {
            out.push(format!(
                "{key}[{i}]: 歩数とポイントは 1 以上 (steps and points must be positive)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE: &str = include_str!("../examples/program.toml");

    #[test]
    fn sample_parses() {
        let p = Program::parse(SAMPLE, "program.toml").unwrap();
        assert_eq!(
            p.program.start,
            NaiveDate::from_ymd_opt(2025, 5, 14).unwrap()
        );
        assert!(p.handler("山田　太郎").is_some());
        assert!(p.handler("山田太郎").is_some());
        assert!(p.handler("田中").is_none());
        assert_eq!(p.survey.questions.len(), 4);
        assert_eq!(p.question("Q3").map(|q| q.kind), Some(AnswerKind::Choice));
    }

    #[test]
    fn survey_mistakes_are_named() {
        let text = SAMPLE
            .replace(
                "choices = [\"ほぼ毎日\", \"週に3〜4日\", \"週に1〜2日\", \"ほとんど外出しない\"]",
                "choices = [\"1\", \"ほぼ毎日\", \"ほぼ毎日\"]",
            )
            .replace("kind = \"yesno\"", "kind = \"yesno\"\nchoices = [\"はい\"]")
            .replace("code = \"Q4\"", "code = \"回答時期\"");
        let e = Program::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(
            e.contains("survey.questions[2].choices[0]: 選択肢「1」は数字だけです"),
            "{e}"
        );
        assert!(
            e.contains("survey.questions[2].choices[2]: 選択肢「ほぼ毎日」が重複"),
            "{e}"
        );
        assert!(
            e.contains("survey.questions[1].choices: 選択肢は kind = \"choice\""),
            "{e}"
        );
        assert!(
            e.contains("survey.questions[3].code: 「回答時期」は"),
            "{e}"
        );
        // A program file without a questionnaire still reads.
        let start = SAMPLE.find("# The questionnaire").unwrap();
        let end = SAMPLE.find("[[handlers]]").unwrap();
        let without = format!("{}{}", &SAMPLE[..start], &SAMPLE[end..]);
        assert!(Program::parse(&without, "p.toml")
            .unwrap()
            .survey
            .questions
            .is_empty());
    }

    #[test]
    fn unknown_key_is_named() {
        let text = SAMPLE.replace("daily_cap = 5", "daily_cap = 5\ndaily_kap = 3");
        let e = Program::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(e.contains("daily_kap"), "{e}");
    }

    #[test]
    fn every_mistake_is_named() {
        let text = SAMPLE
            .replace("end = 2026-03-31", "end = 2025-01-01")
            .replace(
                "{ steps = 4000, points = 2 }",
                "{ steps = 1000, points = 2 }",
            )
            .replace("code = \"Q1\"", "code = \"\"");
        let e = Program::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(e.contains("program.end"), "{e}");
        assert!(e.contains("points.bands[1].steps"), "{e}");
        assert!(e.contains("prizes[0].code"), "{e}");
    }

    #[test]
    fn prize_codes_read_as_order_codes_do() {
        let with = |codes: &[&str]| {
            let start = SAMPLE.find("[[prizes]]").unwrap();
            let mut text = SAMPLE[..start].to_string();
            for (i, c) in codes.iter().enumerate() {
                text.push_str(&format!(
                    "[[prizes]]\ncode = \"{c}\"\nname = \"景品{i}\"\npoints = 10\nstock = 5\n\n"
                ));
            }
            let rest = &SAMPLE[start..];
            text.push_str(&rest[rest.find("[[handlers]]").unwrap()..]);
            Program::parse(&text, "p.toml")
        };
        let p = with(&["q1", "ｑ２", " Q3 ", "a-b_9"]).unwrap();
        let codes: Vec<&str> = p.prizes.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["Q1", "Q2", "Q3", "A-B_9"]);
        assert!(p.prize("Q2").is_some());

        let e = with(&["景品1", "Q1"]).unwrap_err().to_string();
        assert!(
            e.contains("prizes[0].code: 景品コード「景品1」は申込書の景品コードとして読めません"),
            "{e}"
        );
        let e = with(&["Q1", "G1", "ｑ１"]).unwrap_err().to_string();
        assert!(
            e.contains("prizes[2].code: 景品コード 「ｑ１」（読むと Q1） は prizes[0].code「Q1」と同じコードになります"),
            "{e}"
        );
        let e = with(&["q1", "Q1"]).unwrap_err().to_string();
        assert!(
            e.contains("prizes[1].code: 景品コード Q1 は prizes[0].code「q1」と同じ"),
            "{e}"
        );
        assert!(with(&["", "Q1"])
            .unwrap_err()
            .to_string()
            .contains("prizes[0].code: 景品コードがありません"));
    }

    #[test]
    fn a_stored_program_with_codes_init_now_refuses_still_loads() {
        let text = SAMPLE
            .replace("code = \"T1\"", "code = \"景品1\"")
            .replace("code = \"W1\"", "code = \"q1\"");
        assert!(Program::parse(&text, "p.toml").is_err());
        let p = Program::load_stored(&text, "stored program").unwrap();
        let codes: Vec<&str> = p.prizes.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["Q1", "景品1", "Q1"]);
        // Everything else is still checked.
        let broken = text.replace("end = 2026-03-31", "end = 2025-01-01");
        assert!(Program::load_stored(&broken, "stored program").is_err());
    }
}
