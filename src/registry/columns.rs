//! Which of the node table's columns a read fetches. A node row has 53 columns, most of
//! them NULL for any one kind, and a list read spent most of its time having SQLite
//! produce, and the driver decode, columns that its response never showed. A read
//! that knows what its caller will look at (a GraphQL list, from its selection) asks for
//! those columns only; every other field of the `node::Model` it hands back is `None`.
//!
//! Every read takes the columns a `node::Model` cannot be without (its NOT NULL ones)
//! and the parent's id and kind, which rows are grouped and checked by. A caller that
//! cannot say what it will read asks for [`NodeColumns::ALL`].
use entity::node;
use sea_orm::{IdenStatic, Iterable, QuerySelect, Select};

/// A set of the node table's columns, one bit per column in `node::Column` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeColumns(u64);

/// The columns every read takes.
const REQUIRED: [node::Column; 12] = [
    node::Column::Id,
    node::Column::Kind,
    node::Column::Name,
    node::Column::Namespace,
    node::Column::ParentId,
    node::Column::ParentKind,
    node::Column::ScopeId,
    node::Column::State,
    node::Column::CustomProperties,
    node::Column::CreateTime,
    node::Column::LastUpdateTime,
    node::Column::Revision,
];

impl NodeColumns {
    /// Every column.
    pub const ALL: Self = Self(u64::MAX);

    /// The column's bit: its place in the enum, which is the table's column order.
    const fn bit(column: node::Column) -> u64 {
        1 << column as u64
    }

    /// The columns every read takes, and no other.
    pub const fn required() -> Self {
        let mut bits = 0;
        let mut at = 0;
        while at < REQUIRED.len() {
            bits |= Self::bit(REQUIRED[at]);
            at += 1;
        }
        Self(bits)
    }

    /// These columns and `column`.
    pub fn with(self, column: node::Column) -> Self {
        Self(self.0 | Self::bit(column))
    }

    /// These columns and `other`'s.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every column of `other` is one of these.
    pub fn covers(self, other: Self) -> bool {
        other.0 & !self.0 == 0
    }

    /// Whether `column` is one of these.
    pub fn has(self, column: node::Column) -> bool {
        self.0 & Self::bit(column) != 0
    }

    pub fn is_all(self) -> bool {
        self.covers(Self::TABLE)
    }

    /// Every column of the table, and no other bit: the bits up to the last column's
    /// (a unit test checks that it is the last).
    const TABLE: Self = Self((Self::bit(node::Column::ParentRunId) << 1) - 1);

    /// The columns of the set, in table order.
    fn columns(self) -> impl Iterator<Item = node::Column> {
        node::Column::iter().filter(move |&c| self.0 & Self::bit(c) != 0)
    }

    /// `select` reading these columns only. Rows are mapped to fields by column name,
    /// and a field whose column a statement lacks reads as `None`: in direct SQLite
    /// sessions, and through sea-orm, which reads a column a row lacks as `None` for
    /// `Option` fields (every column outside `REQUIRED` is one).
    pub fn select(self, select: Select<node::Entity>) -> Select<node::Entity> {
        if self.is_all() {
            return select;
        }
        select.select_only().columns(self.columns())
    }

    /// The same as a select list of a raw statement, over the table aliased `table`.
    pub fn sql(self, table: &str) -> String {
        if self.is_all() {
            return format!(r#""{table}".*"#);
        }
        let list: Vec<String> = self
            .columns()
            .map(|c| format!(r#""{table}"."{}""#, c.as_str()))
            .collect();
        list.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_bit_in_table_order() {
        assert!(node::Column::iter().count() <= 64);
        for (at, column) in node::Column::iter().enumerate() {
            assert_eq!(NodeColumns::bit(column), 1 << at, "{}", column.as_str());
        }
        let every = node::Column::iter().fold(NodeColumns(0), NodeColumns::with);
        assert_eq!(
            every,
            NodeColumns::TABLE,
            "TABLE must end at the last column"
        );
    }

    #[test]
    fn sets_grow_and_cover() {
        let required = NodeColumns::required();
        assert!(!required.is_all());
        assert!(NodeColumns::ALL.is_all());
        let with_owner = required.with(node::Column::Owner);
        assert!(with_owner.covers(required));
        assert!(!required.covers(with_owner));
        assert!(NodeColumns::ALL.covers(with_owner));
        assert_eq!(required.union(with_owner), with_owner);
        let every = node::Column::iter().fold(required, NodeColumns::with);
        assert!(every.is_all());
    }

    #[test]
    fn select_lists_name_the_set_only() {
        let some = NodeColumns::required().with(node::Column::Owner);
        let list = some.sql("v");
        assert!(list.contains(r#""v"."owner""#) && list.contains(r#""v"."id""#));
        assert!(!list.contains(r#""uri""#));
        assert_eq!(list.matches(", ").count(), REQUIRED.len());
        assert_eq!(NodeColumns::ALL.sql("v"), r#""v".*"#);
        let every = node::Column::iter().fold(NodeColumns::required(), NodeColumns::with);
        assert_eq!(every.sql("v"), r#""v".*"#);
    }
}
