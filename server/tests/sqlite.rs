//! The API scenarios (tests/common/scenarios.rs) against SQLite, the embedded default.

mod common;
use common::scenarios;
use common::Backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_validation_and_concurrency() {
    scenarios::crud_validation_and_concurrency(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeting_moves_and_audit() {
    scenarios::targeting_moves_and_audit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_refusals() {
    scenarios::roles_and_refusals(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_and_search() {
    scenarios::lists_page_and_search(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_rollback() {
    scenarios::history_and_rollback(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document() {
    scenarios::openapi_document(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state() {
    scenarios::restart_keeps_state(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_and_csrf() {
    scenarios::users_sessions_and_csrf(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_is_served() {
    scenarios::dashboard_is_served(Backend::Sqlite).await;
}
