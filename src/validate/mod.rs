//! Validation: what is wrong with a keyed value, said once. The problem record (code,
//! place, message) every reader produces lives here.

use crate::sheet::cell_name;

/// One problem with one cell (or row, or the header), with a stable code.
#[derive(Debug, Clone)]
pub struct Problem {
    pub sheet: String,
    pub row: Option<u32>,
    pub col: Option<usize>,
    /// The column as headed in the file.
    pub column: String,
    /// The cell's value as keyed.
    pub raw: String,
    pub code: &'static str,
    pub message: String,
}

impl Problem {
    /// `Sheet1!C12`, `Sheet1!12` (a whole row) or `Sheet1` (the sheet).
    pub fn place(&self) -> String {
        match (self.row, self.col) {
            (Some(r), Some(c)) => format!("{}!{}", self.sheet, cell_name(r, c)),
            (Some(r), None) => format!("{}!{}行目", self.sheet, r),
            _ => self.sheet.clone(),
        }
    }
    pub fn cell(&self) -> String {
        match (self.row, self.col) {
            (Some(r), Some(c)) => cell_name(r, c),
            _ => String::new(),
        }
    }
}
