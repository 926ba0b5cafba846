//! Fuzz target `document`: see `tandem_fuzz::checks::document`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tandem_fuzz::checks::document(data);
});
