//! Ordering and keyset pagination: cursors carry the order key and the id, never an offset.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::node;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, SimpleExpr};
use serde::{Deserialize, Serialize};

use super::error::{RegistryError, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OrderField {
    #[default]
    CreateTime,
    LastUpdateTime,
    Name,
    Id,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Order {
    pub field: OrderField,
    pub direction: Direction,
}

/// Relay arguments as the client gave them.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

/// Page size bounds: the size used when none is asked for, and the most one page may hold.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    pub default_size: u64,
    pub max_size: u64,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            default_size: 100,
            max_size: 1000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Int(i64),
    Text(String),
}

/// A decoded cursor: the order field it was made for, its key and the id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "f")]
    field: char,
    #[serde(rename = "k")]
    key: KeyValue,
    #[serde(rename = "i")]
    id: i64,
}

impl OrderField {
    fn tag(self) -> char {
        match self {
            Self::CreateTime => 'c',
            Self::LastUpdateTime => 'u',
            Self::Name => 'n',
            Self::Id => 'i',
        }
    }

    pub fn column(self) -> node::Column {
        match self {
            Self::CreateTime => node::Column::CreateTime,
            Self::LastUpdateTime => node::Column::LastUpdateTime,
            Self::Name => node::Column::Name,
            Self::Id => node::Column::Id,
        }
    }

    pub fn key(self, n: &node::Model) -> KeyValue {
        match self {
            Self::CreateTime => KeyValue::Int(n.create_time),
            Self::LastUpdateTime => KeyValue::Int(n.last_update_time),
            Self::Name => KeyValue::Text(n.name.clone()),
            Self::Id => KeyValue::Int(n.id),
        }
    }
}

impl Cursor {
    pub fn of(order: Order, n: &node::Model) -> Self {
        Self {
            field: order.field.tag(),
            key: order.field.key(n),
            id: n.id,
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str, order: Order, arg: &str) -> Result<Self> {
        let bad = || RegistryError::invalid(arg, "is not a cursor from this list");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let key_fits = matches!(
            (&cursor.key, order.field),
            (KeyValue::Text(_), OrderField::Name)
                | (KeyValue::Int(_), OrderField::CreateTime)
                | (KeyValue::Int(_), OrderField::LastUpdateTime)
                | (KeyValue::Int(_), OrderField::Id)
        );
        if cursor.field != order.field.tag() || !key_fits {
            return Err(RegistryError::invalid(
                arg,
                "was made for another orderBy field",
            ));
        }
        Ok(cursor)
    }

    /// Rows strictly after (`forward`) or before this cursor in `order`.
    pub fn condition(&self, order: Order, forward: bool) -> Condition {
        let ascending = (order.direction == Direction::Asc) == forward;
        let col = order.field.column();
        let value: sea_orm::Value = match &self.key {
            KeyValue::Int(i) => (*i).into(),
            KeyValue::Text(s) => s.clone().into(),
        };
        let beyond = |c: node::Column, v: sea_orm::Value| -> SimpleExpr {
            if ascending { c.gt(v) } else { c.lt(v) }
        };
        if order.field == OrderField::Id {
            return Condition::all().add(beyond(node::Column::Id, self.id.into()));
        }
        Condition::any().add(beyond(col, value.clone())).add(
            Condition::all()
                .add(col.eq(value))
                .add(beyond(node::Column::Id, self.id.into())),
        )
    }
}

/// What one page holds, in the list's order.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<node::Model>,
    pub has_previous: bool,
    pub has_next: bool,
}

/// The validated plan for one page: size, direction and bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct PagePlan {
    pub size: u64,
    /// true when paging backwards from the end (`last`)
    pub backward: bool,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

impl PageArgs {
    pub fn plan(&self, order: Order, limits: PageLimits) -> Result<PagePlan> {
        if self.first.is_some() && self.last.is_some() {
            return Err(RegistryError::invalid(
                "first",
                "pass either first or last, not both",
            ));
        }
        let size = match (self.first, self.last) {
            (Some(n), _) | (_, Some(n)) if n < 0 => {
                let arg = if self.first.is_some() {
                    "first"
                } else {
                    "last"
                };
                return Err(RegistryError::invalid(arg, "must not be negative"));
            }
            (Some(n), _) | (_, Some(n)) => n as u64,
            _ => limits.default_size.min(limits.max_size),
        };
        if size > limits.max_size {
            return Err(RegistryError::LimitExceeded(format!(
                "a page holds at most {} items (asked for {size})",
                limits.max_size
            )));
        }
        Ok(PagePlan {
            size,
            backward: self.last.is_some(),
            after: self
                .after
                .as_deref()
                .map(|c| Cursor::decode(c, order, "after"))
                .transpose()?,
            before: self
                .before
                .as_deref()
                .map(|c| Cursor::decode(c, order, "before"))
                .transpose()?,
        })
    }
}

impl PagePlan {
    /// Cursor bounds as SQL.
    pub fn condition(&self, order: Order) -> Condition {
        let mut cond = Condition::all();
        if let Some(c) = &self.after {
            cond = cond.add(c.condition(order, true));
        }
        if let Some(c) = &self.before {
            cond = cond.add(c.condition(order, false));
        }
        cond
    }

    /// Turns the rows fetched (at most size + 1, in fetch order) into a page.
    pub fn finish(&self, mut rows: Vec<node::Model>) -> Page {
        let more = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        if self.backward {
            rows.reverse();
            Page {
                items: rows,
                has_previous: more,
                has_next: self.before.is_some(),
            }
        } else {
            Page {
                items: rows,
                has_previous: self.after.is_some(),
                has_next: more,
            }
        }
    }
}
