//! Client rulesets through the CLI: `compile` and `publish` write one per
//! environment beside the server ruleset, it changes only when what browsers
//! see changes, and `rollback` takes it back with the server ruleset.

use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::project::{ok, s, scratch};
use std::path::Path;

fn source(banner_on: bool, server_target: &str) -> String {
    format!(
        "environments: [staging, production]\n\
         flags:\n\
         \x20 banner:\n\
         \x20   client_side: true\n\
         \x20   enabled: {banner_on}\n\
         \x20   targets: {{on: [alice@example.com]}}\n\
         \x20   fallthrough: off\n\
         \x20 billing:\n\
         \x20   targets: {{on: [{server_target}]}}\n"
    )
}

fn write(src: &Path, text: &str) {
    std::fs::write(src.join("flags.yaml"), text).expect("write source");
}

fn current(dest: &Path, env: &str) -> (Vec<u8>, Ruleset) {
    let bytes = std::fs::read(dest.join(env).join("current.efr")).expect("current.efr");
    let rs = Ruleset::from_bytes(&bytes).expect("loads");
    (bytes, rs)
}

#[test]
fn publish_writes_a_client_ruleset_per_environment_that_follows_only_client_changes() {
    let root = scratch("client-rulesets-publish");
    let (src, dest) = (root.join("src"), root.join("pub"));
    std::fs::create_dir_all(&src).unwrap();
    write(&src, &source(true, "bob@example.com"));

    let out = ok(&["validate", s(&src)]);
    assert!(
        out.contains("ok: client ruleset production.client: 1 flags"),
        "{out}"
    );

    let out = ok(&["publish", s(&src), "--to", s(&dest)]);
    for env in ["staging", "production"] {
        assert!(out.contains(&format!("published {env}.client v1")), "{out}");
        assert!(out.contains(&format!("published {env} v1")), "{out}");
        let (bytes, client) = current(&dest, &format!("{env}.client"));
        assert!(client.is_client());
        assert_eq!(client.header().environment, format!("{env}.client"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("alice@example.com") && !text.contains("bob@"),
            "no user ids"
        );
        assert!(!text.contains("billing"), "no server-only flag");
        let alice = Context::new("alice@example.com");
        assert!(client.bool_value("banner", &alice, false));
        assert!(!client.bool_value("banner", &Context::new("carol"), true));
        let (_, server) = current(&dest, env);
        assert!(server.bool_value("billing", &Context::new("bob@example.com"), false));
    }

    // A server-only change: browsers have nothing new to download.
    write(&src, &source(true, "dave@example.com"));
    let out = ok(&["publish", s(&src), "--to", s(&dest)]);
    assert!(out.contains("unchanged production.client: v1"), "{out}");
    assert!(out.contains("published production v2"), "{out}");

    // The kill switch of a client-side flag reaches both.
    write(&src, &source(false, "dave@example.com"));
    let out = ok(&["publish", s(&src), "--to", s(&dest)]);
    assert!(out.contains("published production.client v2"), "{out}");
    assert!(out.contains("published production v3"), "{out}");
    let alice = Context::new("alice@example.com");
    assert!(!current(&dest, "production.client")
        .1
        .bool_value("banner", &alice, true));

    // Rolling the server back to v1 takes the client ruleset back to what was
    // current then.
    let out = ok(&[
        "rollback",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--version",
        "1",
    ]);
    assert!(
        out.contains("rolled back production.client to the rules of v1, as v3"),
        "{out}"
    );
    assert!(
        out.contains("rolled back production to the rules of v1, as v4"),
        "{out}"
    );
    let (_, client) = current(&dest, "production.client");
    assert!(client.bool_value("banner", &alice, false));
    let v1 =
        std::fs::read(dest.join("production.client/versions/00000000000000000001.efr")).unwrap();
    assert_eq!(Ruleset::from_bytes(&v1).unwrap().body(), client.body());

    // Rolling back to a version whose client rules are the current ones leaves
    // the client ruleset alone.
    let out = ok(&[
        "rollback",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--version",
        "2",
    ]);
    assert!(!out.contains("production.client"), "{out}");
}

#[test]
fn compile_writes_the_client_ruleset_beside_the_server_one() {
    let root = scratch("client-rulesets-compile");
    let (src, out_dir) = (root.join("src"), root.join("out"));
    std::fs::create_dir_all(&src).unwrap();
    write(&src, &source(true, "bob@example.com"));
    let out = ok(&["compile", s(&src), "--out", s(&out_dir)]);
    assert!(out.contains("production.client.efr: 1 flags"), "{out}");
    let bytes = std::fs::read(out_dir.join("production.client.efr")).unwrap();
    let rs = Ruleset::from_bytes(&bytes).unwrap();
    assert!(rs.is_client());
    assert_eq!(rs.flag_keys().collect::<Vec<_>>(), ["banner"]);
}
