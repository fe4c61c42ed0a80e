//! Client rulesets ([`crate::client`]), derived for every environment once any
//! flag is client-side; what cannot be derived is reported where it is written.
//! Like [`super::bounds`], this runs on the lowered bodies of a project without
//! other errors.

use super::ir::Model;
use super::Orders;
use crate::client::{self, ClientError, Owner, CLIENT_SUFFIX};
use crate::diagnostics::Diagnostic;
use edgeflag_evaluator::format::MAX_ENV_LEN;
use edgeflag_evaluator::model::Body;

/// The client body of each environment (`None` for all when no flag is
/// client-side), or the errors; an error found in only some environments names
/// them.
pub fn derive(
    model: &Model,
    orders: &Orders,
    servers: &[Body],
    out: &mut Vec<Diagnostic>,
) -> Vec<Option<Body>> {
    for name in model.envs.iter().filter(|n| n.ends_with(CLIENT_SUFFIX)) {
        let msg = format!(
            "environment {name:?}: names ending in {CLIENT_SUFFIX:?} are reserved for \
             client rulesets"
        );
        out.push(Diagnostic::new(&model.files[0], None, "environments", msg));
    }
    if !model.has_client_side() {
        return vec![None; model.envs.len()];
    }
    let mut bodies = Vec::with_capacity(model.envs.len());
    let mut found = super::PerEnv::default();
    for (env, name) in model.envs.iter().enumerate() {
        if name.len() + CLIENT_SUFFIX.len() > MAX_ENV_LEN {
            let msg = format!(
                "environment {name:?} is too long to have a client ruleset ({:?} must \
                 have at most {MAX_ENV_LEN} characters)",
                client::client_environment(name)
            );
            out.push(Diagnostic::new(&model.files[0], None, "environments", msg));
        }
        let server = &servers[env];
        let mut errors = client::refusals(server, &model.clear_attributes);
        if errors.is_empty() {
            match client::client_body(server, &model.clear_attributes) {
                Ok(b) => bodies.push(Some(b)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            bodies.push(None);
        }
        for e in &errors {
            found.add(diagnostic(model, orders, env, e), env);
        }
    }
    found.finish(model, out);
    bodies
}

/// Where `e` is in the sources.
fn diagnostic(model: &Model, orders: &Orders, env: usize, e: &ClientError) -> Diagnostic {
    let (file, pos, ctx) = match e {
        ClientError::NeedsClearValues {
            owner,
            rule,
            clause,
            ..
        } => {
            let place = format!(" rule {} clause {}", rule + 1, clause + 1);
            match owner {
                Owner::Flag { index, key } => {
                    let f = &model.flags[orders.flags[env][*index]];
                    (f.file, Some(f.pos), format!("flag {key:?}{place}"))
                }
                Owner::Segment { index, key } => {
                    let s = &model.segments[orders.segments[*index]];
                    (s.file, Some(s.pos), format!("segment {key:?}{place}"))
                }
            }
        }
        _ => (0, None, "client ruleset".to_owned()),
    };
    Diagnostic::new(&model.files[file], pos, ctx, e.to_string())
}
