//! Nested lists: each parent's page of children, for every parent of a response at once.
//!
//! Only a page's worth of each parent's children, plus one to tell whether more follow,
//! leaves the database: a model with 100,000 versions listed with `versions(first: 5)`
//! costs six rows, not 100,000 decoded and dropped. On SQLite and PostgreSQL a subquery
//! per parent reads them straight off the index by parent (`page_rows_each`); on
//! MySQL/MariaDB, and for lists with attached children, the children are numbered per
//! parent in the page's order (`ROW_NUMBER() OVER (PARTITION BY parent ...)`) and the
//! first of each kept. How many children each parent has in all (`totalCount`) is a
//! statement of its own, asked only when the response wants it.
//!
//! A parent's children are the nodes whose `parent_id` it is and, for lists that
//! Kubeflow also fills through edges (artifacts `PART_OF` a version, or `INPUT` of a run),
//! the nodes with an edge of that kind into it.
use std::collections::HashMap;

use entity::{lineage_edge, node};
use sea_orm::sea_query::{
    Alias, ColumnRef, Expr, ExprTrait, Func, IntoColumnRef, JoinType, Query, SelectStatement,
    UnionType, WindowStatement,
};
use sea_orm::{
    DbBackend, EntityTrait, FromQueryResult, IdenStatic, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement,
};

use super::columns::NodeColumns;
use super::edges::EdgeKind;
use super::error::Result;
use super::filter::Filter;
use super::kind::NodeKind;
use super::page::{Direction, Order, OrderField, Page, PagePlan};
use super::read::{find_nodes_reading, id_in};
use crate::db::exec::{Exec, build, build_statement};
use crate::db::ids::{ids_in, json_ids};

/// Which children a nested list holds.
#[derive(Clone, Copy, Debug)]
pub struct ChildList<'a> {
    pub kinds: &'a [NodeKind],
    pub filter: &'a Filter,
    pub order: Order,
    /// Also the nodes with an edge of this kind into the parent.
    pub attached_by: Option<EdgeKind>,
    /// The columns of each child read (`registry::columns`): those its items show.
    pub columns: NodeColumns,
}

/// The derived table of (child, owner) pairs a list with attached children joins.
const OWNED: &str = "owned";

/// The derived table of numbered children a page reads from.
const RANKED: &str = "ranked";

/// How many of each parent's children a page reads: one more than it holds, to tell
/// whether more follow. Written into the statement rather than bound, so that the
/// planner sees it (sizes repeat; each is a statement of its own in the caches).
fn most(plan: &PagePlan) -> u64 {
    plan.size.saturating_add(1)
}

/// The columns a page is sorted by, in order: the list's field, then the id.
fn sort_keys(order: Order) -> Vec<node::Column> {
    let mut keys = Vec::with_capacity(2);
    if order.field != OrderField::Id {
        keys.push(order.field.column());
    }
    keys.push(node::Column::Id);
    keys
}

/// The key of an order whose field is a number, by which each parent's rows are put in
/// order here rather than by the statement (None for names: their order is the
/// database's collation, so the statement sorts them).
fn numeric_key(field: OrderField) -> Option<fn(&node::Model) -> i64> {
    match field {
        OrderField::CreateTime => Some(|n| n.create_time),
        OrderField::LastUpdateTime => Some(|n| n.last_update_time),
        OrderField::Id => Some(|n| n.id),
        OrderField::Name => None,
    }
}

/// The direction rows are fetched in: the list's, or the reverse for `last`.
fn fetch_order(order: Order, plan: &PagePlan) -> sea_orm::Order {
    if (order.direction == Direction::Asc) != plan.backward {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    }
}

/// The joins MySQL/MariaDB statements of nested lists make (as its SQL writes them:
/// the table joined, then its condition), each with the index it is to read.
const JOINS_BY_INDEX: [(&str, &str, &str); 3] = [
    // a parent's children (`ChildList::parents_first`, `ChildList::owned_by`)
    (
        "`node`",
        "ON `node`.`parent_id` = `parent`.`value`",
        "ix_node_parent_create",
    ),
    // the edges into a parent (`ChildList::owned_by`)
    (
        "`lineage_edge`",
        "ON `lineage_edge`.`target_id` = `parent`.`value`",
        "ix_lineage_edge_target",
    ),
    // each owned child's row by id (`ChildList::owned_by`)
    ("`node`", "ON `node`.`id` = `owned`.`child`", "PRIMARY"),
];

/// `statement` with each join of [`JOINS_BY_INDEX`] reading its index, which MariaDB is
/// told to use (`FORCE INDEX`: sea-query writes index hints for `FROM` tables only). The
/// join order alone is not enough: with statistics of a small table MariaDB read every
/// node once per block of parents (a block nested loop), 13 ms for 200 parents.
/// Statements without those joins (other stores) are left as they are.
fn by_index(mut statement: Statement) -> Statement {
    for (table, on, index) in JOINS_BY_INDEX {
        let join = format!("STRAIGHT_JOIN {table} {on}");
        let hinted = format!("STRAIGHT_JOIN {table} FORCE INDEX (`{index}`) {on}");
        statement.sql = statement.sql.replace(&join, &hinted);
    }
    statement
}

/// The parents as a table (`parent`, its column `value`), each once: MySQL/MariaDB.
fn parents_table(parents: &[i64]) -> sea_orm::sea_query::FunctionCall {
    let mut unique = parents.to_vec();
    unique.sort_unstable();
    unique.dedup();
    Func::cust("JSON_TABLE").arg(Expr::cust_with_values(
        r#"?, '$[*]' COLUMNS ("value" BIGINT PATH '$')"#,
        [json_ids(&unique)],
    ))
}

/// A child's place in its parent's page.
#[derive(FromQueryResult, serde::Deserialize)]
struct Placed {
    owner: i64,
    id: i64,
}

#[derive(FromQueryResult, serde::Deserialize)]
struct Counted {
    owner: i64,
    matching: i64,
}

impl ChildList<'_> {
    /// Each parent's page (every parent has one, empty if it has no children), each
    /// child with the list's columns (and those the page is sorted by): one
    /// statement, or two with attached children (their places, then the nodes). A
    /// `filterQuery` naming, bare, a property no node of the kinds has is refused first,
    /// as on a top-level list.
    pub async fn pages<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<HashMap<i64, Page>> {
        super::filter_query::check_bare_properties(conn, self.kinds, &self.filter.query_properties)
            .await?;
        let mut rows: HashMap<i64, Vec<node::Model>> = HashMap::new();
        if plan.size > 0 && !parents.is_empty() {
            let bound = parents.len().saturating_mul(most(plan) as usize);
            match self.attached_by {
                None => {
                    let query = self.page_statement(conn, parents, plan)?;
                    let sort_here = match conn.backend() {
                        DbBackend::MySql => None,
                        _ => numeric_key(self.order.field),
                    };
                    for n in conn.fetch_up_to::<node::Model>(query, bound).await? {
                        rows.entry(n.parent_id.unwrap_or_default())
                            .or_default()
                            .push(n);
                    }
                    if let Some(key) = sort_here {
                        let desc = fetch_order(self.order, plan) == sea_orm::Order::Desc;
                        for page in rows.values_mut() {
                            // each parent's few rows (a page and one), mostly in order
                            // already: PostgreSQL's as its index gave them, SQLite's by id
                            page.sort_unstable_by(|a, b| {
                                let ord = (key(a), a.id).cmp(&(key(b), b.id));
                                if desc { ord.reverse() } else { ord }
                            });
                        }
                    }
                }
                Some(_) => {
                    let query = self.page_statement(conn, parents, plan)?;
                    let places: Vec<Placed> = conn.fetch_up_to(query, bound).await?;
                    let mut ids: Vec<i64> = places.iter().map(|p| p.id).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let nodes: HashMap<i64, node::Model> =
                        find_nodes_reading(conn, &ids, self.read())
                            .await?
                            .into_iter()
                            .map(|n| (n.id, n))
                            .collect();
                    for place in places {
                        if let Some(n) = nodes.get(&place.id) {
                            rows.entry(place.owner).or_default().push(n.clone());
                        }
                    }
                }
            }
        }
        Ok(parents
            .iter()
            .map(|p| (*p, plan.finish(rows.remove(p).unwrap_or_default())))
            .collect())
    }

    /// The statement [`Self::pages`] reads the parents' pages with: their rows, or for a
    /// list with attached children their places (the rows are read by id after).
    pub fn page_statement<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<Statement> {
        match (self.attached_by, conn.backend()) {
            (Some(_), _) => self.page_places(conn, parents, plan),
            (None, DbBackend::MySql) => self.page_rows(conn, parents, plan),
            (None, _) => self.page_rows_each(conn, parents, plan),
        }
    }

    /// How many children each parent has, whatever the page (parents without any are
    /// absent), in one statement.
    pub async fn counts<E: Exec>(&self, conn: &E, parents: &[i64]) -> Result<HashMap<i64, u64>> {
        if parents.is_empty() {
            return Ok(HashMap::new());
        }
        let counted: Vec<Counted> = conn.fetch(self.count_statement(conn, parents)?).await?;
        Ok(counted
            .into_iter()
            .map(|c| (c.owner, u64::try_from(c.matching).unwrap_or(0)))
            .collect())
    }

    /// The statement [`Self::counts`] counts with.
    pub fn count_statement<E: Exec>(&self, conn: &E, parents: &[i64]) -> Result<Statement> {
        let owner = self.owner();
        let mut query = match self.parents_first(conn, parents)? {
            Some(query) => query,
            None => self.owned_by(conn, parents)?.select_only().into_query(),
        };
        query
            .expr_as(Expr::col(owner.clone()), Alias::new("owner"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("matching"))
            .group_by_col(owner);
        Ok(by_index(build_statement(conn.backend(), &query)))
    }

    /// On MySQL/MariaDB, for children by `parent_id`: the parents first, each joined to
    /// its children matching the list's filter by the index by parent (`STRAIGHT_JOIN`
    /// keeps that order), selecting nothing yet. Given `parent_id IN (...)` and a new
    /// store's statistics (an empty table), MariaDB read every node, or the whole index,
    /// and looked each one's parent up among the parents instead. None elsewhere.
    fn parents_first<E: Exec>(&self, conn: &E, parents: &[i64]) -> Result<Option<SelectStatement>> {
        if conn.backend() != DbBackend::MySql || self.attached_by.is_some() {
            return Ok(None);
        }
        let parent = || Alias::new("parent");
        let mut select = Query::select();
        select
            .from_function(parents_table(parents), parent())
            .join(
                JoinType::StraightJoin,
                node::Entity,
                Expr::col((node::Entity, node::Column::ParentId))
                    .equals((parent(), Alias::new("value"))),
            )
            .cond_where(self.condition()?);
        Ok(Some(select))
    }

    /// The columns a page reads of each child: the list's, the parent's, and those it is
    /// sorted by (a page's cursors are made from them).
    fn read(&self) -> NodeColumns {
        sort_keys(self.order)
            .into_iter()
            .fold(self.columns.with(node::Column::ParentId), NodeColumns::with)
    }

    /// The column that names a row's parent: its own `parent_id`, or the owner of the
    /// (child, owner) pair it was joined by.
    fn owner(&self) -> ColumnRef {
        match self.attached_by {
            None => (node::Entity, node::Column::ParentId).into_column_ref(),
            Some(_) => (Alias::new(OWNED), Alias::new("owner")).into_column_ref(),
        }
    }

    /// The list's filter as SQL, without any parents it names: each statement adds the
    /// parents its own way.
    fn condition(&self) -> Result<sea_orm::Condition> {
        let mut filter = self.filter.clone();
        filter.parent_ids = None;
        filter.condition(self.kinds)
    }

    /// The parents' children matching the list's filter: by `parent_id`, or joined to
    /// the (child, owner) pairs by `parent_id` and by edge.
    fn owned_by<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
    ) -> Result<sea_orm::Select<node::Entity>> {
        let backend = conn.backend();
        let Some(edge) = self.attached_by else {
            return Ok(node::Entity::find().filter(self.condition()?).filter(id_in(
                backend,
                r#""node"."parent_id""#,
                parents,
            )));
        };
        let mysql = backend == DbBackend::MySql;
        let parent = || Alias::new("parent");
        let mut owned = Query::select();
        owned
            .expr_as(
                Expr::col((node::Entity, node::Column::Id)),
                Alias::new("child"),
            )
            .expr_as(
                Expr::col((node::Entity, node::Column::ParentId)),
                Alias::new("owner"),
            );
        let mut by_edge = Query::select();
        by_edge
            .column((lineage_edge::Entity, lineage_edge::Column::SourceId))
            .column((lineage_edge::Entity, lineage_edge::Column::TargetId))
            .and_where(
                Expr::col((lineage_edge::Entity, lineage_edge::Column::Kind)).eq(edge.as_str()),
            );
        if mysql {
            // the parents first, each joined to its children and to the edges into it by
            // their indexes (`by_index`), as `parents_first` does
            owned.from_function(parents_table(parents), parent()).join(
                JoinType::StraightJoin,
                node::Entity,
                Expr::col((node::Entity, node::Column::ParentId))
                    .equals((parent(), Alias::new("value"))),
            );
            by_edge
                .from_function(parents_table(parents), parent())
                .join(
                    JoinType::StraightJoin,
                    lineage_edge::Entity,
                    Expr::col((lineage_edge::Entity, lineage_edge::Column::TargetId))
                        .equals((parent(), Alias::new("value"))),
                );
        } else {
            owned
                .from(node::Entity)
                .and_where(id_in(backend, r#""node"."parent_id""#, parents));
            by_edge.from(lineage_edge::Entity).and_where(id_in(
                backend,
                r#""lineage_edge"."target_id""#,
                parents,
            ));
        }
        owned.union(UnionType::Distinct, by_edge);
        let mut select = node::Entity::find().filter(self.condition()?);
        let on = Expr::col((node::Entity, node::Column::Id))
            .equals((Alias::new(OWNED), Alias::new("child")));
        if mysql {
            // the owned children first, then each one's row by id
            QueryTrait::query(&mut select)
                .from_clear()
                .from_subquery(owned, Alias::new(OWNED))
                .join(JoinType::StraightJoin, node::Entity, on);
        } else {
            QueryTrait::query(&mut select).join_subquery(
                JoinType::InnerJoin,
                owned,
                Alias::new(OWNED),
                Expr::col((Alias::new(OWNED), Alias::new("child")))
                    .equals((node::Entity, node::Column::Id)),
            );
        }
        Ok(select)
    }

    /// Each parent's children numbered (`rn`) in the order its page is fetched in (from
    /// the end for `last`), past the page's cursors: `owner`, `id` and `rn` only, so the
    /// numbering sorts three numbers a child, not whole rows.
    fn numbered<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<SelectStatement> {
        let dir = fetch_order(self.order, plan);
        let mut window = WindowStatement::partition_by(self.owner());
        for key in sort_keys(self.order) {
            window.order_by((node::Entity, key), dir.clone());
        }
        let mut select = if let Some(mut select) = self.parents_first(conn, parents)? {
            select
                .expr_as(Expr::col(self.owner()), Alias::new("owner"))
                .column((node::Entity, node::Column::Id))
                .cond_where(plan.condition(self.order));
            select
        } else {
            self.owned_by(conn, parents)?
                .filter(plan.condition(self.order))
                .select_only()
                .expr_as(Expr::col(self.owner()), "owner")
                .column(node::Column::Id)
                .into_query()
        };
        select.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("rn"));
        Ok(select)
    }

    /// The statement reading each parent's page on MySQL/MariaDB: its first `size + 1`
    /// numbered children, whole, in order, by parent.
    fn page_rows<E: Exec>(&self, conn: &E, parents: &[i64], plan: &PagePlan) -> Result<Statement> {
        let ranked = || Alias::new(RANKED);
        let mut select = self.read().select(node::Entity::find());
        // the numbered children first, then each one's row by id (`STRAIGHT_JOIN`):
        // with a new store's statistics MariaDB read every node and looked each up among
        // the numbered ones instead
        QueryTrait::query(&mut select)
            .from_clear()
            .from_subquery(self.numbered(conn, parents, plan)?, ranked())
            .join(
                JoinType::StraightJoin,
                node::Entity,
                Expr::col((node::Entity, node::Column::Id)).equals((ranked(), Alias::new("id"))),
            );
        let select = select
            .filter(Expr::col((ranked(), Alias::new("rn"))).lte(Expr::cust(most(plan).to_string())))
            .order_by_asc(Expr::col((ranked(), Alias::new("owner"))))
            .order_by_asc(Expr::col((ranked(), Alias::new("rn"))));
        Ok(by_index(build(conn.backend(), &select)))
    }

    /// [`Self::page_rows`] on SQLite and PostgreSQL, which can run a subquery per parent
    /// (a correlated `IN`, a `LATERAL` join): each reads its parent's first `size + 1`
    /// children straight off the index by parent, kind and creation (in the default
    /// order; another order sorts that one parent's children), so a page costs its size
    /// whatever the parent holds, where numbering sorts every child of the parents (about
    /// 2 us each on SQLite). MySQL/MariaDB has neither for a limited subquery.
    fn page_rows_each<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<Statement> {
        let backend = conn.backend();
        let dir = fetch_order(self.order, plan);
        let keys = sort_keys(self.order);
        let mut one = node::Entity::find()
            .filter(self.condition()?)
            .filter(plan.condition(self.order))
            .filter(Expr::cust(r#""node"."parent_id" = "parent"."value""#));
        for key in &keys {
            one = one.order_by(*key, dir.clone());
        }
        one = match backend {
            DbBackend::Sqlite => one.select_only().column(node::Column::Id),
            _ => self.read().select(one),
        };
        let mut one = build(backend, &one);
        let limit = most(plan);
        let word = match dir {
            sea_orm::Order::Desc => "DESC",
            _ => "ASC",
        };
        // rows ordered by a number are put in order per parent after reading (`pages`):
        // sorting every parent's rows together in the statement cost PostgreSQL a
        // quarter of it (0.13 of 0.59 ms for 100 parents' pages of four); names are
        // sorted here, in the database's collation
        let order = match numeric_key(self.order.field) {
            Some(_) => String::new(),
            None => {
                let keys = keys
                    .iter()
                    .map(|k| format!(r#", "node"."{}" {word}"#, k.as_str()));
                std::iter::once(r#" ORDER BY "node"."parent_id""#.to_owned())
                    .chain(keys)
                    .collect()
            }
        };
        let ids = sea_orm::Value::from(json_ids(parents));
        let mut values = one.values.take().map(|v| v.0).unwrap_or_default();
        one.sql = match backend {
            // numbered placeholders: the ids go last, after the subquery's own
            DbBackend::Postgres => {
                values.push(ids);
                let at = values.len();
                format!(
                    r#"SELECT {read} FROM ({parents}) AS "parent"("value") CROSS JOIN LATERAL ({inner} LIMIT {limit}) AS "node"{order}"#,
                    read = self.read().sql("node"),
                    parents = ids_in(backend, &format!("${at}")),
                    inner = one.sql,
                )
            }
            // positional placeholders: the ids' comes first in the text
            _ => {
                values.insert(0, ids);
                format!(
                    r#"SELECT {read} FROM json_each(?) AS "parent" JOIN "node" ON "node"."id" IN ({inner} LIMIT {limit}){order}"#,
                    read = self.read().sql("node"),
                    inner = one.sql,
                )
            }
        };
        one.values = Some(sea_orm::Values(values));
        Ok(one)
    }

    /// [`Self::page_rows`] for lists with attached children, whose rows may be on several
    /// parents' pages: each page's children's parent and id, in order, by parent.
    fn page_places<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<Statement> {
        let ranked = || Alias::new(RANKED);
        let mut select = Query::select();
        select
            .column((ranked(), Alias::new("owner")))
            .column((ranked(), Alias::new("id")))
            .from_subquery(self.numbered(conn, parents, plan)?, ranked())
            .and_where(
                Expr::col((ranked(), Alias::new("rn"))).lte(Expr::cust(most(plan).to_string())),
            )
            .order_by((ranked(), Alias::new("owner")), sea_orm::Order::Asc)
            .order_by((ranked(), Alias::new("rn")), sea_orm::Order::Asc);
        Ok(by_index(build_statement(conn.backend(), &select)))
    }
}
