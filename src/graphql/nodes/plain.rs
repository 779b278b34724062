//! A walk's `[LineageEntry!]!`, built directly as values when it can be. Walks list up to
//! thousands of entries, and resolving each field of each one as a future of its own
//! costs more than the walk: when the selection asks only for plain fields (depth,
//! direction, and the node's id, kind, name, createTime, __typename: no arguments,
//! directives or fragments) the values are built from the walk's node summaries;
//! anything else goes through async-graphql's resolvers. Both give the same response
//! (`tests/api/lineage_plain.rs` compares them).
use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, InputType, Name, OutputType, Positioned, ScalarType, ServerResult,
    Value as GqlValue,
};

use super::graph::{LineageDirection, LineageEntry};
use super::type_name;
use crate::graphql::types::{NodeKind, datetime};
use crate::lineage::{Direction, WalkGraph};

pub struct LineageEntries(pub WalkGraph);

impl LineageEntries {
    fn entries(&self) -> Vec<LineageEntry> {
        self.0
            .result
            .entries
            .iter()
            .map(|e| LineageEntry {
                id: e.id,
                depth: e.depth as i32,
                direction: LineageDirection::of(e.direction),
            })
            .collect()
    }

    /// The entries as plain values, following `plan`. Each object starts as a copy of a
    /// template holding its keys (so no key is hashed again), and enum values and type
    /// names are made once and shared (a value's name is reference-counted).
    fn plain(&self, plan: &[(Name, EntryField)]) -> GqlValue {
        let graph = &self.0;
        let template = |keys: &mut dyn Iterator<Item = &Name>| -> IndexMap<Name, GqlValue> {
            keys.map(|k| (k.clone(), GqlValue::Null)).collect()
        };
        let entry_template = template(&mut plan.iter().map(|(k, _)| k));
        let node_plan: &[(Name, NodeField)] = plan
            .iter()
            .find_map(|(_, f)| match f {
                EntryField::Node(fields) => Some(fields.as_slice()),
                _ => None,
            })
            .unwrap_or_default();
        let node_template = template(&mut node_plan.iter().map(|(k, _)| k));
        let mut kinds = KindValues::default();
        let entry_type = GqlValue::String("LineageEntry".to_owned());
        let directions = [Direction::Upstream, Direction::Downstream]
            .map(|d| LineageDirection::of(d).to_value());
        let mut list = Vec::with_capacity(graph.result.entries.len());
        let mut id = itoa::Buffer::new();
        for e in &graph.result.entries {
            let Some(node) = graph.nodes.get(&e.id) else {
                continue;
            };
            let mut entry = entry_template.clone();
            for (slot, (_, field)) in entry.values_mut().zip(plan) {
                *slot = match field {
                    EntryField::Depth => GqlValue::from(e.depth as i32),
                    EntryField::Direction => match e.direction {
                        Direction::Upstream => directions[0].clone(),
                        Direction::Downstream => directions[1].clone(),
                    },
                    EntryField::Typename => entry_type.clone(),
                    EntryField::Node(_) => {
                        let mut out = node_template.clone();
                        for (slot, (_, field)) in out.values_mut().zip(node_plan) {
                            *slot = match field {
                                NodeField::Id => GqlValue::String(id.format(node.id).to_owned()),
                                NodeField::Kind => kinds.of(node.kind).0.clone(),
                                NodeField::Name => GqlValue::String(node.name.clone()),
                                NodeField::CreateTime => {
                                    ScalarType::to_value(&datetime(node.create_time))
                                }
                                NodeField::Typename => kinds.of(node.kind).1.clone(),
                            };
                        }
                        GqlValue::Object(out)
                    }
                };
            }
            list.push(GqlValue::Object(entry));
        }
        GqlValue::List(list)
    }
}

/// Each node kind's `NodeKind` value and GraphQL type name, made once per kind (a
/// handful of kinds: a list beats hashing).
#[derive(Default)]
struct KindValues(Vec<(crate::registry::NodeKind, GqlValue, GqlValue)>);

impl KindValues {
    fn of(&mut self, kind: crate::registry::NodeKind) -> (&GqlValue, &GqlValue) {
        let at = match self.0.iter().position(|(k, _, _)| *k == kind) {
            Some(at) => at,
            None => {
                let value = NodeKind::of(kind).to_value();
                let type_name = GqlValue::String(type_name(kind).to_owned());
                self.0.push((kind, value, type_name));
                self.0.len() - 1
            }
        };
        let (_, value, type_name) = &self.0[at];
        (value, type_name)
    }
}

enum EntryField {
    Depth,
    Direction,
    Typename,
    Node(Vec<(Name, NodeField)>),
}

enum NodeField {
    Id,
    Kind,
    Name,
    CreateTime,
    Typename,
}

/// The plain fields `selection` asks for, by response key; None when it asks for more,
/// or names a response key twice (GraphQL merges those; the resolvers do that).
pub(super) fn plain_fields<'a, T>(
    selection: &'a SelectionSet,
    field_of: impl FnMut(&'a Positioned<Field>) -> Option<T>,
) -> Option<Vec<(Name, T)>> {
    plain_fields_taking(selection, &[], field_of)
}

/// [`plain_fields`], where the fields named in `with_arguments` may have arguments
/// (which `field_of` then reads).
pub(super) fn plain_fields_taking<'a, T>(
    selection: &'a SelectionSet,
    with_arguments: &[&str],
    mut field_of: impl FnMut(&'a Positioned<Field>) -> Option<T>,
) -> Option<Vec<(Name, T)>> {
    let mut out = Vec::with_capacity(selection.items.len());
    for item in &selection.items {
        let Selection::Field(positioned) = &item.node else {
            return None;
        };
        let field = &positioned.node;
        if !field.directives.is_empty()
            || (!field.arguments.is_empty() && !with_arguments.contains(&field.name.node.as_str()))
        {
            return None;
        }
        let key = field.alias.as_ref().unwrap_or(&field.name).node.clone();
        if out.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        out.push((key, field_of(positioned)?));
    }
    Some(out)
}

/// How to build the entries of `selection` plainly, if it asks only for plain fields
/// (and for the node once).
fn entry_plan(selection: &SelectionSet) -> Option<Vec<(Name, EntryField)>> {
    let plan = plain_fields(selection, |field| match field.node.name.node.as_str() {
        "depth" => Some(EntryField::Depth),
        "direction" => Some(EntryField::Direction),
        "__typename" => Some(EntryField::Typename),
        "node" => {
            let fields = plain_fields(&field.node.selection_set.node, |f| {
                match f.node.name.node.as_str() {
                    "id" => Some(NodeField::Id),
                    "kind" => Some(NodeField::Kind),
                    "name" => Some(NodeField::Name),
                    "createTime" => Some(NodeField::CreateTime),
                    "__typename" => Some(NodeField::Typename),
                    _ => None,
                }
            })?;
            Some(EntryField::Node(fields))
        }
        _ => None,
    })?;
    let nodes = plan
        .iter()
        .filter(|(_, f)| matches!(f, EntryField::Node(_)))
        .count();
    (nodes <= 1).then_some(plan)
}

impl OutputType for LineageEntries {
    fn type_name() -> Cow<'static, str> {
        <Vec<LineageEntry> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<LineageEntry> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<LineageEntry> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<GqlValue> {
        match entry_plan(&ctx.item.node) {
            Some(plan) => Ok(self.plain(&plan)),
            None => self.entries().resolve(ctx, field).await,
        }
    }
}

/// The selection under `{ field { nodes { items } } }`, parsed: what a list's items see.
#[cfg(test)]
pub(super) fn items_of(field: &str, items: &str) -> SelectionSet {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    let doc = parse_query(format!("{{ {field} {{ nodes {{ {items} }} }} }}")).expect("a query");
    let DocumentOperations::Single(op) = doc.operations else {
        panic!("one operation");
    };
    let first = |set: &SelectionSet| match &set.items[0].node {
        Selection::Field(f) => f.node.selection_set.node.clone(),
        _ => panic!("a field"),
    };
    first(&first(&op.node.selection_set.node))
}

#[cfg(test)]
mod tests {
    use super::{entry_plan, items_of};

    /// Whether the entries selected under `lineage { nodes { ... } }` get the plain path.
    fn plain(entries: &str) -> bool {
        entry_plan(&items_of(r#"lineage(start: ["1"])"#, entries)).is_some()
    }

    #[test]
    fn only_plain_selections_skip_the_resolvers() {
        assert!(plain(
            "depth direction node { id kind name createTime __typename }"
        ));
        assert!(plain("__typename d: depth node { i: id }"));
        assert!(!plain("depth @include(if: true) node { id }"));
        assert!(!plain("node { id description }"));
        assert!(!plain("node { ... on Dataset { uri } }"));
        assert!(!plain("node { upstream(maxDepth: 1) { truncated } }"));
        // a response key named twice is merged by GraphQL; a second node has a selection
        // of its own: both go to the resolvers
        assert!(!plain("depth depth direction"));
        assert!(!plain("node { id id name }"));
        assert!(!plain("node { id } other: node { name }"));
    }
}
