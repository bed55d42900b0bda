//! Arbitrary bytes through the file tracker (in chunks, with an occasional gap) and the PE
//! summary: no panic, no hang.
#![no_main]
use tapir::files::{detect_format, pe, FileMeta, FileTracker};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(ctl % 64) + 1;
    let mut t = FileTracker::new(FileMeta {
        source: "http",
        ..Default::default()
    });
    for (i, c) in rest.chunks(chunk).enumerate() {
        if ctl & 0x80 != 0 && i == 3 {
            t.gap(c.len() as u64);
        } else {
            t.update(c);
        }
    }
    let _ = t.finish("fuzz".into(), ctl & 0x40 != 0);
    let _ = detect_format(rest);
    let _ = pe::pe_summary(rest);
    let _ = pe::summarize(rest, false);
});
