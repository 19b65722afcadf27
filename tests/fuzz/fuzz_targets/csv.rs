//! The CSV/TSV reader on arbitrary bytes: detected encoding, then forced UTF-8 and CP932.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepcard::sheet::{Encoding, ReadOptions};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the extension (CSV or TSV sniffing); the rest is the file.
    let (ext, body) = match data.split_first() {
        Some((b, rest)) if b % 2 == 1 => ("tsv", rest),
        Some((_, rest)) => ("csv", rest),
        None => ("csv", data),
    };
    let path = common::scratch(&format!("in.{ext}"), body);
    common::read_all(&path, &ReadOptions::default());
    for enc in [Encoding::Utf8, Encoding::Cp932] {
        let opts = ReadOptions {
            encoding: Some(enc),
            max_rows: 5_000,
            ..ReadOptions::default()
        };
        common::read_all(&path, &opts);
    }
});
