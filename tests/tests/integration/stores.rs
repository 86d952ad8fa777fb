//! Every store passes the one conformance suite (`cachet_tests::conformance`).

use std::sync::Arc;

use cachet_host::MemoryStore;
use cachet_limits::CacheLimits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_passes_the_conformance_suite() {
    cachet_tests::conformance::run_all(&|policy| {
        Arc::new(MemoryStore::new(CacheLimits::default(), policy))
    })
    .await;
}
