//! A process for the `SIGKILL` test of the snapshot-file store
//! (`tests/integration/stores.rs`): opens `FileStore` at the path it is given, then counts up
//! forever in the `counter` tenant's partition, flushing after every step and printing the
//! number it flushed. Other partitions get filler on every step, so a write takes long enough
//! to be killed in the middle of; a 1 ms timer writes too, racing the explicit flushes.

#![allow(clippy::unwrap_used)] // a test fixture: a panic fails the test that runs it

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use cachet_limits::{CacheLimits, OverflowPolicy, SetOptions};
use cachet_runtime::{CacheStore, FileStore, FileStoreOptions, PartitionKey, SystemClock, Trigger};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: snapshot-writer PATH");
    let (store, _) = FileStore::open(
        &path,
        CacheLimits::default(),
        OverflowPolicy::Evict,
        Arc::new(SystemClock),
        FileStoreOptions {
            flush_interval: Duration::from_millis(1),
        },
    )
    .await
    .unwrap();
    let clock = SystemClock;
    use cachet_runtime::Clock as _;
    let counter = PartitionKey::new("counter", Trigger::PostLogin);
    let start: u64 = match store.get(&counter, "n", clock.now_ms()).await.unwrap() {
        Some(record) => record.value.parse().unwrap(),
        None => 0,
    };
    let filler = "f".repeat(390);
    let mut out = std::io::stdout().lock();
    for n in start + 1.. {
        let now = clock.now_ms();
        let tenant = PartitionKey::new(format!("filler-{}", n % 40), Trigger::PostLogin);
        for i in 0..20 {
            store
                .set(
                    &tenant,
                    &format!("k{i}"),
                    &filler,
                    SetOptions::default(),
                    now,
                )
                .await
                .unwrap();
        }
        store
            .set(&counter, "n", &n.to_string(), SetOptions::default(), now)
            .await
            .unwrap();
        store.flush().await.unwrap();
        writeln!(out, "{n}").unwrap();
        out.flush().unwrap();
    }
}
