//! Fuzz target `operation`: see `tandem_fuzz::checks::operation`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tandem_fuzz::checks::operation(data);
});
