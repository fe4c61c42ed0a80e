//! A real `edgeflag-server` on loopback over a real database (a SQLite file,
//! or a fresh database on the PostgreSQL server named by
//! `EDGEFLAG_TEST_POSTGRES_URL`), and an HTTP client with tokens of each role.
#![allow(dead_code)]

pub mod scenarios;

use edgeflag_evaluator::Ruleset;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The admin token every test server accepts.
pub const ADMIN: &str = "efk_test_admin_0123456789abcdef0123456789abcdef";

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// A fresh database of `backend` for one test: `None` is the SQLite default
/// in the data directory.
async fn database(backend: &Backend, name: &str) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres(admin_url) => {
            sqlx::any::install_default_drivers();
            let db = format!("t_{}_{}", name.replace('-', "_"), std::process::id());
            let pool = sqlx::AnyPool::connect(admin_url)
                .await
                .expect("connect to PostgreSQL");
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
                .execute(&pool)
                .await;
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&pool)
                .await
                .expect("create a test database");
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            Some(format!("{base}/{db}"))
        }
    }
}

/// The PostgreSQL server of the test script; the tests fail (never skip)
/// without it.
pub fn postgres() -> Backend {
    Backend::Postgres(std::env::var("EDGEFLAG_TEST_POSTGRES_URL").expect(
        "EDGEFLAG_TEST_POSTGRES_URL must name a PostgreSQL server (scripts/test.sh starts one)",
    ))
}

/// A running server.
pub struct TestServer {
    pub base: String,
    pub data: PathBuf,
    pub database: Option<String>,
    /// This start's setup secret (while no user exists).
    pub setup: Option<String>,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(backend: &Backend, name: &str) -> TestServer {
        let data = edgeflag_testkit::temp_path(&format!("server-{name}"));
        let database = database(backend, name).await;
        TestServer::start_at(data, database).await
    }

    pub async fn start_at(data: PathBuf, database: Option<String>) -> TestServer {
        let config = edgeflag_server::Config::new(data.clone())
            .listen("127.0.0.1:0".parse().unwrap())
            .database(database.clone())
            .bootstrap_token(Some(ADMIN.into()));
        let server = edgeflag_server::Server::start(config)
            .await
            .expect("server starts");
        let base = format!("http://{}", server.local_addr().unwrap());
        let setup = server.setup_secret().map(str::to_owned);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            base,
            data,
            database,
            setup,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) -> (PathBuf, Option<String>) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        (self.data.clone(), self.database.clone())
    }

    /// A request as `token` (`None`: no Authorization header).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    /// As admin, expecting `want`.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let (status, _, v) = self
            .call(Some(ADMIN), method.clone(), path, body, &[])
            .await;
        assert_eq!(status.as_u16(), want, "{method} {path}: {v:#}");
        v
    }

    /// Makes a token with `role` (limited to `envs`); its secret.
    pub async fn token(&self, name: &str, role: &str, envs: Option<&[&str]>) -> String {
        let mut body = json!({ "name": name, "role": role });
        if let Some(e) = envs {
            body["environments"] = json!(e);
        }
        let v = self
            .admin(Method::POST, "/api/v1/tokens", Some(body), 201)
            .await;
        v["secret"].as_str().unwrap().to_owned()
    }

    /// What the origin serves for `env` now, decoded.
    pub async fn served(&self, env: &str) -> Ruleset {
        let resp = self
            .http
            .get(format!("{}/{env}/current.efr", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GET /{env}/current.efr");
        Ruleset::from_bytes(&resp.bytes().await.unwrap()).expect("the served ruleset loads")
    }
}
