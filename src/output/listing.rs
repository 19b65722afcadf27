//! Listings on standard output in the form the reader asked for: `table` (aligned
//! columns for a person at a terminal, East Asian wide characters counted as two),
//! `csv` (for Excel and scripts) or `json` (an array of objects keyed by the column
//! headers, numbers as numbers). Every listing command (`batches`, `prizes`, `points`,
//! `audit verify`, `status`) prints through here, so the three forms agree.

use super::Value;
use anyhow::Result;
use std::io::Write;

/// `--format table|csv|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListFormat {
    #[default]
    Table,
    Csv,
    Json,
}

/// How many rows a table reads before it fixes its column widths: a listing of any
/// length is printed in bounded memory; a later, longer value only shifts its own line.
const TABLE_WIDTH_ROWS: usize = 1000;

/// One listing being printed.
pub struct Listing<W: Write> {
    fmt: ListFormat,
    out: W,
    headers: Vec<String>,
    /// Table rows held until the widths are known.
    held: Vec<Vec<String>>,
    numeric: Vec<bool>,
    widths: Option<Vec<usize>>,
    rows: u64,
}

impl Listing<std::io::StdoutLock<'static>> {
    pub fn stdout(fmt: ListFormat, headers: &[&str]) -> Result<Self> {
        Listing::new(fmt, std::io::stdout().lock(), headers)
    }
}

impl<W: Write> Listing<W> {
    pub fn new(fmt: ListFormat, out: W, headers: &[&str]) -> Result<Self> {
        let mut l = Listing {
            fmt,
            out,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            held: Vec::new(),
            numeric: vec![true; headers.len()],
            widths: None,
            rows: 0,
        };
        match fmt {
            ListFormat::Table => {}
            ListFormat::Csv => l.csv_record(headers.iter().copied())?,
            ListFormat::Json => l.out.write_all(b"[")?,
        }
        Ok(l)
    }

    fn csv_record<'a>(&mut self, fields: impl Iterator<Item = &'a str>) -> Result<()> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        w.write_record(fields)?;
        let buf = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        self.out.write_all(&buf)?;
        Ok(())
    }

    pub fn row(&mut self, values: &[Value]) -> Result<()> {
        self.rows += 1;
        match self.fmt {
            ListFormat::Csv => {
                // Opened in Excel: a cell starting = + - @ is not run as a formula.
                let cells: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        Value::Text(t) => super::neutralize(t).into_owned(),
                        other => plain(other),
                    })
                    .collect();
                self.csv_record(cells.iter().map(String::as_str))
            }
            ListFormat::Json => {
                let mut obj = serde_json::Map::new();
                for (i, v) in values.iter().enumerate() {
                    let key = self
                        .headers
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("列{}", i + 1));
                    obj.insert(key, json_value(v));
                }
                let sep = if self.rows == 1 { "\n" } else { ",\n" };
                self.out.write_all(sep.as_bytes())?;
                serde_json::to_writer(&mut self.out, &obj)?;
                Ok(())
            }
            ListFormat::Table => {
                let cells: Vec<String> = values.iter().map(shown).collect();
                for (i, v) in values.iter().enumerate() {
                    if let Some(n) = self.numeric.get_mut(i) {
                        *n &= matches!(v, Value::Int(_) | Value::Float(_) | Value::Empty);
                    }
                }
                if self.widths.is_some() {
                    self.print_table_row(&cells)
                } else {
                    self.held.push(cells);
                    if self.held.len() >= TABLE_WIDTH_ROWS {
                        self.fix_widths()?;
                    }
                    Ok(())
                }
            }
        }
    }

    fn fix_widths(&mut self) -> Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
        for r in &self.held {
            for (i, c) in r.iter().enumerate() {
                if i >= widths.len() {
                    widths.push(0);
                }
                widths[i] = widths[i].max(display_width(c));
            }
        }
        self.widths = Some(widths);
        let head = self.headers.clone();
        self.print_line(&head)?;
        for r in std::mem::take(&mut self.held) {
            self.print_table_row(&r)?;
        }
        Ok(())
    }

    fn print_table_row(&mut self, cells: &[String]) -> Result<()> {
        self.print_line(cells)
    }

    fn print_line(&mut self, cells: &[String]) -> Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        let mut line = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(display_width(c));
            let right = self.numeric.get(i).copied().unwrap_or(false);
            if i > 0 {
                line.push_str("  ");
            }
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if i < last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        let line = super::terminal_safe(line.trim_end());
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    /// End the listing (a table with no row still prints its header; JSON closes its
    /// array).
    pub fn finish(mut self) -> Result<u64> {
        match self.fmt {
            ListFormat::Table => {
                if self.widths.is_none() {
                    self.fix_widths()?;
                }
            }
            ListFormat::Csv => {}
            ListFormat::Json => {
                self.out
                    .write_all(if self.rows == 0 { b"]\n" } else { b"\n]\n" })?;
            }
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// A value as CSV holds it: numbers plain, text as is.
fn plain(v: &Value) -> String {
    match v {
        Value::Empty => String::new(),
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
    }
}

/// A value as a person reads it at a terminal: thousands separated.
fn shown(v: &Value) -> String {
    match v {
        Value::Int(i) => thousands(*i),
        other => plain(other),
    }
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Empty => serde_json::Value::Null,
        Value::Text(s) => serde_json::Value::String(s.clone()),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Columns a terminal gives the text: East Asian wide and full-width characters take
/// two, combining marks none.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F | 0x200B..=0x200F | 0x3099..=0x309A | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(fmt: ListFormat, rows: &[Vec<Value>]) -> String {
        let mut out = Vec::new();
        let mut l = Listing::new(fmt, &mut out, &["番号", "種類", "行"]).unwrap();
        for r in rows {
            l.row(r).unwrap();
        }
        l.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![Value::Int(1), "名簿".into(), Value::Int(12)],
            vec![Value::Int(12), "歩数".into(), Value::Int(31000)],
        ]
    }

    #[test]
    fn a_table_aligns_wide_characters_and_right_aligns_numbers() {
        assert_eq!(
            print(ListFormat::Table, &rows()),
            "番号  種類      行\n   1  名簿      12\n  12  歩数  31,000\n"
        );
    }

    #[test]
    fn csv_and_json_keep_numbers_plain() {
        assert_eq!(
            print(ListFormat::Csv, &rows()),
            "番号,種類,行\n1,名簿,12\n12,歩数,31000\n"
        );
        let j: serde_json::Value = serde_json::from_str(&print(ListFormat::Json, &rows())).unwrap();
        assert_eq!(j[1]["行"], 31000);
        assert_eq!(j[0]["種類"], "名簿");
        let empty: serde_json::Value = serde_json::from_str(&print(ListFormat::Json, &[])).unwrap();
        assert_eq!(empty, serde_json::json!([]));
    }

    #[test]
    fn thousands_and_widths() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(display_width("ｱｲ１２ab"), 2 + 4 + 2);
    }
}
