//! Nested lists: each parent's page of children, for every parent of a response at once.
//!
//! The children are numbered per parent in the page's order (`ROW_NUMBER() OVER
//! (PARTITION BY parent ...)`) and only a page's worth of each parent's, plus one to tell
//! whether more follow, leaves the database: a model with 100,000 versions listed with
//! `versions(first: 5)` costs six rows, not 100,000 decoded and dropped. How many
//! children each parent has in all (`totalCount`) is a statement of its own, asked only
//! when the response wants it.
//!
//! A parent's children are the nodes whose `parent_id` it is and, for lists that
//! Kubeflow also fills through edges (artifacts `PART_OF` a version, or `INPUT` of a run),
//! the nodes with an edge of that kind into it.
use std::collections::HashMap;

use entity::{lineage_edge, node};
use sea_orm::sea_query::{
    Alias, ColumnRef, Expr, ExprTrait, Func, IntoColumnRef, JoinType, Query, UnionType,
    WindowStatement,
};
use sea_orm::{EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait};

use super::edges::EdgeKind;
use super::error::Result;
use super::filter::Filter;
use super::kind::NodeKind;
use super::page::{Direction, Order, OrderField, Page, PagePlan};
use super::read::{find_nodes, id_in};
use crate::db::exec::{Exec, build};

/// Which children a nested list holds.
#[derive(Clone, Copy, Debug)]
pub struct ChildList<'a> {
    pub kinds: &'a [NodeKind],
    pub filter: &'a Filter,
    pub order: Order,
    /// Also the nodes with an edge of this kind into the parent.
    pub attached_by: Option<EdgeKind>,
}

/// The derived table of (child, owner) pairs a list with attached children joins.
const OWNED: &str = "owned";

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
    /// Each parent's page (every parent has one, empty if it has no children): one
    /// statement, or two with attached children (their places, then the nodes).
    pub async fn pages<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
    ) -> Result<HashMap<i64, Page>> {
        let mut rows: HashMap<i64, Vec<node::Model>> = HashMap::new();
        if plan.size > 0 && !parents.is_empty() {
            let most = parents.len().saturating_mul(plan.size as usize + 1);
            match self.attached_by {
                None => {
                    let query = self.ranked(conn, parents, plan, false)?;
                    for n in conn.fetch_up_to::<node::Model>(query, most).await? {
                        rows.entry(n.parent_id.unwrap_or_default())
                            .or_default()
                            .push(n);
                    }
                }
                Some(_) => {
                    let query = self.ranked(conn, parents, plan, true)?;
                    let places: Vec<Placed> = conn.fetch_up_to(query, most).await?;
                    let mut ids: Vec<i64> = places.iter().map(|p| p.id).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let nodes: HashMap<i64, node::Model> = find_nodes(conn, &ids)
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

    /// How many children each parent has, whatever the page (parents without any are
    /// absent), in one statement.
    pub async fn counts<E: Exec>(&self, conn: &E, parents: &[i64]) -> Result<HashMap<i64, u64>> {
        if parents.is_empty() {
            return Ok(HashMap::new());
        }
        let owner = self.owner();
        let query = self
            .owned_by(conn, parents)?
            .select_only()
            .expr_as(Expr::col(owner.clone()), "owner")
            .expr_as(Expr::cust("COUNT(*)"), "matching")
            .group_by(Expr::col(owner));
        let counted: Vec<Counted> = conn.fetch(build(conn.backend(), &query)).await?;
        Ok(counted
            .into_iter()
            .map(|c| (c.owner, u64::try_from(c.matching).unwrap_or(0)))
            .collect())
    }

    /// The column that names a row's parent: its own `parent_id`, or the owner of the
    /// (child, owner) pair it was joined by.
    fn owner(&self) -> ColumnRef {
        match self.attached_by {
            None => (node::Entity, node::Column::ParentId).into_column_ref(),
            Some(_) => (Alias::new(OWNED), Alias::new("owner")).into_column_ref(),
        }
    }

    /// The parents' children matching the list's filter: by `parent_id`, or joined to
    /// the (child, owner) pairs by `parent_id` and by edge.
    fn owned_by<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
    ) -> Result<sea_orm::Select<node::Entity>> {
        let backend = conn.backend();
        let mut filter = self.filter.clone();
        let Some(edge) = self.attached_by else {
            filter.parent_ids = Some(parents.to_vec());
            return Ok(node::Entity::find().filter(filter.condition(self.kinds)?));
        };
        let mut owned = Query::select();
        owned
            .expr_as(
                Expr::col((node::Entity, node::Column::Id)),
                Alias::new("child"),
            )
            .expr_as(
                Expr::col((node::Entity, node::Column::ParentId)),
                Alias::new("owner"),
            )
            .from(node::Entity)
            .and_where(id_in(backend, r#""node"."parent_id""#, parents));
        let mut by_edge = Query::select();
        by_edge
            .column((lineage_edge::Entity, lineage_edge::Column::SourceId))
            .column((lineage_edge::Entity, lineage_edge::Column::TargetId))
            .from(lineage_edge::Entity)
            .and_where(id_in(backend, r#""lineage_edge"."target_id""#, parents))
            .and_where(
                Expr::col((lineage_edge::Entity, lineage_edge::Column::Kind)).eq(edge.as_str()),
            );
        owned.union(UnionType::Distinct, by_edge);
        let mut select = node::Entity::find().filter(filter.condition(self.kinds)?);
        QueryTrait::query(&mut select).join_subquery(
            JoinType::InnerJoin,
            owned,
            Alias::new(OWNED),
            Expr::col((Alias::new(OWNED), Alias::new("child")))
                .equals((node::Entity, node::Column::Id)),
        );
        Ok(select)
    }

    /// The statement reading each parent's page: the children numbered per parent in
    /// the order the page is fetched in (from its end for `last`), past the page's
    /// cursors, the first `size + 1` of each kept. Whole nodes, or with `places` only
    /// each one's owner and id.
    fn ranked<E: Exec>(
        &self,
        conn: &E,
        parents: &[i64],
        plan: &PagePlan,
        places: bool,
    ) -> Result<sea_orm::Statement> {
        let select = self
            .owned_by(conn, parents)?
            .filter(plan.condition(self.order));
        let mut select = if places {
            select
                .select_only()
                .expr_as(Expr::col(self.owner()), "owner")
                .column(node::Column::Id)
        } else {
            select
        };
        let forward = !plan.backward;
        let dir = if (self.order.direction == Direction::Asc) == forward {
            sea_orm::Order::Asc
        } else {
            sea_orm::Order::Desc
        };
        let mut window = WindowStatement::partition_by(self.owner());
        if self.order.field != OrderField::Id {
            window.order_by((node::Entity, self.order.field.column()), dir.clone());
        }
        window.order_by((node::Entity, node::Column::Id), dir);
        QueryTrait::query(&mut select).expr_window_as(
            Func::cust("ROW_NUMBER"),
            window,
            Alias::new("rn"),
        );
        let mut statement = build(conn.backend(), &select);
        let owner = if places { "owner" } else { "parent_id" };
        statement.sql = format!(
            r#"SELECT * FROM ({inner}) AS "ranked" WHERE "rn" <= {most} ORDER BY "{owner}", "rn""#,
            inner = statement.sql,
            most = plan.size + 1,
        );
        Ok(statement)
    }
}
