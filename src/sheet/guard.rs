//! What the workbook readers share: the panic guard around calamine, the damaged-file
//! message, the OLE signature, and the per-sheet context for bounds checks and messages.
//! A leaf below `workbook.rs` and `xls_scan.rs`, so neither imports the other's helpers.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::{anyhow, Result};

use super::cell_name;

pub(super) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Run `f`, turning a panic inside calamine into an error naming the file.
pub(super) fn guarded<T>(file: &str, f: impl FnOnce() -> T) -> Result<T> {
    super::GUARDED.with(|g| g.set(g.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    super::GUARDED.with(|g| g.set(g.get().saturating_sub(1)));
    r.map_err(|_| panic_error(file))
}

pub(super) fn panic_error(file: &str) -> anyhow::Error {
    anyhow!(
        "{file}: ブックの内容を読めません（読み込み中に想定外の形式に出会いました）。\
         Excel で開き直して「Excel ブック (*.xlsx)」として保存し直してください。 \
         (internal error while reading the workbook)"
    )
}

pub(super) fn damaged_error(
    file: &str,
    what: &str,
    detail: &dyn std::fmt::Display,
) -> anyhow::Error {
    anyhow!(
        "{file}: ブックが壊れているか、途中で切れています（{what}）。\
         Excel で開き直して保存し直してください。 (workbook is damaged or truncated: {detail})"
    )
}

/// File, sheet and limits, for bounds checks and messages.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) sheet: String,
    pub(super) max_rows: u32,
    pub(super) max_cols: usize,
}

impl Ctx<'_> {
    /// A cell with data at 0-based (row, col) must lie inside the limits.
    pub(super) fn check(&self, row: u64, col: u64) -> Result<()> {
        let max_cols = u64::try_from(self.max_cols).unwrap_or(u64::MAX);
        if row < u64::from(self.max_rows) && col < max_cols {
            return Ok(());
        }
        let (file, sheet) = (self.file, &self.sheet);
        let number = u32::try_from(row.saturating_add(1)).unwrap_or(u32::MAX);
        let name = cell_name(number, usize::try_from(col).unwrap_or(usize::MAX));
        let (max_rows, max_cols) = (self.max_rows, self.max_cols);
        Err(anyhow!(
            "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）にデータがあり、\
             読み込む範囲（{max_cols} 列 × {max_rows} 行）から大きく外れています。\
             そのセルを削除するか、必要なデータだけを新しいシートにコピーしてから、\
             もう一度実行してください。 \
             (sheet has data far outside the expected area: {sheet}!{name})"
        ))
    }

    pub(super) fn sheet_damaged(&self, detail: &dyn std::fmt::Display) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」が壊れていて読めません（{detail}）。\
             Excel で開き直して保存し直してください。 (sheet is damaged)"
        )
    }

    pub(super) fn damaged_near(&self, row: u32, detail: &dyn std::fmt::Display) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」の {row}行目付近が壊れていて読めません（{detail}）。\
             Excel で開き直して保存し直してください。 (sheet is damaged near row {row})"
        )
    }

    /// A cell of an earlier row after a later one: Excel writes rows in order, so the
    /// sheet was damaged or made by a tool that broke the format. Read on, the earlier
    /// row would come round a second time.
    pub(super) fn out_of_order(&self, row: u32, col: u32, after: u32) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        let name = cell_name(
            row.saturating_add(1),
            usize::try_from(col).unwrap_or(usize::MAX),
        );
        anyhow!(
            "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）が {after}行目より後に置かれていて、\
             行の並びが壊れています。Excel で開き直して保存し直してください。 \
             (sheet is damaged: cell {sheet}!{name} comes after row {after})"
        )
    }

    pub(super) fn not_a_worksheet(&self) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」はグラフなどのシートで、表のデータがありません。\
             データの入ったシートを指定してください。 (not a worksheet)"
        )
    }
}
