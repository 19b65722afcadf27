//! The geometry of a label sheet: the built-in A4 sheets, a custom sheet's dimensions
//! and their checks. It sits below both the program file (which checks a custom
//! `[labels]` sheet at `init`) and the label document (`output::labels`, which lays the
//! labels out), so the program file never imports the output layer.

pub const PAPER_W_MM: f64 = 210.0;
pub const PAPER_H_MM: f64 = 297.0;
/// Padding inside each label, on every side.
pub const PAD_MM: f64 = 3.0;
/// Text is kept at least this far from the paper's edge: most printers cannot print the
/// outer 3–5 mm, which matters on labels with no sheet margin (a4-21, a4-24).
pub const SAFE_MM: f64 = 5.0;
/// The printer offset moves the text inside each label's padding, so it is limited to
/// the padding.
pub const MAX_OFFSET_MM: f64 = PAD_MM;

/// A label sheet: `cols` × `rows` labels of `width_mm` × `height_mm`, the first at
/// (`left_mm`, `top_mm`) from the paper's top-left corner, with gaps between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub name: String,
    pub cols: u32,
    pub rows: u32,
    pub width_mm: f64,
    pub height_mm: f64,
    pub left_mm: f64,
    pub top_mm: f64,
    pub gap_x_mm: f64,
    pub gap_y_mm: f64,
}

/// A built-in layout: a common Japanese A4 label sheet, with the products it matches.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    pub cols: u32,
    pub rows: u32,
    pub width_mm: f64,
    pub height_mm: f64,
    pub left_mm: f64,
    pub top_mm: f64,
    pub what: &'static str,
    /// Products with this geometry (the gLabels templates' names).
    pub products: &'static str,
}

/// The built-in sheets, each the geometry of a product on sale (gLabels templates; see
/// the README section). The former `a4-18` (2×9, 86.4×31.0) matched no product found
/// and was removed: describe such a sheet in the program file's `[labels]`.
pub const BUILTIN: [Builtin; 3] = [
    Builtin {
        name: "a4-12",
        cols: 2,
        rows: 6,
        width_mm: 86.4,
        height_mm: 42.3,
        left_mm: 18.6,
        top_mm: 21.2,
        what: "12面 四辺余白付 86.4×42.3 mm",
        products: "ヒサゴ ELM008 と互換品",
    },
    Builtin {
        name: "a4-21",
        cols: 3,
        rows: 7,
        width_mm: 70.0,
        height_mm: 42.3,
        left_mm: 0.0,
        top_mm: 0.45,
        what: "21面 余白なし 70.0×42.3 mm",
        products: "ヒサゴ ELM011、エーワン 31538",
    },
    Builtin {
        name: "a4-24",
        cols: 3,
        rows: 8,
        width_mm: 66.0,
        height_mm: 33.9,
        left_mm: 6.0,
        top_mm: 12.9,
        what: "24面 四辺余白付 66.0×33.9 mm",
        products: "ヒサゴ ELM012 と互換品",
    },
];

/// `labels --layout` as `--help` lists it (a test keeps it in step with [`BUILTIN`]).
pub const LAYOUT_HELP: &str = "ラベル用紙: a4-12（12面 86.4×42.3 mm、左 18.6 上 21.2: ヒサゴ ELM008 と互換品）、\
a4-21（21面 70.0×42.3 mm、余白なし: ヒサゴ ELM011、エーワン 31538）、\
a4-24（24面 66.0×33.9 mm、左 6.0 上 12.9: ヒサゴ ELM012 と互換品）、\
またはプログラムファイル [labels] の名前。初めての用紙は --calibrate で枠を印刷して合わせてください";

impl Builtin {
    pub fn layout(&self) -> Layout {
        Layout {
            name: self.name.to_string(),
            cols: self.cols,
            rows: self.rows,
            width_mm: self.width_mm,
            height_mm: self.height_mm,
            left_mm: self.left_mm,
            top_mm: self.top_mm,
            gap_x_mm: 0.0,
            gap_y_mm: 0.0,
        }
    }
}

impl Layout {
    pub fn per_page(&self) -> usize {
        (self.cols * self.rows) as usize
    }

    /// Every mistake in the geometry, each starting with its key.
    pub fn check(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=10).contains(&self.cols) {
            out.push(format!(
                "cols: 1〜10 にしてください（{}） (1 to 10)",
                self.cols
            ));
        }
        if !(1..=20).contains(&self.rows) {
            out.push(format!(
                "rows: 1〜20 にしてください（{}） (1 to 20)",
                self.rows
            ));
        }
        for (key, v, lo) in [
            ("width_mm", self.width_mm, 20.0),
            ("height_mm", self.height_mm, 15.0),
            ("left_mm", self.left_mm, 0.0),
            ("top_mm", self.top_mm, 0.0),
            ("gap_x_mm", self.gap_x_mm, 0.0),
            ("gap_y_mm", self.gap_y_mm, 0.0),
        ] {
            if !v.is_finite() || v < lo {
                out.push(format!(
                    "{key}: {lo} mm 以上にしてください（{v}） (at least {lo} mm)"
                ));
            }
        }
        if self.height_mm > 140.0 {
            out.push(format!(
                "height_mm: 140 mm までです（{}） (a spreadsheet row is at most 144 mm)",
                self.height_mm
            ));
        }
        if !out.is_empty() {
            return out;
        }
        let w = self.left_mm
            + self.cols as f64 * self.width_mm
            + (self.cols - 1) as f64 * self.gap_x_mm;
        let h = self.top_mm
            + self.rows as f64 * self.height_mm
            + (self.rows - 1) as f64 * self.gap_y_mm;
        if w > PAPER_W_MM + 0.05 {
            out.push(format!(
                "width_mm: 左余白＋ラベル幅×列＋間隔が {w:.1} mm で、A4 の幅 210 mm を超えます (does not fit the paper's width)"
            ));
        }
        if h > PAPER_H_MM + 0.05 {
            out.push(format!(
                "height_mm: 上余白＋ラベル高さ×行＋間隔が {h:.1} mm で、A4 の高さ 297 mm を超えます (does not fit the paper's height)"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_every_builtin_with_its_products() {
        for b in BUILTIN {
            assert!(LAYOUT_HELP.contains(b.name), "{}", b.name);
            assert!(LAYOUT_HELP.contains(b.products), "{}", b.products);
            assert!(
                LAYOUT_HELP.contains(&format!("{:.1}×{:.1}", b.width_mm, b.height_mm)),
                "{}",
                b.name
            );
            assert!(b.layout().check().is_empty(), "{}", b.name);
        }
        // a4-24 is the 66.0×33.9 sheet (Hisago ELM012), not 70×33.9.
        let b = BUILTIN.iter().find(|b| b.name == "a4-24").unwrap();
        assert_eq!((b.width_mm, b.left_mm, b.top_mm), (66.0, 6.0, 12.9));
        assert!(!BUILTIN.iter().any(|b| b.name == "a4-18"));
    }
}
