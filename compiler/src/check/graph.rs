//! Reference graphs (prerequisites, segment nesting): storage order, cycles and
//! depth.

use super::ir::Edge;
use edgeflag_evaluator::MAX_DEPTH;

/// A cycle found: the reference closing it and the nodes around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The node whose reference closes the cycle.
    pub from: usize,
    /// Index of that reference among the node's edges.
    pub edge: usize,
    /// Nodes of the cycle, starting and ending with the same node.
    pub path: Vec<usize>,
}

/// What [`analyze`] finds.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Every node, each after the nodes it references (depth-first from nodes in
    /// index order, references in listed order).
    pub order: Vec<usize>,
    /// Cycles, one per closing reference.
    pub cycles: Vec<Cycle>,
    /// Nodes that are the first on their chains to be nested deeper than
    /// [`MAX_DEPTH`].
    pub too_deep: Vec<usize>,
}

/// Something that holds a reference to another node.
pub trait HasEdge {
    /// The reference.
    fn edge(&self) -> &Edge;
}

impl HasEdge for Edge {
    fn edge(&self) -> &Edge {
        self
    }
}

/// Orders `n` nodes whose references are `edges(i)`, finding cycles and chains
/// deeper than [`MAX_DEPTH`] (a node without references has depth 1).
pub fn analyze<'a, T: HasEdge + 'a>(n: usize, edges: impl Fn(usize) -> &'a [T]) -> Analysis {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; n];
    let mut depth = vec![0usize; n];
    let mut out = Analysis {
        order: Vec::with_capacity(n),
        ..Analysis::default()
    };
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        stack.push((root, 0));
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let es = edges(node);
            if let Some(e) = es.get(*next).map(HasEdge::edge) {
                let edge = *next;
                *next += 1;
                match state[e.to] {
                    NEW => {
                        state[e.to] = OPEN;
                        stack.push((e.to, 0));
                    }
                    OPEN => {
                        let start = stack.iter().position(|&(s, _)| s == e.to).unwrap_or(0);
                        let mut path: Vec<usize> = stack[start..].iter().map(|&(s, _)| s).collect();
                        path.push(e.to);
                        out.cycles.push(Cycle {
                            from: node,
                            edge,
                            path,
                        });
                    }
                    _ => {}
                }
            } else {
                stack.pop();
                state[node] = DONE;
                let below = es
                    .iter()
                    .map(HasEdge::edge)
                    .filter(|e| state[e.to] == DONE)
                    .map(|e| depth[e.to])
                    .max()
                    .unwrap_or(0);
                depth[node] = below + 1;
                if depth[node] == MAX_DEPTH + 1 {
                    out.too_deep.push(node);
                }
                out.order.push(node);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Pos;

    fn e(to: usize) -> Edge {
        Edge {
            to,
            pos: Pos::default(),
            ctx: Default::default(),
        }
    }

    #[test]
    fn orders_references_first_and_finds_cycles() {
        let g = [vec![e(1)], vec![e(2)], vec![], vec![e(3)]];
        let a = analyze(4, |i| &g[i]);
        assert_eq!(a.order, [2, 1, 0, 3]);
        assert_eq!(
            a.cycles,
            [Cycle {
                from: 3,
                edge: 0,
                path: vec![3, 3]
            }]
        );
        let g = [vec![e(1)], vec![e(2)], vec![e(0)]];
        let a = analyze(3, |i| &g[i]);
        assert_eq!(a.cycles[0].path, [0, 1, 2, 0]);
        assert_eq!(a.cycles[0].from, 2);
    }

    #[test]
    fn depth() {
        let n = MAX_DEPTH + 2;
        let g: Vec<Vec<Edge>> = (0..n)
            .map(|i| if i + 1 < n { vec![e(i + 1)] } else { vec![] })
            .collect();
        let a = analyze(n, |i| &g[i]);
        assert_eq!(a.too_deep, [1]);
        let g: Vec<Vec<Edge>> = (0..MAX_DEPTH)
            .map(|i| {
                if i + 1 < MAX_DEPTH {
                    vec![e(i + 1)]
                } else {
                    vec![]
                }
            })
            .collect();
        let a = analyze(MAX_DEPTH, |i| &g[i]);
        assert!(a.too_deep.is_empty());
    }
}
