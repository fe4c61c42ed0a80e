//! The API scenarios (tests/common/scenarios.rs) against a real PostgreSQL server (`EDGEFLAG_TEST_POSTGRES_URL`, started by scripts/test.sh).

mod common;

use common::scenarios;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_validation_and_concurrency() {
    scenarios::crud_validation_and_concurrency(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targeting_moves_and_audit() {
    scenarios::targeting_moves_and_audit(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_refusals() {
    scenarios::roles_and_refusals(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_and_search() {
    scenarios::lists_page_and_search(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_rollback() {
    scenarios::history_and_rollback(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document() {
    scenarios::openapi_document(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state() {
    scenarios::restart_keeps_state(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_database() {
    scenarios::two_servers_share_one_database(common::postgres()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_sessions_and_csrf() {
    scenarios::users_sessions_and_csrf(common::postgres()).await;
}
