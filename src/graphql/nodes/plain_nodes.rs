//! Listed models and versions, built directly as values when they can be. A dashboard's
//! list of 100 models with their latest versions selects about 700 fields, and
//! async-graphql resolves each with a boxed future, a context and a response map of its
//! own: more work than reading the rows. When an item's selection asks only for plain
//! fields (columns of its row, `__typename`, a model's `latestVersion` with plain fields
//! of its own, and a model's `versions` connection whose items are plain; no directives
//! or fragments, and no arguments but `versions`': async-graphql has applied `@skip` and
//! `@include` and dropped them by then), the item's value is built from its row here;
//! anything else, and any field that would answer with an error, goes through the
//! resolvers. Each plain field's value is what its resolver's return type gives
//! (`OutputType::resolve` of the same value, which for scalars and enums completes at
//! once), and `versions` reads its page as its resolver does (`model_versions`), so the
//! two paths answer alike; `tests/api/plain_lists.rs` compares them.
use std::any::TypeId;
use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::connection::{CursorType, Edge, EmptyFields};
use async_graphql::futures_util::FutureExt;
use async_graphql::futures_util::future::{Either, join_all};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, ID, Json, Name, OutputType, Positioned, ServerResult, Value as GqlValue,
};
use chrono::{DateTime, Utc};
use entity::node;

use super::plain::{plain_fields, plain_fields_taking};
use super::{ModelVersion, RegisteredModel, VersionArgs, model_versions};
use crate::graphql::ContextExt;
use crate::graphql::columns::read_by_names;
use crate::graphql::pagination::{Conn, PageCursor};
use crate::graphql::types::{ModelVersionState, NodeKind, RegisteredModelState, datetime, to_id};
use crate::registry::columns::NodeColumns;
use crate::registry::fields::stored_list;
use crate::registry::page::Cursor;
use crate::registry::props::StoredJson;
use crate::registry::{Order, Page};

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
    /// A model's versions, a page of them as a connection whose items are plain.
    Versions,
}

/// How an item is built: how each selected field is, by response key. A plan holds no
/// reference into the query: its n-th step builds the n-th field of the selection it was
/// made from (a plain selection holds fields only), so one plan serves every item of a
/// list ([`PlainPlans`]).
type Plan = Vec<(Name, Step)>;

/// How one selected field is built.
enum Step {
    Value(Value),
    LatestVersion(Plan, NodeColumns),
    Versions(Vec<(Name, ConnStep)>),
}

/// A field of a connection (`ModelVersionConnection`).
enum ConnStep {
    Typename,
    TotalCount,
    Nodes(Plan),
    Edges(Vec<(Name, EdgeStep)>),
    PageInfo(Vec<(Name, PageInfoStep)>),
}

/// A field of a connection's edge.
enum EdgeStep {
    Typename,
    Cursor,
    Node(Plan),
}

/// A field of a connection's `pageInfo`.
enum PageInfoStep {
    Typename,
    HasPreviousPage,
    HasNextPage,
    StartCursor,
    EndCursor,
}

/// What an item's plan reads before it is built, in the plan's order.
enum Ahead {
    Latest(Option<Box<node::Model>>),
    Versions(Page, u64, Order),
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
            "language" => |n, ctx, f| answer(stored_list(n.language.as_deref()), ctx, f),
            "tasks" => |n, ctx, f| answer(stored_list(n.tasks.as_deref()), ctx, f),
            "provider" => |n, ctx, f| answer(n.provider.clone(), ctx, f),
            "logo" => |n, ctx, f| answer(n.logo.clone(), ctx, f),
            "license" => |n, ctx, f| answer(n.license.clone(), ctx, f),
            "licenseLink" => |n, ctx, f| answer(n.license_link.clone(), ctx, f),
            "libraryName" => |n, ctx, f| answer(n.library_name.clone(), ctx, f),
            "latestVersion" => return Some(Read::LatestVersion),
            "versions" => return Some(Read::Versions),
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
fn plan<T: PlainFields>(selection: &SelectionSet) -> Option<Plan> {
    // `versions` is the one plain field with arguments (its page's), read as its
    // resolver reads them
    plain_fields_taking(selection, &["versions"], |field| {
        Some(match T::plain(field.node.name.node.as_str())? {
            Read::Value(read) => Step::Value(read),
            Read::LatestVersion => {
                let versions = &field.node.selection_set.node;
                let plan = plan::<ModelVersion>(versions)?;
                let columns = read_by_names(plan_names(versions));
                Step::LatestVersion(plan, columns)
            }
            Read::Versions => {
                let connection = &field.node.selection_set.node;
                Step::Versions(plain_fields(connection, connection_step)?)
            }
        })
    })
}

/// How to build one field of a connection of plain model versions.
fn connection_step(field: &Positioned<Field>) -> Option<ConnStep> {
    let selection = &field.node.selection_set.node;
    Some(match field.node.name.node.as_str() {
        "__typename" => ConnStep::Typename,
        "totalCount" => ConnStep::TotalCount,
        "nodes" => ConnStep::Nodes(plan::<ModelVersion>(selection)?),
        "edges" => ConnStep::Edges(plain_fields(selection, |f| {
            Some(match f.node.name.node.as_str() {
                "__typename" => EdgeStep::Typename,
                "cursor" => EdgeStep::Cursor,
                "node" => EdgeStep::Node(plan::<ModelVersion>(&f.node.selection_set.node)?),
                _ => return None,
            })
        })?),
        "pageInfo" => ConnStep::PageInfo(plain_fields(selection, |f| {
            Some(match f.node.name.node.as_str() {
                "__typename" => PageInfoStep::Typename,
                "hasPreviousPage" => PageInfoStep::HasPreviousPage,
                "hasNextPage" => PageInfoStep::HasNextPage,
                "startCursor" => PageInfoStep::StartCursor,
                "endCursor" => PageInfoStep::EndCursor,
                _ => return None,
            })
        })?),
        _ => return None,
    })
}

/// The names of the fields of a plain selection (fields only, as `plan` requires).
fn plan_names(selection: &SelectionSet) -> impl Iterator<Item = &str> {
    selection.items.iter().filter_map(|item| match &item.node {
        Selection::Field(f) => Some(f.node.name.node.as_str()),
        _ => None,
    })
}

/// An item's value following `plan` (made from the item's selection), or None if a field
/// would answer with an error. What the plan reads (latest versions, pages of versions)
/// is read first, all at once (through the loaders, which batch each across the page's
/// items); the object is then built in one pass.
async fn build(ctx: &ContextSelectionSet<'_>, plan: &Plan, row: &node::Model) -> Option<GqlValue> {
    let selection = &ctx.item.node;
    let reads = plan
        .iter()
        .zip(selected(selection))
        .filter_map(|((_, step), field)| match step {
            Step::Value(..) => None,
            Step::LatestVersion(_, columns) => Some(Either::Left(async move {
                let read = ctx.loaders().latest_version_reading(row.id, *columns);
                Some(Ahead::Latest(read.await.ok()?))
            })),
            Step::Versions(_) => Some(Either::Right(async move {
                let ctx = ctx.with_field(field?);
                let args = VersionArgs::of(&ctx).ok()?;
                let (page, total, order) = model_versions(&ctx, row.id, args).await.ok()?;
                Some(Ahead::Versions(page, total, order))
            })),
        });
    let ahead = join_all(reads).await;
    let mut ahead = ahead.into_iter().collect::<Option<Vec<_>>>()?.into_iter();
    object(ctx, selection, plan, row, &mut ahead)
}

/// The fields of a selection, in order (None for an item that is not a field: a plan is
/// made only of selections that hold none).
fn selected(selection: &SelectionSet) -> impl Iterator<Item = Option<&Positioned<Field>>> {
    selection.items.iter().map(|item| match &item.node {
        Selection::Field(field) => Some(field),
        _ => None,
    })
}

/// The object `plan` builds from `row`, each `latestVersion` and `versions` taking the
/// next of `ahead` (read ahead by [`build`]; a version's plan reads none).
fn object(
    ctx: &ContextSelectionSet<'_>,
    selection: &SelectionSet,
    plan: &Plan,
    row: &node::Model,
    ahead: &mut dyn Iterator<Item = Ahead>,
) -> Option<GqlValue> {
    fields(plan, selection, |step, field| match step {
        Step::Value(read) => read(row, ctx, field),
        Step::LatestVersion(plan, _) => match ahead.next()? {
            Ahead::Latest(Some(version)) => {
                version_object(ctx, &field.node.selection_set.node, plan, &version)
            }
            Ahead::Latest(None) => Some(GqlValue::Null),
            Ahead::Versions(..) => None,
        },
        Step::Versions(plan) => match ahead.next()? {
            Ahead::Versions(page, total, order) => connection(
                ctx,
                &field.node.selection_set.node,
                plan,
                &page,
                total,
                order,
            ),
            Ahead::Latest(_) => None,
        },
    })
}

/// A model version's object (its plan reads nothing ahead).
fn version_object(
    ctx: &ContextSelectionSet<'_>,
    selection: &SelectionSet,
    plan: &Plan,
    version: &node::Model,
) -> Option<GqlValue> {
    object(ctx, selection, plan, version, &mut std::iter::empty())
}

/// The connection `versions` answers with, and its edges.
type VersionConnection = Conn<Plain<ModelVersion>>;
type VersionEdge = Edge<PageCursor, Plain<ModelVersion>, EmptyFields>;

/// An object of the fields `plan` names, each field's value made by `value` from the
/// plan's step and the field of `selection` it was made from (None: the item goes to the
/// resolvers).
fn fields<S>(
    plan: &[(Name, S)],
    selection: &SelectionSet,
    mut value: impl FnMut(&S, &Positioned<Field>) -> Option<GqlValue>,
) -> Option<GqlValue> {
    let mut out = IndexMap::with_capacity(plan.len());
    for ((key, step), field) in plan.iter().zip(selected(selection)) {
        out.insert(key.clone(), value(step, field?)?);
    }
    // a plan made of another selection than this one (never: plans are kept by selection)
    (out.len() == plan.len()).then_some(GqlValue::Object(out))
}

/// A page of versions as `versions` answers it: edges, nodes and `pageInfo` as
/// async-graphql's `Connection` makes them (each cursor that of its row; the page's
/// first and last for `startCursor` and `endCursor`).
fn connection(
    ctx: &ContextSelectionSet<'_>,
    selection: &SelectionSet,
    plan: &[(Name, ConnStep)],
    page: &Page,
    total: u64,
    order: Order,
) -> Option<GqlValue> {
    let cursor =
        |n: &node::Model| GqlValue::String(PageCursor::Node(Cursor::of(order, n)).encode_cursor());
    let name = |name: Cow<'static, str>| GqlValue::String(name.into_owned());
    let each = |value: &dyn Fn(&node::Model) -> Option<GqlValue>| {
        let items: Option<Vec<GqlValue>> = page.items.iter().map(value).collect();
        Some(GqlValue::List(items?))
    };
    fields(plan, selection, |step, field| {
        let selection = &field.node.selection_set.node;
        match step {
            ConnStep::Typename => Some(name(VersionConnection::type_name())),
            ConnStep::TotalCount => answer(total, ctx, field),
            ConnStep::Nodes(plan) => each(&|n| version_object(ctx, selection, plan, n)),
            ConnStep::Edges(plan) => each(&|n| {
                fields(plan, selection, |step, field| match step {
                    EdgeStep::Typename => Some(name(VersionEdge::type_name())),
                    EdgeStep::Cursor => Some(cursor(n)),
                    EdgeStep::Node(plan) => {
                        version_object(ctx, &field.node.selection_set.node, plan, n)
                    }
                })
            }),
            ConnStep::PageInfo(plan) => fields(plan, selection, |step, _| {
                Some(match step {
                    PageInfoStep::Typename => GqlValue::String("PageInfo".to_owned()),
                    PageInfoStep::HasPreviousPage => GqlValue::Boolean(page.has_previous),
                    PageInfoStep::HasNextPage => GqlValue::Boolean(page.has_next),
                    PageInfoStep::StartCursor => page.items.first().map_or(GqlValue::Null, cursor),
                    PageInfoStep::EndCursor => page.items.last().map_or(GqlValue::Null, cursor),
                })
            }),
        }
    })
}

/// The plans made for one request's lists, by the selection each was made from and the
/// item type: a list's items share their selection, so its plan is made once, not once
/// an item. Kept in a query's data only (`graphql::execute`), where the request's
/// document outlives it, so no two selections it has seen share an address.
#[derive(Default)]
pub struct PlainPlans(std::sync::Mutex<foldhash::HashMap<PlanKey, Option<Arc<Plan>>>>);

/// A selection's address and the type of the items built from it.
type PlanKey = (usize, TypeId);

impl PlainPlans {
    fn of<T: PlainFields + 'static>(&self, selection: &SelectionSet) -> Option<Arc<Plan>> {
        let key = (std::ptr::from_ref(selection) as usize, TypeId::of::<T>());
        let mut plans = self.0.lock().unwrap_or_else(|p| p.into_inner());
        plans
            .entry(key)
            .or_insert_with(|| plan::<T>(selection).map(Arc::new))
            .clone()
    }
}

impl<T: PlainFields + Send + Sync + 'static> OutputType for Plain<T> {
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
        let plan = match ctx.data_opt::<PlainPlans>() {
            Some(plans) => plans.of::<T>(&ctx.item.node),
            // a subscription's events (their data lasts longer than one document)
            None => plan::<T>(&ctx.item.node).map(Arc::new),
        };
        if let Some(plan) = plan
            && let Some(value) = build(ctx, &plan, self.0.row()).await
        {
            return Ok(value);
        }
        self.0.resolve(ctx, field).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::plain::items_of;
    use super::{ModelVersion, PlainPlans, RegisteredModel, plan};

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
            "id kind name externalId description customProperties createTime lastUpdateTime revision owner state readme maturity language tasks provider logo license licenseLink libraryName __typename latestVersion { id kind name externalId description customProperties createTime lastUpdateTime revision author state registeredModelId __typename }"
        ));
        assert!(!plain("id @include(if: true) name"));
        assert!(!plain("id ... on RegisteredModel { name }"));
        assert!(plain("id versions { nodes { id } }"));
        assert!(plain(
            "v: versions(first: 3, after: \"x\", orderBy: {field: NAME}) { __typename totalCount nodes { id name } edges { __typename cursor node { id } } pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } }"
        ));
        assert!(!plain("versions { nodes { id aliases } }"));
        assert!(!plain("versions { nodes { ... on ModelVersion { id } } }"));
        assert!(!plain(
            "versions { edges { node { id latestVersion { id } } } }"
        ));
        assert!(!plain("versions { nodes { id } nodes: totalCount }"));
        assert!(!plain("versions @include(if: true) { nodes { id } }"));
        assert!(!plain("latestVersion { versions { nodes { id } } }"));
        assert!(plain("id language tasks"));
        assert!(!plain("id language upstream(maxDepth: 1) { truncated }"));
        assert!(!plain("latestVersion { id aliases }"));
        assert!(!plain("latestVersion { id ... on Node { name } }"));
        assert!(!plain("latestVersion { latestVersion { id } }"));
        // a key named twice is merged by GraphQL: the resolvers do that
        assert!(!plain("id id"));
        assert!(!plain("latestVersion { id } latestVersion { name }"));
        assert!(!plain("upstream(maxDepth: 1) { truncated }"));
    }

    #[test]
    fn a_selections_plan_is_made_once_and_kept_for_it_alone() {
        let plans = PlainPlans::default();
        let names = items_of("registeredModels", "id name");
        let versions = items_of("registeredModels", "id latestVersion { id }");
        let fragment = items_of("registeredModels", "... on RegisteredModel { id }");
        let first = plans.of::<RegisteredModel>(&names).expect("plain");
        let again = plans.of::<RegisteredModel>(&names).expect("plain");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same plan for the same selection"
        );
        let other = plans.of::<RegisteredModel>(&versions).expect("plain");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.len(), 2);
        assert!(plans.of::<RegisteredModel>(&fragment).is_none());
        // the same selection as another type's items: a plan of its own
        let as_version = plans.of::<ModelVersion>(&versions);
        assert!(as_version.is_none(), "a version has no latestVersion");
    }
}
