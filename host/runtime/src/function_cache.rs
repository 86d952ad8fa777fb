//! Cranelift's incremental compilation cache, bounded: each function body wasmtime compiles is
//! kept by a hash of its compiler input, so a later component with the same function compiles
//! it again only if it is no longer here.
//!
//! Every JavaScript action embeds the same engine (StarlingMonkey, ~20 000 functions and most of
//! a 12 MB component): without this cache each one is compiled whole, ~6 s on these
//! machines; with it, the second and later ones reuse the first one's functions and compile in
//! about a third of that (BENCHMARKS.md, "Compiling JavaScript actions once per engine"). That
//! is start-up for every action `cachet serve` loads, and deployment latency for every version
//! deployed through the API.
//!
//! The key is Cranelift's SHA-256 of the function's input (its code, signature, the target and
//! the compiler's settings and version), so engines with different configurations never share
//! an entry, and what is kept is what Cranelift compiled here, never bytes an action supplied;
//! one cache can serve every [`Runtime`](crate::Runtime) of a process
//! ([`FunctionCache::shared`], the default). What it holds is bounded in bytes, least recently
//! used out first: compiling an action can make the host keep at most that much here.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use lru::LruCache;

/// The bytes [`FunctionCache::shared`] keeps: one JavaScript engine's functions take ~40 MB.
pub const DEFAULT_FUNCTION_CACHE_BYTES: usize = 128 << 20;

/// Compiled functions by the hash of their compiler input, at most a set number of bytes of
/// them, for wasmtime's incremental compilation (see the module docs).
///
/// ```
/// use cachet_runtime::FunctionCache;
/// use wasmtime::CacheStore;
///
/// // Keys count too: `a` and its value take 7 bytes.
/// let cache = FunctionCache::new(20);
/// assert!(cache.insert(b"a", vec![0; 6]));
/// assert!(cache.insert(b"b", vec![0; 4]));
/// assert_eq!(cache.get(b"a").map(|v| v.len()), Some(6)); // `a` is now the most recent
/// assert!(cache.insert(b"c", vec![0; 9])); // 22 bytes: `b`, the least recent, goes
/// assert!(cache.get(b"b").is_none());
/// assert!(!cache.insert(b"d", vec![0; 20])); // larger than the whole cache: not kept
/// let stats = cache.stats();
/// assert_eq!((stats.entries, stats.bytes, stats.hits, stats.misses), (2, 17, 1, 1));
/// ```
pub struct FunctionCache {
    entries: Mutex<Entries>,
    max_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The entries, and the bytes their keys and values take.
struct Entries {
    map: LruCache<Box<[u8]>, Box<[u8]>>,
    bytes: usize,
}

/// What a [`FunctionCache`] holds and how often it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionCacheStats {
    /// Functions kept.
    pub entries: usize,
    /// Bytes their keys and compiled forms take.
    pub bytes: usize,
    /// Lookups that found a function compiled before.
    pub hits: u64,
    /// Lookups that did not (the function was then compiled).
    pub misses: u64,
}

impl FunctionCache {
    /// An empty cache that keeps at most `max_bytes` of keys and compiled functions.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The process's cache ([`DEFAULT_FUNCTION_CACHE_BYTES`]), which every runtime uses unless
    /// its builder was given another or none
    /// ([`RuntimeBuilder::function_cache`](crate::RuntimeBuilder::function_cache)).
    pub fn shared() -> Arc<Self> {
        static SHARED: OnceLock<Arc<FunctionCache>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| Arc::new(Self::new(DEFAULT_FUNCTION_CACHE_BYTES))))
    }

    /// What the cache holds now, and its hits and misses so far.
    pub fn stats(&self) -> FunctionCacheStats {
        let entries = self.lock();
        FunctionCacheStats {
            entries: entries.map.len(),
            bytes: entries.bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can panic half-way through an update that matters: a poisoned lock
        // still holds a consistent map.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        // A copy: the entry may be evicted once the lock is released.
        let found = self.lock().map.get(key).map(|value| value.to_vec());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let size = key.len().saturating_add(value.len());
        if size > self.max_bytes {
            return false;
        }
        let mut entries = self.lock();
        if let Some(old) = entries.map.put(key.into(), value.into_boxed_slice()) {
            entries.bytes -= key.len() + old.len();
        }
        entries.bytes += size;
        while entries.bytes > self.max_bytes {
            match entries.map.pop_lru() {
                Some((key, value)) => entries.bytes -= key.len() + value.len(),
                None => break,
            }
        }
        true
    }
}

impl fmt::Debug for FunctionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionCache")
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::CacheStore;

    use super::*;

    #[test]
    fn replacing_an_entry_counts_only_its_new_size() {
        let cache = FunctionCache::new(100);
        assert!(cache.insert(b"k", vec![0; 50]));
        assert!(cache.insert(b"k", vec![0; 10]));
        assert_eq!(cache.stats().bytes, 11);
        assert_eq!(cache.get(b"k").map(|v| v.len()), Some(10));
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bytes_whatever_is_inserted() {
        let cache = FunctionCache::new(1_000);
        for i in 0..10_000u32 {
            let key = i.to_le_bytes();
            assert!(cache.insert(&key, vec![0; (i % 97) as usize]));
            let stats = cache.stats();
            assert!(stats.bytes <= 1_000, "{stats:?}");
        }
        // The most recent entry is always kept.
        assert!(cache.get(&9_999u32.to_le_bytes()).is_some());
    }
}
