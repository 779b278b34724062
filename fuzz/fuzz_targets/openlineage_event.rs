//! OpenLineage event JSON, as `POST /api/v1/lineage` reads it: decoded, then mapped to
//! a registry event. Any input may be refused; none may panic, overflow the stack or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgraph::openlineage::event::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = parse(&value, 1000);
    }
});
