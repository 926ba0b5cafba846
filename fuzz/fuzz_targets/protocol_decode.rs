//! Fuzz target `protocol_decode`: see `tandem_fuzz::checks::protocol_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tandem_fuzz::checks::protocol_decode(data);
});
