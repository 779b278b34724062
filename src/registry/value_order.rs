//! Lists ordered by a value held in a child: runs (or versions) by the value of their
//! metric or parameter of one name. Keyset-paged like every list: the cursor carries the
//! value and the id. Nodes without that child come last in either direction. Metrics
//! sort as numbers, parameters as their text.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::node;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Order as SqlOrder, SimpleExpr};
use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::error::{RegistryError, Result};
use super::filter::Filter;
use super::kind::NodeKind;
use super::page::{Direction, Page, PageArgs, PageLimits};
use crate::db::exec::{Exec, all};

/// Which child value orders the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSource {
    Metric,
    Parameter,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ValueOrder {
    pub source: ValueSource,
    /// The child's name (`auc`, `learning_rate`).
    pub name: String,
    pub direction: Direction,
}

/// A sort value: a metric's number or a parameter's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ValueCursor {
    /// 'm' or 'p' and the name: a cursor pages only the order it was made for.
    #[serde(rename = "o")]
    order: String,
    #[serde(rename = "v")]
    value: Option<SortValue>,
    #[serde(rename = "i")]
    id: i64,
}

impl ValueOrder {
    fn tag(&self) -> String {
        let source = match self.source {
            ValueSource::Metric => 'm',
            ValueSource::Parameter => 'p',
        };
        format!("{source}:{}", self.name)
    }

    /// The child's value for the node in the outer query, as a correlated subquery.
    fn key(&self, backend: DbBackend) -> SimpleExpr {
        let (column, kind) = match self.source {
            ValueSource::Metric => ("metric_value", NodeKind::Metric),
            ValueSource::Parameter => ("parameter_value", NodeKind::Parameter),
        };
        let mark = match backend {
            DbBackend::Postgres => "$1",
            _ => "?",
        };
        Expr::cust_with_values(
            format!(
                r#"(SELECT "v"."{column}" FROM "node" AS "v" WHERE "v"."parent_id" = "node"."id" AND "v"."kind" = '{}' AND "v"."name" = {mark} LIMIT 1)"#,
                kind.as_str()
            ),
            [self.name.clone()],
        )
    }

    fn value_of(&self, v: &SortValue) -> sea_orm::Value {
        match v {
            SortValue::Number(n) => (*n).into(),
            SortValue::Text(s) => s.clone().into(),
        }
    }

    /// Rows strictly after (`forward`) or before the cursor, in this order with the
    /// nodes lacking a value last.
    fn condition(&self, backend: DbBackend, c: &ValueCursor, forward: bool) -> Condition {
        let key = self.key(backend);
        let id = Expr::col((node::Entity, node::Column::Id));
        let ascending = self.direction == Direction::Asc;
        // "beyond": further along the order among rows that share the null-ness
        let beyond = |e: SimpleExpr, v: sea_orm::Value| -> SimpleExpr {
            if ascending == forward {
                Expr::expr(e).gt(v)
            } else {
                Expr::expr(e).lt(v)
            }
        };
        let id_beyond = beyond(id, c.id.into());
        match (&c.value, forward) {
            (Some(v), true) => Condition::any()
                .add(Expr::expr(key.clone()).is_null())
                .add(beyond(key.clone(), self.value_of(v)))
                .add(
                    Condition::all()
                        .add(Expr::expr(key).eq(self.value_of(v)))
                        .add(id_beyond),
                ),
            (Some(v), false) => Condition::all()
                .add(Expr::expr(key.clone()).is_not_null())
                .add(
                    Condition::any()
                        .add(beyond(key.clone(), self.value_of(v)))
                        .add(
                            Condition::all()
                                .add(Expr::expr(key).eq(self.value_of(v)))
                                .add(id_beyond),
                        ),
                ),
            (None, true) => Condition::all()
                .add(Expr::expr(key).is_null())
                .add(id_beyond),
            (None, false) => Condition::any()
                .add(Expr::expr(key.clone()).is_not_null())
                .add(
                    Condition::all()
                        .add(Expr::expr(key).is_null())
                        .add(id_beyond),
                ),
        }
    }

    fn decode(&self, text: &str, arg: &str) -> Result<ValueCursor> {
        let bad = || RegistryError::invalid(arg, "is not a cursor from this list");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let cursor: ValueCursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let fits = matches!(
            (&cursor.value, self.source),
            (None, _)
                | (Some(SortValue::Number(_)), ValueSource::Metric)
                | (Some(SortValue::Text(_)), ValueSource::Parameter)
        );
        if cursor.order != self.tag() || !fits {
            return Err(RegistryError::invalid(arg, "was made for another order"));
        }
        Ok(cursor)
    }
}

/// One page of nodes of `kinds` matching `filter`, in `order`, and each item's cursor.
pub async fn list_by_value<E: Exec>(
    conn: &E,
    kinds: &[NodeKind],
    filter: &Filter,
    order: &ValueOrder,
    page: &PageArgs,
    limits: PageLimits,
) -> Result<(Page, Vec<String>)> {
    super::filter_query::check_bare_properties(conn, kinds, &filter.query_properties).await?;
    if order.name.is_empty() {
        return Err(RegistryError::invalid("orderByValue.name", "is required"));
    }
    // the size and the direction as any list plans them (cursors are this order's own)
    let plan = PageArgs {
        after: None,
        before: None,
        ..page.clone()
    }
    .plan(super::page::Order::default(), limits)?;
    let after = page
        .after
        .as_deref()
        .map(|c| order.decode(c, "after"))
        .transpose()?;
    let before = page
        .before
        .as_deref()
        .map(|c| order.decode(c, "before"))
        .transpose()?;
    let plan = super::page::PagePlan {
        after: None,
        before: None,
        ..plan
    };
    let mut finished = Page::default();
    let mut cursors = Vec::new();
    if plan.size > 0 {
        let backend = conn.backend();
        let forward = !plan.backward;
        let mut query = node::Entity::find().filter(filter.condition(kinds)?);
        if let Some(c) = &after {
            query = query.filter(order.condition(backend, c, true));
        }
        if let Some(c) = &before {
            query = query.filter(order.condition(backend, c, false));
        }
        let ascending = (order.direction == Direction::Asc) == forward;
        let dir = if ascending {
            SqlOrder::Asc
        } else {
            SqlOrder::Desc
        };
        // nulls last going forward (first when reading backwards from the end)
        let nulls = if forward {
            SqlOrder::Asc
        } else {
            SqlOrder::Desc
        };
        let key = order.key(backend);
        let query = query
            .order_by(Expr::expr(key.clone()).is_null(), nulls)
            .order_by(key, dir.clone())
            .order_by(node::Column::Id, dir)
            .limit(plan.size + 1);
        let rows = all(conn, &query).await?;
        let mut page = plan.finish(rows);
        // has_previous / has_next as a cursor-bounded page says them
        if !plan.backward {
            page.has_previous = after.is_some();
        } else {
            page.has_next = before.is_some();
        }
        let values = values_of(conn, order, &page.items).await?;
        for n in &page.items {
            let cursor = ValueCursor {
                order: order.tag(),
                value: values.get(&n.id).cloned(),
                id: n.id,
            };
            cursors.push(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default()));
        }
        finished = page;
    }
    Ok((finished, cursors))
}

/// Each listed node's value, in one statement.
async fn values_of<E: Exec>(
    conn: &E,
    order: &ValueOrder,
    items: &[node::Model],
) -> Result<std::collections::HashMap<i64, SortValue>> {
    let kind = match order.source {
        ValueSource::Metric => NodeKind::Metric,
        ValueSource::Parameter => NodeKind::Parameter,
    };
    let ids: Vec<i64> = items.iter().map(|n| n.id).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let children = node::Entity::find()
        .filter(super::read::id_in(
            conn.backend(),
            r#""node"."parent_id""#,
            &ids,
        ))
        .filter(sea_orm::ColumnTrait::eq(&node::Column::Kind, kind.as_str()))
        .filter(sea_orm::ColumnTrait::eq(
            &node::Column::Name,
            order.name.as_str(),
        ));
    let children: Vec<node::Model> = all(conn, &children).await?;
    Ok(children
        .into_iter()
        .filter_map(|c| {
            let value = match order.source {
                ValueSource::Metric => c.metric_value.map(SortValue::Number),
                ValueSource::Parameter => c.parameter_value.clone().map(SortValue::Text),
            }?;
            Some((c.parent_id?, value))
        })
        .collect())
}
