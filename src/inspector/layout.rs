//! Automatic layout of the graph view: nodes in layers by topological depth (the longest path
//! from a source; edges that close a cycle are ignored), layers left to right, and within a
//! layer ordered by the mean row of their predecessors so wires cross less. Nodes are drawn
//! as a stack (header, input and param pins, meter, output pins), so a layer is one node wide.

use std::collections::HashMap;

use bevy::prelude::Entity;

/// Horizontal distance between layers (points): a node's width and room for the wires.
pub const LAYER_SPACING: f32 = 210.0;
/// The width a node is expected to take (points), for fitting the view.
pub const NODE_WIDTH: f32 = 160.0;
/// Vertical gap between nodes of one layer (points).
pub const ROW_GAP: f32 = 24.0;
/// Height of a node's header (points).
pub const HEADER_HEIGHT: f32 = 28.0;
/// Height of one pin row (points).
pub const PIN_HEIGHT: f32 = 20.0;

/// One node to place: its entity and its height estimate in pin rows.
#[derive(Clone, Copy, Debug)]
pub struct LayoutNode {
    /// The entity.
    pub entity: Entity,
    /// Rows: input and param pins, output pins, body.
    pub rows: usize,
}

impl LayoutNode {
    /// The expected height (points).
    pub fn height(&self) -> f32 {
        HEADER_HEIGHT + self.rows as f32 * PIN_HEIGHT
    }
}

/// The size `[width, height]` of the area `positions` (from [`layered`]) covers.
pub fn extent(nodes: &[LayoutNode], positions: &HashMap<Entity, [f32; 2]>) -> [f32; 2] {
    nodes
        .iter()
        .filter_map(|n| positions.get(&n.entity).map(|p| (n, p)))
        .fold([0.0, 0.0], |[w, h], (n, [x, y])| {
            [w.max(x + NODE_WIDTH), h.max(y + n.height())]
        })
}

/// Positions (top-left, points) for `nodes` connected by `edges` (from, to).
pub fn layered(nodes: &[LayoutNode], edges: &[(Entity, Entity)]) -> HashMap<Entity, [f32; 2]> {
    let index: HashMap<Entity, usize> = nodes
        .iter()
        .enumerate()
        .map(|(k, n)| (n.entity, k))
        .collect();
    let links: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a)?, *index.get(b)?)))
        .filter(|(a, b)| a != b)
        .collect();
    let depth = depths(nodes.len(), &links);
    let layers = order_layers(&depth, &links);
    let mut positions = HashMap::with_capacity(nodes.len());
    for (column, layer) in layers.iter().enumerate() {
        let mut y = 0.0;
        for &k in layer {
            positions.insert(nodes[k].entity, [column as f32 * LAYER_SPACING, y]);
            y += nodes[k].height() + ROW_GAP;
        }
    }
    positions
}

/// Longest-path depth of each node, ignoring edges that close a cycle (found by DFS).
fn depths(count: usize, links: &[(usize, usize)]) -> Vec<usize> {
    let mut successors = vec![Vec::new(); count];
    for &(a, b) in links {
        successors[a].push(b);
    }
    // Iterative DFS post-order; back edges (to a node on the stack) are dropped.
    let mut state = vec![0u8; count]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(count);
    let mut forward = vec![Vec::new(); count];
    for root in 0..count {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            top.1 += 1;
            match successors[node].get(next).map(|&succ| (succ, state[succ])) {
                Some((succ, 0)) => {
                    forward[node].push(succ);
                    state[succ] = 1;
                    stack.push((succ, 0));
                }
                Some((succ, 2)) => forward[node].push(succ),
                Some(_) => {} // a back edge: a cycle through a delay
                None => {
                    state[node] = 2;
                    order.push(node);
                    stack.pop();
                }
            }
        }
    }
    let mut depth = vec![0; count];
    for &node in order.iter().rev() {
        for &succ in &forward[node] {
            depth[succ] = depth[succ].max(depth[node] + 1);
        }
    }
    depth
}

/// Groups nodes by depth; orders each layer by the mean position of its predecessors.
fn order_layers(depth: &[usize], links: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let layers_len = depth.iter().max().map_or(0, |d| d + 1);
    let mut layers = vec![Vec::new(); layers_len];
    for (k, &d) in depth.iter().enumerate() {
        layers[d].push(k);
    }
    let mut row = vec![0.0f32; depth.len()];
    for layer in &mut layers {
        let key = |k: &usize| {
            let preds: Vec<f32> = links
                .iter()
                .filter(|(a, b)| b == k && depth[*a] < depth[*k])
                .map(|(a, _)| row[*a])
                .collect();
            if preds.is_empty() {
                f32::INFINITY
            } else {
                preds.iter().sum::<f32>() / preds.len() as f32
            }
        };
        let mut keyed: Vec<(f32, usize)> = layer.iter().map(|k| (key(k), *k)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *layer = keyed.into_iter().map(|(_, k)| k).collect();
        for (r, &k) in layer.iter().enumerate() {
            row[k] = r as f32;
        }
    }
    layers
}
