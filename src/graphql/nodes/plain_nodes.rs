//! Listed models and versions, built directly as values when they can be. A dashboard's
//! list of 100 models with their latest versions selects about 700 fields, and
//! async-graphql resolves each with a boxed future, a context and a response map of its
//! own: more work than reading the rows. When an item's selection asks only for plain
//! fields (columns of its row, `__typename`, and a model's `latestVersion` with plain
//! fields of its own; no arguments, directives or fragments: async-graphql has applied
//! `@skip` and `@include` and dropped them by then), the item's value is built from its
//! row here; anything else, and any field that would answer with an error, goes through
//! the resolvers. Each plain field's value is what its resolver's return type
//! gives (`OutputType::resolve` of the same value, which for scalars and enums completes
//! at once), so the two paths answer alike; `tests/api/plain_lists.rs` compares them.
use std::borrow::Cow;

use async_graphql::futures_util::FutureExt;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, ID, Json, Name, OutputType, Positioned, ServerResult, Value as GqlValue,
};
use chrono::{DateTime, Utc};
use entity::node;

use super::plain::plain_fields;
use super::{ModelVersion, RegisteredModel};
use crate::graphql::ContextExt;
use crate::graphql::columns::read_by_names;
use crate::graphql::types::{ModelVersionState, NodeKind, RegisteredModelState, datetime, to_id};
use crate::registry::columns::NodeColumns;
use crate::registry::props::StoredJson;

/// A listed node that is built plainly when its selection allows (`Plain<RegisteredModel>`
/// in a connection): the same GraphQL type as `T`, in the schema and in the response.
pub struct Plain<T>(pub T);

/// A node type with fields that can be read straight off its row.
pub trait PlainFields: OutputType {
    fn row(&self) -> &node::Model;

    /// How to read the field named `name` without its resolver, if it can be.
    fn plain(name: &str) -> Option<Read>;
}

/// The value of one plain field of a row, or None where its resolver answers with an
/// error (a stored state the enum does not know): the item then goes to the resolvers.
type Value = fn(&node::Model, &ContextSelectionSet<'_>, &Positioned<Field>) -> Option<GqlValue>;

/// How one selected field is read.
#[derive(Clone, Copy)]
pub enum Read {
    Value(Value),
    /// A model's latest version, itself plain.
    LatestVersion,
}

/// How one selected field is built, by response key.
enum Step<'a> {
    Value(Value, &'a Positioned<Field>),
    LatestVersion(Vec<(Name, Step<'a>)>, NodeColumns),
}

/// What a value of type `T`, as a resolver returns it, answers: for the scalars, enums
/// and lists of scalars plain fields return, `resolve` completes at its first poll.
fn answer<T: OutputType>(
    value: T,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<GqlValue> {
    value.resolve(ctx, field).now_or_never()?.ok()
}

/// `__typename`: the type's name.
fn type_name<T: OutputType>(
    _: &node::Model,
    _: &ContextSelectionSet<'_>,
    _: &Positioned<Field>,
) -> Option<GqlValue> {
    Some(GqlValue::String(T::type_name().into_owned()))
}

/// The plain fields every node type `T` has (`node_type!`'s common resolvers; `kind` is
/// each type's own).
fn common<T: OutputType>(name: &str) -> Option<Read> {
    let read: Value = match name {
        "__typename" => type_name::<T>,
        "id" => |n, ctx, f| answer::<ID>(to_id(n.id), ctx, f),
        "name" => |n, ctx, f| answer(n.name.clone(), ctx, f),
        "externalId" => |n, ctx, f| answer(n.external_id.clone(), ctx, f),
        "description" => |n, ctx, f| answer(n.description.clone(), ctx, f),
        "customProperties" => |n, ctx, f| answer(Json(StoredJson(&n.custom_properties)), ctx, f),
        "createTime" => |n, ctx, f| answer::<DateTime<Utc>>(datetime(n.create_time), ctx, f),
        "lastUpdateTime" => {
            |n, ctx, f| answer::<DateTime<Utc>>(datetime(n.last_update_time), ctx, f)
        }
        "revision" => |n, ctx, f| answer(n.revision, ctx, f),
        _ => return None,
    };
    Some(Read::Value(read))
}

impl PlainFields for RegisteredModel {
    fn row(&self) -> &node::Model {
        &self.0
    }

    fn plain(name: &str) -> Option<Read> {
        let read: Value = match name {
            "kind" => |_, ctx, f| answer(NodeKind::RegisteredModel, ctx, f),
            "owner" => |n, ctx, f| answer(n.owner.clone(), ctx, f),
            "state" => |n, ctx, f| answer(RegisteredModelState::stored(&n.state).ok()?, ctx, f),
            "readme" => |n, ctx, f| answer(n.readme.clone(), ctx, f),
            "maturity" => |n, ctx, f| answer(n.maturity.clone(), ctx, f),
            "provider" => |n, ctx, f| answer(n.provider.clone(), ctx, f),
            "logo" => |n, ctx, f| answer(n.logo.clone(), ctx, f),
            "license" => |n, ctx, f| answer(n.license.clone(), ctx, f),
            "licenseLink" => |n, ctx, f| answer(n.license_link.clone(), ctx, f),
            "libraryName" => |n, ctx, f| answer(n.library_name.clone(), ctx, f),
            "latestVersion" => return Some(Read::LatestVersion),
            _ => return common::<Self>(name),
        };
        Some(Read::Value(read))
    }
}

impl PlainFields for ModelVersion {
    fn row(&self) -> &node::Model {
        &self.0
    }

    fn plain(name: &str) -> Option<Read> {
        let read: Value = match name {
            "kind" => |_, ctx, f| answer(NodeKind::ModelVersion, ctx, f),
            "author" => |n, ctx, f| answer(n.owner.clone(), ctx, f),
            "state" => |n, ctx, f| answer(ModelVersionState::stored(&n.state).ok()?, ctx, f),
            "registeredModelId" => {
                |n, ctx, f| answer::<ID>(to_id(n.parent_id.unwrap_or_default()), ctx, f)
            }
            _ => return common::<Self>(name),
        };
        Some(Read::Value(read))
    }
}

/// How to build an item of type `T` whose selection is `selection`, if every field it
/// asks for is plain.
fn plan<T: PlainFields>(selection: &SelectionSet) -> Option<Vec<(Name, Step<'_>)>> {
    plain_fields(selection, |field| {
        Some(match T::plain(field.node.name.node.as_str())? {
            Read::Value(read) => Step::Value(read, field),
            Read::LatestVersion => {
                let versions = &field.node.selection_set.node;
                let plan = plan::<ModelVersion>(versions)?;
                let columns = read_by_names(plan_names(versions));
                Step::LatestVersion(plan, columns)
            }
        })
    })
}

/// The names of the fields of a plain selection (fields only, as `plan` requires).
fn plan_names(selection: &SelectionSet) -> impl Iterator<Item = &str> {
    selection.items.iter().filter_map(|item| match &item.node {
        Selection::Field(f) => Some(f.node.name.node.as_str()),
        _ => None,
    })
}

/// An item's value following `plan`, or None if a field would answer with an error.
/// The latest versions it shows are read first (through the loaders, which may wait for
/// a batch); the object is then built in one pass.
async fn build(
    ctx: &ContextSelectionSet<'_>,
    plan: &[(Name, Step<'_>)],
    row: &node::Model,
) -> Option<GqlValue> {
    let mut latest = Vec::new();
    for (_, step) in plan {
        if let Step::LatestVersion(_, columns) = step {
            let read = ctx.loaders().latest_version_reading(row.id, *columns);
            latest.push(read.await.ok()?);
        }
    }
    object(ctx, plan, row, &mut latest.into_iter())
}

/// The object `plan` builds from `row`, each `latestVersion` taking the next of `latest`
/// (read ahead by [`build`]; a nested plan has none).
fn object(
    ctx: &ContextSelectionSet<'_>,
    plan: &[(Name, Step<'_>)],
    row: &node::Model,
    latest: &mut dyn Iterator<Item = Option<Box<node::Model>>>,
) -> Option<GqlValue> {
    let mut out = IndexMap::with_capacity(plan.len());
    for (key, step) in plan {
        let value = match step {
            Step::Value(read, field) => read(row, ctx, field)?,
            Step::LatestVersion(plan, _) => match latest.next()? {
                Some(version) => object(ctx, plan, &version, &mut std::iter::empty())?,
                None => GqlValue::Null,
            },
        };
        out.insert(key.clone(), value);
    }
    Some(GqlValue::Object(out))
}

impl<T: PlainFields + Send + Sync> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<GqlValue> {
        if let Some(plan) = plan::<T>(&ctx.item.node)
            && let Some(value) = build(ctx, &plan, self.0.row()).await
        {
            return Ok(value);
        }
        self.0.resolve(ctx, field).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::plain::items_of;
    use super::{RegisteredModel, plan};

    /// Whether the items selected under `registeredModels { nodes { ... } }` are built
    /// plainly.
    fn plain(items: &str) -> bool {
        plan::<RegisteredModel>(&items_of("registeredModels", items)).is_some()
    }

    #[test]
    fn only_plain_selections_skip_the_resolvers() {
        assert!(plain(
            "id name customProperties latestVersion { id name customProperties }"
        ));
        assert!(plain(
            "__typename i: id kind state owner createTime latestVersion { author state registeredModelId }"
        ));
        assert!(plain("latest: latestVersion { v: name } n: name"));
        assert!(plain(
            "id kind name externalId description customProperties createTime lastUpdateTime revision owner state readme maturity provider logo license licenseLink libraryName __typename latestVersion { id kind name externalId description customProperties createTime lastUpdateTime revision author state registeredModelId __typename }"
        ));
        assert!(!plain("id @include(if: true) name"));
        assert!(!plain("id ... on RegisteredModel { name }"));
        assert!(!plain("id versions { nodes { id } }"));
        assert!(!plain("id language"));
        assert!(!plain("latestVersion { id aliases }"));
        assert!(!plain("latestVersion { id ... on Node { name } }"));
        assert!(!plain("latestVersion { latestVersion { id } }"));
        // a key named twice is merged by GraphQL: the resolvers do that
        assert!(!plain("id id"));
        assert!(!plain("latestVersion { id } latestVersion { name }"));
        assert!(!plain("upstream(maxDepth: 1) { truncated }"));
    }
}
