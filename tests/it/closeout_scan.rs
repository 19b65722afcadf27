//! The close-out's remnant scan on big binary files: a short value turning up in
//! random bytes (as in photos, videos or another program's database) does not stop the
//! certificate, while the same value leaked in a CSV beside it does.

use crate::harness::*;

const CERTIFICATE: &str = "ret/消去証明書_R7-健-0123.xlsx";

/// Fixed-seed xorshift bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len.div_ceil(8))
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .take(len)
        .collect()
}

#[test]
fn a_big_binary_file_does_not_block_but_a_leaked_csv_does() {
    let e = Env::with_roster();
    std::fs::create_dir(e.path("old")).unwrap();
    // 8 MiB of "video" holding participant numbers (7 bytes) and a short name (佐藤 彩:
    // 6 bytes in CP932 and UTF-16 without the space) among binary bytes, as a chance
    // match would stand: not a leak.
    let sato_cp932: &[u8] = &[0x8d, 0xb2, 0x93, 0xa1, 0x8d, 0xca];
    let sato_utf16: Vec<u8> = "佐藤彩".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut video = noise(8 << 20, 0x2545_f491_4f6c_dd1d);
    let spots: [&[u8]; 4] = [b"C000001", b"A000002", sato_cp932, &sato_utf16];
    for (k, bytes) in spots.iter().enumerate() {
        let at = (k + 1) << 20;
        video[at - 1] = 0xFF;
        video[at..at + bytes.len()].copy_from_slice(bytes);
        video[at + bytes.len()] = 0xFE;
    }
    e.write_bytes("old/video.mp4", &video);
    // The same name and number in a CSV saved by hand (CP932).
    e.write_cp932(
        "old/当選者.csv",
        "番号,氏名,区分\r\nA000002,佐藤彩,当選\r\n",
    );

    let r = close_out(&e, &[]).refused();
    assert!(
        r.stderr
            .contains("参加者の情報が残っているファイルが 1 件見つかりました"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("old/当選者.csv: 2 件（参加者番号・氏名、CP932・UTF-8、参加者 A000002、"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("video.mp4"), "{}", r.stderr);
    assert!(!e.path(CERTIFICATE).exists());

    std::fs::remove_file(e.path("old/当選者.csv")).unwrap();
    close_out(&e, &[]).ok();
    assert!(e.path(CERTIFICATE).exists());
    assert!(e.path("old/video.mp4").exists());
}
