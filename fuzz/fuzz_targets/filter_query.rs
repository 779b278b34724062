//! Kubeflow `filterQuery` text: parsed for every kind, then turned into SQL for both
//! stores. Any input may be refused; none may panic, overflow the stack or hang.
#![no_main]

use entity::node;
use libfuzzer_sys::fuzz_target;
use modelgraph::registry::NodeKind;
use modelgraph::registry::filter_query::parse;
use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(condition) = parse(text, &NodeKind::ALL) {
        let query = node::Entity::find().filter(condition);
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let _ = query.build(backend).to_string();
        }
    }
});
