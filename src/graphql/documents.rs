//! Parsed queries, kept by their text. Dashboards and typed clients send the same few
//! queries over and over with new variables; async-graphql's parser takes longer over a
//! query than a shallow walk takes to run, so each text is parsed once and its document
//! reused. Validation still runs on every request (it checks the variables).
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use lru::LruCache;

/// Distinct query texts kept.
const KEPT: NonZeroUsize = NonZeroUsize::new(256).unwrap();
/// Longer texts are parsed each time rather than kept.
const LONGEST: usize = 16 * 1024;
/// How deep brackets (`{` `[` `(`) may nest in a query. async-graphql's parser recurses
/// several frames per level and has no bound of its own: a few thousand levels overflow
/// the thread's stack and abort the process. Real queries nest far less (the query depth
/// bound is 16 by default).
pub const MAX_NESTING: usize = 64;

/// How deep the brackets of a GraphQL text nest, outside strings and comments: a scan
/// of the bytes, with no recursion, so that it can run before the parser does.
pub fn nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // a block string ends at the next unescaped """
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// What the server checks of a query before running it, found in one pass over its
/// document and kept with it: each request then only looks it up.
#[derive(Debug)]
pub struct Shape {
    /// Each operation's name and type.
    operations: Vec<(Option<String>, OperationType)>,
    /// The first argument written in the text with a NUL in a string (`field.argument`).
    nul_argument: Option<String>,
    /// Whether any field, in any operation or fragment, walks lineage.
    walks: bool,
}

/// Fields that walk lineage: their work grows with the graph, not with a page size. A
/// test checks that every field of the schema taking a `maxDepth` is here.
const WALKS: [&str; 4] = ["lineage", "lineagePath", "upstream", "downstream"];

impl Shape {
    /// The shape of a text that does not parse: no operations, and a walk, so that it is
    /// left to the operation threads, where execution reports the syntax error.
    fn unparsed() -> Self {
        Self {
            operations: Vec::new(),
            nul_argument: None,
            walks: true,
        }
    }

    fn of(document: &ExecutableDocument) -> Self {
        let operations = document
            .operations
            .iter()
            .map(|(name, op)| (name.map(|n| n.to_string()), op.node.ty))
            .collect();
        let mut sets: Vec<&SelectionSet> = document
            .operations
            .iter()
            .map(|(_, op)| &op.node.selection_set.node)
            .collect();
        sets.extend(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        );
        let (mut nul_argument, mut walks) = (None, false);
        // an explicit stack: brackets nest at most MAX_NESTING deep, but no recursion anyway
        while let Some(set) = sets.pop() {
            for selection in &set.items {
                match &selection.node {
                    Selection::Field(field) => {
                        let field = &field.node;
                        walks |= WALKS.contains(&field.name.node.as_str());
                        if nul_argument.is_none() {
                            nul_argument = field
                                .arguments
                                .iter()
                                .find(|(_, value)| value_has_nul(&value.node))
                                .map(|(name, _)| format!("{}.{}", field.name.node, name.node));
                        }
                        sets.push(&field.selection_set.node);
                    }
                    Selection::InlineFragment(fragment) => {
                        sets.push(&fragment.node.selection_set.node);
                    }
                    Selection::FragmentSpread(_) => {}
                }
            }
        }
        Self {
            operations,
            nul_argument,
            walks,
        }
    }

    /// The type of the operation `request` runs (its `operationName`, or its only one);
    /// `None` when the text does not parse or names no such operation (execution then
    /// reports that).
    pub fn operation_type(&self, request: &async_graphql::Request) -> Option<OperationType> {
        let mut operations = self.operations.iter();
        let found = match request.operation_name.as_deref() {
            Some(name) => operations.find(|(n, _)| n.as_deref() == Some(name)),
            None => {
                let only = operations.next();
                if operations.next().is_some() {
                    return None;
                }
                only
            }
        };
        found.map(|(_, ty)| *ty)
    }

    /// The argument (or variable) of `request` holding a string with a NUL in it, if any.
    /// No store holds one (writes refuse them) and PostgreSQL cannot even compare one, so
    /// a read asking for one is refused before it runs, naming where it is.
    pub fn nul_argument(&self, request: &async_graphql::Request) -> Option<String> {
        request
            .variables
            .iter()
            .find(|(_, value)| const_has_nul(value))
            .map(|(name, _)| format!("${name}"))
            .or_else(|| self.nul_argument.clone())
    }

    /// Whether the request asks for a lineage walk anywhere; also true when its text does
    /// not parse.
    pub fn walks(&self) -> bool {
        self.walks
    }
}

/// `$name(value)`: whether a value of type `$value` (arguments as written, or variables)
/// holds a NUL in a string or an object key. One body for both value types, which have
/// the same shape but no common trait.
macro_rules! has_nul {
    ($name:ident, $value:path) => {
        fn $name(value: &$value) -> bool {
            use $value as Value;
            let mut stack = vec![value];
            while let Some(v) = stack.pop() {
                match v {
                    Value::String(s) if s.contains('\0') => return true,
                    Value::List(items) => stack.extend(items),
                    Value::Object(fields) => {
                        for (key, item) in fields {
                            if key.contains('\0') {
                                return true;
                            }
                            stack.push(item);
                        }
                    }
                    _ => {}
                }
            }
            false
        }
    };
}

has_nul!(value_has_nul, async_graphql_value::Value);
has_nul!(const_has_nul, async_graphql::Value);

type Kept = (ExecutableDocument, Arc<Shape>);

#[derive(Clone)]
pub struct Documents {
    parsed: Arc<Mutex<LruCache<String, Kept>>>,
}

impl Default for Documents {
    fn default() -> Self {
        Self {
            parsed: Arc::new(Mutex::new(LruCache::new(KEPT))),
        }
    }
}

impl Documents {
    /// Gives `request` its parsed document (a kept one, or one parsed now and kept), and
    /// returns the document's shape. A text that does not parse is left for the schema
    /// to report.
    pub fn prepare(
        &self,
        mut request: async_graphql::Request,
    ) -> (async_graphql::Request, Arc<Shape>) {
        let kept = self.parsed().get(&request.query).cloned();
        if let Some((document, shape)) = kept {
            request.set_parsed_query(document);
            return (request, shape);
        }
        let keep = request.query.len() <= LONGEST;
        let text = if keep {
            request.query.clone()
        } else {
            String::new()
        };
        let Ok(document) = request.parsed_query() else {
            return (request, Arc::new(Shape::unparsed()));
        };
        let shape = Arc::new(Shape::of(document));
        if keep {
            let kept = (document.clone(), shape.clone());
            self.parsed().put(text, kept);
        }
        (request, shape)
    }

    fn parsed(&self) -> std::sync::MutexGuard<'_, LruCache<String, Kept>> {
        // the cache holds only finished documents: one left by a panicking thread is fine
        self.parsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The name of the first operation a query defines (`query Models { ... }` -> `Models`),
/// read off its text for the access log; None for an anonymous one.
pub fn first_operation_name(query: &str) -> Option<String> {
    let mut words = query
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{')))
        .filter(|w| !w.is_empty());
    match words.next()? {
        "query" | "mutation" | "subscription" => {
            let name = words.next()?;
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(100)
                .collect();
            (!name.is_empty()).then_some(name)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_names_are_read_off_the_text() {
        use super::first_operation_name as name;
        assert_eq!(
            name("query Models($n: Int) { a }").as_deref(),
            Some("Models")
        );
        assert_eq!(name("# hi\nmutation Make{ a }").as_deref(), Some("Make"));
        assert_eq!(name("{ a }"), None);
        assert_eq!(name("query { a }"), None);
    }

    use super::*;

    fn shape(query: &str) -> Arc<Shape> {
        Documents::default()
            .prepare(async_graphql::Request::new(query))
            .1
    }

    #[test]
    fn walks_are_found_anywhere_in_a_document() {
        let walks = |q: &str| shape(q).walks();
        assert!(!walks(
            "{ registeredModels(first: 100) { nodes { id latestVersion { id } } } }"
        ));
        assert!(!walks("{ modelVersions { nodes { name } } }"));
        assert!(walks("{ lineage(start: [\"1\"]) { nodes { depth } } }"));
        assert!(walks(
            "{ a: lineagePath(from: \"1\", to: \"2\") { length } }"
        ));
        assert!(walks(
            "{ node(id: \"1\") { ... on ModelVersion { upstream(maxDepth: 3) { id } } } }"
        ));
        assert!(walks(
            "query { modelVersions { nodes { ...F } } } fragment F on ModelVersion { downstream { id } }"
        ));
        // a text that does not parse is not answered inline either
        assert!(walks("{ unclosed"));
    }

    #[test]
    fn every_field_taking_a_max_depth_is_a_walk() {
        // a walk's work grows with the graph: one missed here would run on the request's
        // task, outside the operation threads that bound how many walks run at once
        let sdl = crate::graphql::sdl();
        // (subscriptions are not run through `execute`: they have their own bounds)
        let (mut found, mut in_subscription) = (std::collections::BTreeSet::new(), false);
        for line in sdl.lines() {
            if !line.starts_with(char::is_whitespace) && !line.is_empty() {
                in_subscription = line.starts_with("type Subscription");
            }
            if let Some((name, args)) = line.trim_start().split_once('(')
                && args.contains("maxDepth:")
                && !in_subscription
            {
                found.insert(name.to_owned());
            }
        }
        let listed: std::collections::BTreeSet<String> =
            WALKS.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, listed);
    }

    #[test]
    fn operation_types_and_nul_arguments_come_from_the_kept_shape() {
        let documents = Documents::default();
        let text = "query A { registeredModels(filter: {name: \"a\\u0000\"}) { totalCount } } \
                    mutation B { deleteWebhook(id: \"1\") }";
        let named = |name: &str| async_graphql::Request::new(text).operation_name(name);
        let (request, shape) = documents.prepare(named("A"));
        assert_eq!(shape.operation_type(&request), Some(OperationType::Query));
        assert_eq!(
            shape.nul_argument(&request).as_deref(),
            Some("registeredModels.filter")
        );
        let (request, shape) = documents.prepare(named("B"));
        assert_eq!(
            shape.operation_type(&request),
            Some(OperationType::Mutation)
        );
        // two operations and no name: no operation to run
        let (request, shape) = documents.prepare(async_graphql::Request::new(text));
        assert_eq!(shape.operation_type(&request), None);
        // a variable is checked per request, before the text's own arguments
        let variables = async_graphql::Variables::from_json(serde_json::json!({"v": "x\u{0}"}));
        let (request, shape) = documents.prepare(
            async_graphql::Request::new("query ($v: String) { registeredModel(name: $v) { id } }")
                .variables(variables),
        );
        assert_eq!(shape.nul_argument(&request).as_deref(), Some("$v"));
    }

    #[test]
    fn nesting_counts_brackets_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, {y: 2}]) } }"), 5);
        assert_eq!(nesting("{ a(s: \"{{{[[[(((\") }"), 2);
        assert_eq!(nesting("{ a(s: \"esc \\\" {{{\") }"), 2);
        assert_eq!(nesting("# {{{{{{\n{ a }"), 1);
        assert_eq!(nesting("{ a(s: \"\"\" {{{ \\\"\"\" {{ \"\"\") }"), 2);
        assert_eq!(nesting(&"[".repeat(100_000)), 100_000);
        // unbalanced text still scans to its end
        assert_eq!(nesting("}}}{"), 1);
        assert_eq!(nesting("\"never closed {{{"), 0);
    }

    #[test]
    fn a_text_is_parsed_once_and_its_document_reused() {
        let documents = Documents::default();
        let query = "{ lineage(start: [\"1\"]) { truncated } }";
        let (mut first, _) = documents.prepare(async_graphql::Request::new(query));
        assert_eq!(documents.parsed().len(), 1);
        let (mut second, _) = documents.prepare(async_graphql::Request::new(query));
        assert_eq!(documents.parsed().len(), 1);
        assert_eq!(
            format!("{:?}", first.parsed_query().unwrap()),
            format!("{:?}", second.parsed_query().unwrap())
        );
        // bad text is not kept, and is left for the schema to report
        let (mut bad, shape) = documents.prepare(async_graphql::Request::new("{ lineage("));
        assert!(shape.walks());
        assert_eq!(documents.parsed().len(), 1);
        assert!(bad.parsed_query().is_err());
    }
}
