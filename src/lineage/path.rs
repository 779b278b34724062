//! One shortest path between two nodes: a breadth-first walk from `from`, one batched
//! statement per level, keeping each node's first (shortest) way in.
use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use super::walk::{Direction, WalkParams, WalkedEdge};
use crate::registry::read::find_nodes;
use crate::registry::{RegistryError, Result};

/// A path: its nodes in order from `from` to `to`, and the edges between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub nodes: Vec<i64>,
    pub edges: Vec<WalkedEdge>,
}

/// One shortest path from `from` to `to` within `max_depth` edges, or None. Either end
/// missing is NOT_FOUND naming it.
pub async fn path_between<C: ConnectionTrait>(
    conn: &C,
    from: i64,
    to: i64,
    max_depth: u32,
) -> Result<Option<Path>> {
    let ends = find_nodes(conn, &[from, to]).await?;
    for (id, field) in [(from, "from"), (to, "to")] {
        if !ends.iter().any(|n| n.id == id) {
            return Err(RegistryError::not_found(format!("{field}: node {id}")));
        }
    }
    let Some(edges) = shortest_path(conn, from, to, max_depth).await? else {
        return Ok(None);
    };
    let mut nodes = vec![from];
    for e in &edges {
        let at = nodes.last().copied().unwrap_or(from);
        nodes.push(if at == e.source_id {
            e.target_id
        } else {
            e.source_id
        });
    }
    Ok(Some(Path { nodes, edges }))
}

/// The path's edges in order from `from` to `to`, or `None`. Follows edges downstream
/// (`from` upstream of `to`) first, then upstream (`from` downstream of `to`).
pub async fn shortest_path<C: ConnectionTrait>(
    conn: &C,
    from: i64,
    to: i64,
    max_depth: u32,
) -> Result<Option<Vec<WalkedEdge>>> {
    if from == to {
        return Ok(Some(Vec::new()));
    }
    for direction in [Direction::Downstream, Direction::Upstream] {
        if let Some(path) = search(conn, from, to, max_depth, direction).await? {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

async fn search<C: ConnectionTrait>(
    conn: &C,
    from: i64,
    to: i64,
    max_depth: u32,
    direction: Direction,
) -> Result<Option<Vec<WalkedEdge>>> {
    let params = WalkParams {
        directions: vec![direction],
        max_depth: 1,
        // a path's edges are shown with their properties
        edge_properties: true,
        ..Default::default()
    };
    // the edge each node was first reached by
    let mut came_by: HashMap<i64, Option<WalkedEdge>> = HashMap::from([(from, None)]);
    let mut frontier = vec![from];
    for _ in 0..max_depth {
        if frontier.is_empty() {
            break;
        }
        let rows = super::walk::step(conn, &frontier, direction, &params).await?;
        let mut next = Vec::new();
        // deterministic: expand in frontier order, edges by id
        let mut rows = rows;
        rows.sort_by_key(|r| r.id);
        let order: HashMap<i64, usize> = frontier
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        rows.sort_by_key(|r| {
            let near = if direction == Direction::Upstream {
                r.target_id
            } else {
                r.source_id
            };
            (order.get(&near).copied().unwrap_or(usize::MAX), r.id)
        });
        for row in rows {
            let far = if direction == Direction::Upstream {
                row.source_id
            } else {
                row.target_id
            };
            if came_by.contains_key(&far) {
                continue;
            }
            came_by.insert(far, Some(row));
            if far == to {
                let mut path = Vec::new();
                let mut at = to;
                while let Some(Some(edge)) = came_by.get(&at) {
                    path.push(edge.clone());
                    at = if direction == Direction::Upstream {
                        edge.target_id
                    } else {
                        edge.source_id
                    };
                }
                path.reverse();
                return Ok(Some(path));
            }
            next.push(far);
        }
        frontier = next;
    }
    Ok(None)
}
