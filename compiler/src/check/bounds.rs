//! What evaluating a compiled ruleset may cost, checked on each environment's
//! lowered body with the loader's own code ([`edgeflag_evaluator::limits::costs`]).
//! Runs only on a project without other errors (lowering needs one), so these
//! errors appear once the others are fixed. (The regex budget is charged while
//! clauses are checked: see [`super::ir::Regexes`].)

use super::ir::Model;
use super::Orders;
use crate::diagnostics::Diagnostic;
use edgeflag_evaluator::limits::{self, MAX_EVAL_COST};
use edgeflag_evaluator::model::{Body, Clause};

/// Checks every environment's body; an error found in only some environments
/// names them.
pub fn check(model: &Model, orders: &Orders, bodies: &[Body], out: &mut Vec<Diagnostic>) {
    let mut found = super::PerEnv::default();
    for (env, body) in bodies.iter().enumerate() {
        for d in costs(model, orders, env, body) {
            found.add(d, env);
        }
    }
    found.finish(model, out);
}

/// Segments and flags whose evaluation may take more than [`MAX_EVAL_COST`]
/// steps ([`limits::costs`]), each reported where the cost arises: one over the
/// bound whose references are all within it (those that are over only because
/// they use it are not repeated).
fn costs(model: &Model, orders: &Orders, env: usize, body: &Body) -> Vec<Diagnostic> {
    let c = limits::costs(body);
    let over = |cost: Option<&u64>| cost.is_some_and(|&x| x > MAX_EVAL_COST);
    let uses_over = |clauses: &mut dyn Iterator<Item = &Clause>| {
        clauses
            .flat_map(|cl| cl.op.segments().unwrap_or_default())
            .any(|&s| over(c.segments.get(s as usize)))
    };
    let message = |cost: u64, what: &str| {
        format!(
            "one {what} may take {cost} steps, more than the limit of {MAX_EVAL_COST} \
             (every clause, value tested in turn, segment and prerequisite counts each \
             time evaluation reaches it)"
        )
    };
    let mut out = Vec::new();
    for (i, seg) in body.segments.iter().enumerate() {
        if over(c.segments.get(i)) && !uses_over(&mut seg.rules.iter().flat_map(|r| &r.clauses)) {
            let s = &model.segments[orders.segments[i]];
            out.push(Diagnostic::new(
                &model.files[s.file],
                Some(s.pos),
                format!("segment {:?}", s.key),
                message(c.segments[i], "membership test"),
            ));
        }
    }
    for (i, f) in body.flags.iter().enumerate() {
        let prereq_over = (f.prerequisites.iter()).any(|p| over(c.flags.get(p.flag as usize)));
        if over(c.flags.get(i))
            && !prereq_over
            && !uses_over(&mut f.rules.iter().flat_map(|r| &r.clauses))
        {
            let fl = &model.flags[orders.flags[env][i]];
            out.push(Diagnostic::new(
                &model.files[fl.file],
                Some(fl.pos),
                format!("flag {:?}", fl.key),
                message(c.flags[i], "evaluation"),
            ));
        }
    }
    out
}
