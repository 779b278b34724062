//! The node columns a GraphQL selection reads (`registry::columns`), so that lists read
//! only those. Fields are mapped here one by one; a selection with any field not listed
//! here reads every column, so a field added to a node type is read right before it is
//! read fast.
use async_graphql::{Context, SelectionField};
use entity::node;

use crate::registry::columns::NodeColumns;

/// The columns `fields` (one node's selection) read.
pub fn read_by<'a>(fields: impl IntoIterator<Item = SelectionField<'a>>) -> NodeColumns {
    read_by_names(fields.into_iter().map(|f| f.name()))
}

/// The columns the fields named `names` (one node's selection) read.
pub fn read_by_names<'a>(names: impl IntoIterator<Item = &'a str>) -> NodeColumns {
    let mut columns = NodeColumns::required();
    for name in names {
        columns = match name {
            // from the columns every read takes (`state` is the column on every kind;
            // `latestVersion` needs the model's id only, and reads its own row)
            "__typename" | "id" | "kind" | "name" | "customProperties" | "createTime"
            | "lastUpdateTime" | "revision" | "state" | "latestVersion" => columns,
            // what the node links to, read by its own statements keyed by the node's id
            "versions" | "artifacts" | "runs" | "aliases" | "deployments" | "inputs"
            | "outputs" | "history" | "upstream" | "downstream" => columns,
            "externalId" => columns.with(node::Column::ExternalId),
            "description" => columns.with(node::Column::Description),
            // a version's author is kept where other kinds keep their owner
            "owner" | "author" => columns.with(node::Column::Owner),
            // a registered model's card
            "readme" => columns.with(node::Column::Readme),
            "maturity" => columns.with(node::Column::Maturity),
            "language" => columns.with(node::Column::Language),
            "tasks" => columns.with(node::Column::Tasks),
            "provider" => columns.with(node::Column::Provider),
            "logo" => columns.with(node::Column::Logo),
            "license" => columns.with(node::Column::License),
            "licenseLink" => columns.with(node::Column::LicenseLink),
            "libraryName" => columns.with(node::Column::LibraryName),
            _ => return NodeColumns::ALL,
        };
    }
    columns
}

/// The items of a connection field: its `nodes` and `edges { node }`.
fn items(connection: SelectionField<'_>) -> Vec<SelectionField<'_>> {
    let mut items = Vec::new();
    for field in connection.selection_set() {
        match field.name() {
            "nodes" => items.push(field),
            "edges" => items.extend(field.selection_set().filter(|f| f.name() == "node")),
            _ => {}
        }
    }
    items
}

/// The columns the items of the connection field `ctx` resolves read.
pub fn items_read(ctx: &Context<'_>) -> NodeColumns {
    let mut columns = NodeColumns::required();
    for item in items(ctx.field()) {
        columns = columns.union(read_by(item.selection_set()));
    }
    columns
}

/// The columns the `child` field of the connection's items reads of the node it
/// resolves to (a model's `latestVersion`), or None when no item selects `child`.
pub fn item_child_read(ctx: &Context<'_>, child: &str) -> Option<NodeColumns> {
    let mut read = None;
    for item in items(ctx.field()) {
        for field in item.selection_set().filter(|f| f.name() == child) {
            let columns = read.unwrap_or_else(NodeColumns::required);
            read = Some(columns.union(read_by(field.selection_set())));
        }
    }
    read
}
