//! `schema.graphql` is generated from code; this fails when the committed file is stale.

#[test]
fn schema_graphql_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = modelgraph::graphql::sdl();
    if committed != generated {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).expect("write schema.graphql");
            return;
        }
        panic!(
            "schema.graphql is stale: run `cargo run -- schema > schema.graphql` \
             (or UPDATE_SCHEMA=1 cargo test schema_graphql) and commit it"
        );
    }
}
