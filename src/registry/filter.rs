//! Typed list filters, turned into parameterized SQL conditions.
use entity::{lineage_edge, node, node_property};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LikeExpr, Query, SimpleExpr};

use super::error::{RegistryError, Result};
use super::kind::NodeKind;
use super::props::PropValue;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StringMatch {
    pub eq: Option<String>,
    pub contains: Option<String>,
    pub any_of: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Exists,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PropertyFilter {
    pub key: String,
    pub op: PropOp,
    pub value: Option<PropValue>,
}

/// Every way a list can be narrowed; unset fields do not filter. Filters compare field
/// by field (a nested list's loader key holds one: `graphql::loaders::ChildQuery`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub ids: Option<Vec<i64>>,
    pub name: Option<StringMatch>,
    pub external_id: Option<String>,
    pub namespace: Option<String>,
    pub state: Option<String>,
    pub owner: Option<String>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub uri: Option<String>,
    pub status: Option<String>,
    pub parent_ids: Option<Vec<i64>>,
    /// Only these kinds (on top of the kinds a list is of).
    pub kinds: Option<Vec<NodeKind>>,
    pub registered_model_id: Option<i64>,
    pub model_version_id: Option<i64>,
    pub custom_properties: Vec<PropertyFilter>,
    /// Artifacts of a model version (created under it or PART_OF it) or of a run
    /// (created under it or its INPUT).
    pub attached_to: Option<(i64, &'static str)>,
    /// A parsed Kubeflow `filterQuery`, already a condition.
    pub query: Option<Condition>,
    /// Custom properties the query names bare: each must exist on some node listed
    /// (`filter_query::check_bare_properties`, run before the list is read).
    pub query_properties: Vec<String>,
}

/// Escapes LIKE wildcards so `contains` matches text literally.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lower(expr: impl Into<SimpleExpr>) -> SimpleExpr {
    SimpleExpr::FunctionCall(sea_orm::sea_query::Func::lower(expr.into()))
}

impl Filter {
    /// Narrows to the children of `parent`, together with (AND) any parent asked for
    /// already: an artifact under a version and a run at once is under neither.
    pub fn narrow_parent(&mut self, parent: i64) {
        self.parent_ids = Some(match self.parent_ids.take() {
            Some(ids) => ids.into_iter().filter(|p| *p == parent).collect(),
            None => vec![parent],
        });
    }

    pub fn condition(&self, kinds: &[NodeKind]) -> Result<Condition> {
        let mut cond = Condition::all();
        if kinds.len() == 1 {
            cond = cond.add(node::Column::Kind.eq(kinds[0].as_str()));
        } else if !kinds.is_empty() {
            cond = cond.add(node::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        if let Some(ids) = &self.ids {
            cond = cond.add(node::Column::Id.is_in(ids.clone()));
        }
        if let Some(m) = &self.name {
            if let Some(eq) = &m.eq {
                cond = cond.add(node::Column::Name.eq(eq.clone()));
            }
            if let Some(part) = &m.contains {
                let pattern = format!("%{}%", like_escape(&part.to_lowercase()));
                cond = cond.add(
                    lower(Expr::col((node::Entity, node::Column::Name)))
                        .like(LikeExpr::new(pattern).escape('\\')),
                );
            }
            if let Some(list) = &m.any_of {
                cond = cond.add(node::Column::Name.is_in(list.clone()));
            }
        }
        let exact: [(node::Column, &Option<String>); 6] = [
            (node::Column::ExternalId, &self.external_id),
            (node::Column::Namespace, &self.namespace),
            (node::Column::State, &self.state),
            (node::Column::Owner, &self.owner),
            (node::Column::Uri, &self.uri),
            (node::Column::Status, &self.status),
        ];
        for (col, value) in exact {
            if let Some(v) = value {
                cond = cond.add(col.eq(v.clone()));
            }
        }
        let times: [(node::Column, &Option<i64>, bool); 4] = [
            (node::Column::CreateTime, &self.created_after, true),
            (node::Column::CreateTime, &self.created_before, false),
            (node::Column::LastUpdateTime, &self.updated_after, true),
            (node::Column::LastUpdateTime, &self.updated_before, false),
        ];
        for (col, value, after) in times {
            if let Some(t) = value {
                cond = cond.add(if after { col.gt(*t) } else { col.lt(*t) });
            }
        }
        if let Some(ids) = &self.parent_ids {
            cond = cond.add(node::Column::ParentId.is_in(ids.clone()));
        }
        if let Some(kinds) = &self.kinds {
            cond = cond.add(node::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        if let Some(id) = self.registered_model_id {
            cond = cond.add(node::Column::RegisteredModelId.eq(id));
        }
        if let Some(id) = self.model_version_id {
            cond = cond.add(node::Column::ModelVersionId.eq(id));
        }
        for pf in &self.custom_properties {
            cond = cond.add(property_condition(pf)?);
        }
        if let Some((owner, edge)) = self.attached_to {
            let mut sub = Query::select();
            sub.expr(Expr::val(1))
                .from(lineage_edge::Entity)
                .and_where(
                    Expr::col((lineage_edge::Entity, lineage_edge::Column::SourceId))
                        .equals((node::Entity, node::Column::Id)),
                )
                .and_where(lineage_edge::Column::TargetId.eq(owner))
                .and_where(lineage_edge::Column::Kind.eq(edge));
            cond = cond.add(
                Condition::any()
                    .add(node::Column::ParentId.eq(owner))
                    .add(Expr::exists(sub.to_owned())),
            );
        }
        if let Some(q) = &self.query {
            cond = cond.add(q.clone());
        }
        Ok(cond)
    }
}

/// `EXISTS (SELECT 1 FROM node_property WHERE node_id = node.id AND key = ? AND <value test>)`.
pub fn property_exists(key: &str, test: Option<SimpleExpr>) -> SimpleExpr {
    let mut sub = Query::select();
    sub.expr(Expr::val(1))
        .from(node_property::Entity)
        .and_where(
            Expr::col((node_property::Entity, node_property::Column::NodeId))
                .equals((node::Entity, node::Column::Id)),
        )
        .and_where(node_property::Column::Key.eq(key));
    if let Some(test) = test {
        sub.and_where(test);
    }
    Expr::exists(sub.to_owned())
}

fn property_condition(pf: &PropertyFilter) -> Result<SimpleExpr> {
    use node_property::Column as P;
    let field = format!("customProperties.{}", pf.key);
    if pf.op == PropOp::Exists {
        return Ok(property_exists(&pf.key, None));
    }
    let Some(value) = &pf.value else {
        return Err(RegistryError::invalid(
            field,
            "needs a value for this operator",
        ));
    };
    let cmp = |col: P, v: sea_orm::Value| -> SimpleExpr {
        match pf.op {
            PropOp::Eq => col.eq(v),
            PropOp::Ne => col.ne(v),
            PropOp::Gt => col.gt(v),
            PropOp::Gte => col.gte(v),
            PropOp::Lt => col.lt(v),
            PropOp::Lte => col.lte(v),
            PropOp::Contains | PropOp::Exists => unreachable!("handled before"),
        }
    };
    let test = match (value, pf.op) {
        (PropValue::String(s), PropOp::Contains) => {
            let pattern = format!("%{}%", like_escape(&s.to_lowercase()));
            lower(Expr::col((node_property::Entity, P::StringValue)))
                .like(LikeExpr::new(pattern).escape('\\'))
        }
        (_, PropOp::Contains) => {
            return Err(RegistryError::invalid(
                field,
                "CONTAINS needs a string value",
            ));
        }
        (PropValue::Int(i), _) => cmp(P::DoubleValue, (*i as f64).into()),
        (PropValue::Double(d), _) => cmp(P::DoubleValue, (*d).into()),
        (PropValue::String(s), _) => cmp(P::StringValue, s.clone().into()),
        (PropValue::Bool(b), PropOp::Eq | PropOp::Ne) => cmp(P::BoolValue, (*b).into()),
        (PropValue::Bool(_), _) => {
            return Err(RegistryError::invalid(
                field,
                "booleans compare only with EQ or NE",
            ));
        }
        (PropValue::Struct(_), _) => {
            return Err(RegistryError::invalid(field, "objects cannot be compared"));
        }
    };
    Ok(property_exists(&pf.key, Some(test)))
}
