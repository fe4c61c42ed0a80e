# workerd configuration of the OpenFeature test worker (openfeature-workerd.test.mjs):
# the package's files and the OpenFeature server SDK (its ESM build, with
# @openfeature/core) as modules; the SDK imports node:events and async_hooks,
# so the worker runs with nodejs_compat. workerd resolves a bare specifier
# against the importing module's directory, so the SDK is named where
# edgeflag/openfeature/ imports it, and @openfeature/core where the SDK does
# (a bundler such as wrangler's does this resolution itself).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .ofWorker),
    (name = "origin", network = (allow = ["public", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8788", http = (), service = "main")],
);

const ofWorker :Workerd.Worker = (
  modules = [
    (name = "edgeflag/openfeature/worker.js", esModule = embed "worker.js"),
    (name = "edgeflag/workerd.js", esModule = embed "../../npm/workerd.js"),
    (name = "edgeflag/core.js", esModule = embed "../../npm/core.js"),
    (name = "edgeflag/client.js", esModule = embed "../../npm/client.js"),
    (name = "edgeflag/openfeature/server.js", esModule = embed "../../npm/openfeature/server.js"),
    (name = "edgeflag/openfeature/common.js", esModule = embed "../../npm/openfeature/common.js"),
    (name = "edgeflag/gen/edgeflag.js", esModule = embed "../../npm/gen/edgeflag.js"),
    (name = "edgeflag/gen/edgeflag_bg.wasm", wasm = embed "../../npm/gen/edgeflag_bg.wasm"),
    (name = "edgeflag/openfeature/@openfeature/server-sdk", esModule = embed "../../node_modules/@openfeature/server-sdk/dist/esm/index.js"),
    (name = "edgeflag/openfeature/@openfeature/@openfeature/core", esModule = embed "../../node_modules/@openfeature/core/dist/esm/index.js"),
  ],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [
    (name = "RULESET_URL", fromEnvironment = "RULESET_URL"),
    (name = "MAX_AGE_MS", fromEnvironment = "MAX_AGE_MS"),
  ],
  globalOutbound = "origin",
);
