//! Relay connections over registry pages, with `totalCount` counted only when asked for.
use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, OutputType, SimpleObject};
use entity::node;

use super::ContextExt;
use super::errors::GqlResult;
use super::loaders::{ChildQuery, ChildrenOf};
use crate::db::direct::read_on;
use crate::registry::page::Cursor;
use crate::registry::{Filter, NodeKind, Order, Page, PageArgs, Result, read};

/// Fields every connection has besides edges, nodes and pageInfo.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct ConnectionTotals {
    /// How many items match the filter, whatever the cursors.
    pub total_count: u64,
}

pub type Conn<T> = Connection<PageCursor, T, ConnectionTotals>;

/// A list item's cursor, encoded only if the response asks for it (an edge's `cursor`,
/// `pageInfo`): dashboards mostly read `nodes`, and encoding every row's cursor up front
/// (JSON, then base64) cost more than a listed row's own fields.
pub enum PageCursor {
    Node(Cursor),
    Encoded(String),
}

impl CursorType for PageCursor {
    type Error = std::convert::Infallible;

    fn decode_cursor(text: &str) -> std::result::Result<Self, Self::Error> {
        Ok(Self::Encoded(text.to_owned()))
    }

    fn encode_cursor(&self) -> String {
        match self {
            Self::Node(cursor) => cursor.encode(),
            Self::Encoded(text) => text.clone(),
        }
    }
}

/// The complexity of a list field: 1 for the field, and its selection once per item a
/// `first` or `last` asks for (once when neither is given: the default page is the
/// server's), so many aliased `first: 1000` lists cost what they would return.
pub fn list_complexity(child: usize, first: Option<i32>, last: Option<i32>) -> usize {
    let items = first.or(last).map_or(1, |n| n.max(1) as usize);
    items.saturating_mul(child).saturating_add(1)
}

/// Nodes a walk may list per unit of complexity: a walk's `first` (500 by default,
/// 10,000 at most) counts once per this many, so one large walk fits the default bound
/// (10,000) but a hundred aliased ones do not.
pub const WALK_NODES_PER_UNIT: usize = 100;

/// The complexity of a lineage walk field: 1 for the field, and its selection once per
/// `WALK_NODES_PER_UNIT` nodes `first` allows.
pub fn walk_complexity(child: usize, first: Option<i32>) -> usize {
    let nodes = first.map_or(1, |n| n.max(1) as usize);
    nodes
        .div_ceil(WALK_NODES_PER_UNIT)
        .saturating_mul(child)
        .saturating_add(1)
}

/// Relay paging arguments of one list field.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageArgs {
    PageArgs {
        first: first.map(i64::from),
        after,
        last: last.map(i64::from),
        before,
    }
}

fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// A connection over `page`, each row wrapped by `wrap`.
pub(crate) fn build<T: OutputType>(
    page: Page,
    order: Order,
    total: u64,
    wrap: impl Fn(node::Model) -> Result<T>,
) -> async_graphql::Result<Conn<T>> {
    let mut conn = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        ConnectionTotals { total_count: total },
    );
    // an edge holds a whole row: growing the list a push at a time copied each about once
    conn.edges.reserve_exact(page.items.len());
    for n in page.items {
        let cursor = PageCursor::Node(Cursor::of(order, &n));
        conn.edges.push(Edge::new(cursor, wrap(n).gql()?));
    }
    Ok(conn)
}

/// A top-level list: one statement for the page, one more for `totalCount` if selected.
pub async fn list<T: OutputType>(
    ctx: &Context<'_>,
    kinds: &[NodeKind],
    filter: Filter,
    order: Order,
    args: PageArgs,
    wrap: impl Fn(node::Model) -> Result<T>,
) -> async_graphql::Result<Conn<T>> {
    list_reading_ahead(ctx, kinds, filter, order, args, async |_| Ok(()), wrap).await
}

/// `list`, with `ahead` given the page's items before any of their fields resolve: a
/// list whose items' fields are read per item (`latestVersion`) reads them here for the
/// whole page in one statement, instead of leaving a resolver per item to gather the
/// same keys into a batch.
pub async fn list_reading_ahead<T: OutputType>(
    ctx: &Context<'_>,
    kinds: &[NodeKind],
    filter: Filter,
    order: Order,
    args: PageArgs,
    ahead: impl AsyncFnOnce(&[node::Model]) -> async_graphql::Result<()>,
    wrap: impl Fn(node::Model) -> Result<T>,
) -> async_graphql::Result<Conn<T>> {
    let state = ctx.state();
    let limits = state.limits.page();
    // only the columns the items' selection reads
    let columns = super::columns::items_read(ctx);
    let page = read_on!(&state.db, &state.readers, |conn| {
        read::list_of(conn, kinds, &filter, order, &args, limits, columns)
    })
    .await
    .gql()?;
    ahead(&page.items).await?;
    let total = if wants_total(ctx) {
        read_on!(&state.db, &state.readers, |conn| read::count(
            conn, kinds, &filter
        ))
        .await
        .gql()?
    } else {
        0
    };
    build(page, order, total, wrap)
}

/// A top-level list sorted by a child's value (`registry::value_order`): one statement
/// for the page, one for the items' values, one more for `totalCount` if selected.
pub async fn list_by_value<T: OutputType>(
    ctx: &Context<'_>,
    kinds: &[NodeKind],
    filter: Filter,
    order: &crate::registry::value_order::ValueOrder,
    args: PageArgs,
    wrap: impl Fn(node::Model) -> Result<T>,
) -> async_graphql::Result<Conn<T>> {
    let state = ctx.state();
    let limits = state.limits.page();
    let (page, cursors) = read_on!(&state.db, &state.readers, |conn| {
        crate::registry::value_order::list_by_value(conn, kinds, &filter, order, &args, limits)
    })
    .await
    .gql()?;
    let total = if wants_total(ctx) {
        read_on!(&state.db, &state.readers, |conn| read::count(
            conn, kinds, &filter
        ))
        .await
        .gql()?
    } else {
        0
    };
    let mut conn = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        ConnectionTotals { total_count: total },
    );
    for (n, cursor) in page.items.into_iter().zip(cursors) {
        conn.edges
            .push(Edge::new(PageCursor::Encoded(cursor), wrap(n).gql()?));
    }
    Ok(conn)
}

/// One page of a parent's children and, if the response asks for it, their total:
/// batched across every parent in the response (a statement per field per nesting level,
/// and one more for `totalCount`). `attached_by`: also the nodes with an edge of that
/// kind into the parent. As rows, for [`children`] to make a connection of, or for a
/// caller that builds the response itself (`graphql::nodes::plain_nodes`).
pub(crate) async fn children_page(
    ctx: &Context<'_>,
    parent: i64,
    kinds: Vec<NodeKind>,
    filter: Filter,
    order: Order,
    attached_by: Option<crate::registry::edges::EdgeKind>,
    args: PageArgs,
) -> async_graphql::Result<(Page, u64)> {
    let plan = args.plan(order, ctx.state().limits.page()).gql()?;
    let key = ChildrenOf {
        parent,
        // only the columns the items' selection reads
        query: ChildQuery::new(
            kinds,
            filter,
            order,
            attached_by,
            plan,
            super::columns::items_read(ctx),
        ),
    };
    let loaders = ctx.loaders();
    let total = async {
        match wants_total(ctx) {
            true => loaders.child_count(key.clone()).await,
            false => Ok(0),
        }
    };
    let (page, total) = futures_util::future::try_join(loaders.children(key.clone()), total)
        .await
        .gql()?;
    let page = page
        .map(std::sync::Arc::unwrap_or_clone)
        .unwrap_or_default();
    Ok((page, total))
}

/// A parent's children and the nodes attached to it by `edge`, as a connection.
#[allow(clippy::too_many_arguments)]
pub async fn attached_children<T: OutputType>(
    ctx: &Context<'_>,
    parent: i64,
    edge: crate::registry::edges::EdgeKind,
    kinds: Vec<NodeKind>,
    filter: Filter,
    order: Order,
    args: PageArgs,
    wrap: impl Fn(node::Model) -> Result<T>,
) -> async_graphql::Result<Conn<T>> {
    let (page, total) = children_page(ctx, parent, kinds, filter, order, Some(edge), args).await?;
    build(page, order, total, wrap)
}

/// A parent's children as a connection.
pub async fn children<T: OutputType>(
    ctx: &Context<'_>,
    parent: i64,
    kinds: Vec<NodeKind>,
    filter: Filter,
    order: Order,
    args: PageArgs,
    wrap: impl Fn(node::Model) -> T,
) -> async_graphql::Result<Conn<T>> {
    let (page, total) = children_page(ctx, parent, kinds, filter, order, None, args).await?;
    build(page, order, total, |n| Ok(wrap(n)))
}

/// A newest-first page over a log keyed by an increasing number (changes, release
/// requests): how many items (`first`, capped) and the key they lie below (`after`, the
/// last key of the previous page).
pub fn descending_window(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<(u64, Option<i64>)> {
    let limits = &ctx.state().limits;
    let first = match first {
        Some(n) if n < 0 => {
            return Err(crate::registry::RegistryError::invalid(
                "first",
                "must not be negative",
            ))
            .gql();
        }
        Some(n) => (n as u64).min(limits.max_page_size),
        None => limits.default_page_size,
    };
    let before = after
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                crate::registry::RegistryError::invalid("after", format!("{c:?} is not a cursor"))
            })
        })
        .transpose()
        .gql()?;
    Ok((first, before))
}

/// The connection of a page read with one item more than `first` (which says whether
/// more remain), keyed by `key`.
pub fn descending_page<R, T: OutputType>(
    mut rows: Vec<R>,
    first: u64,
    before: Option<i64>,
    key: impl Fn(&R) -> i64,
    wrap: impl Fn(R) -> T,
) -> Connection<String, T> {
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    let mut conn = Connection::new(before.is_some(), more);
    conn.edges.extend(
        rows.into_iter()
            .map(|r| Edge::new(key(&r).to_string(), wrap(r))),
    );
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_count_the_items_asked_for() {
        assert_eq!(list_complexity(4, None, None), 5);
        assert_eq!(list_complexity(4, Some(1000), None), 4001);
        assert_eq!(list_complexity(4, None, Some(10)), 41);
        assert_eq!(list_complexity(4, Some(0), None), 5);
        assert_eq!(list_complexity(usize::MAX, Some(1000), None), usize::MAX);
    }

    #[test]
    fn walks_count_per_hundred_nodes() {
        assert_eq!(walk_complexity(6, Some(500)), 31);
        assert_eq!(walk_complexity(6, Some(10_000)), 601);
        assert_eq!(walk_complexity(6, Some(101)), 13);
        assert_eq!(walk_complexity(6, None), 7);
    }
}
