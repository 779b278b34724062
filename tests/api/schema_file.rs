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

/// Typed clients show descriptions as documentation: every type the schema defines has
/// one, and so does every mutation.
#[test]
fn every_type_and_mutation_is_described() {
    let sdl = modelgraph::graphql::sdl();
    let lines: Vec<&str> = sdl.lines().collect();
    let described = |i: usize| i > 0 && lines[i - 1].trim_end().ends_with("\"\"\"");
    let mut missing = Vec::new();
    let mut in_mutation = false;
    let mut in_description = false;
    for (i, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [keyword, name, ..] = words.as_slice()
            && !line.starts_with(char::is_whitespace)
            && ["type", "input", "enum", "interface", "scalar", "union"].contains(keyword)
        {
            in_mutation = *name == "Mutation";
            if !described(i) {
                missing.push(name.to_string());
            }
            continue;
        }
        if in_mutation && line.starts_with('}') {
            in_mutation = false;
        }
        // a description's own lines sit between two """ lines
        if line.trim() == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_mutation
            && !in_description
            && line.starts_with('\t')
            && line.contains('(')
            && !described(i)
        {
            missing.push(format!("Mutation.{}", line.trim()));
        }
    }
    assert!(missing.is_empty(), "no description: {missing:#?}");
}
