# workerd configuration of the example edge function.
#   RULESET_URL=http://127.0.0.1:8080/production/current.efr PUBLIC_KEYS="$(cat KEY.pub)" \
#     npx workerd serve config.capnp --socket-addr http=127.0.0.1:8787
# The package's files are listed as modules; the .wasm is a `wasm` module (a
# compiled WebAssembly.Module: nothing is compiled from bytes at run time).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edgeWorker),
    # Outbound fetches; "local" admits a loopback origin (remove it in production).
    (name = "origin", network = (allow = ["public", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "edgeflag/workerd.js", esModule = embed "../../npm/workerd.js"),
    (name = "edgeflag/core.js", esModule = embed "../../npm/core.js"),
    (name = "edgeflag/client.js", esModule = embed "../../npm/client.js"),
    (name = "edgeflag/gen/edgeflag.js", esModule = embed "../../npm/gen/edgeflag.js"),
    (name = "edgeflag/gen/edgeflag_bg.wasm", wasm = embed "../../npm/gen/edgeflag_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "RULESET_URL", fromEnvironment = "RULESET_URL"),
    (name = "MAX_AGE_MS", fromEnvironment = "MAX_AGE_MS"),
    # The trusted public keys, one per line (in wrangler: a secret or a var).
    (name = "PUBLIC_KEYS", fromEnvironment = "PUBLIC_KEYS"),
  ],
  globalOutbound = "origin",
);
