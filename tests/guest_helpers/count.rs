// `count`: included by the registration, password and phone test guests.

/// Counts executions of a trigger in its cache, so tests see `api.cache` work there.
fn count(cache: &cachet_guest::Cache, key: &str) -> Result<u64, cachet_guest::Error> {
    let n = cache
        .get(key)
        .and_then(|r| r.value.parse::<u64>().ok())
        .map_or(1, |n| n + 1);
    cache.set(key, &n.to_string(), cachet_guest::SetOptions::ttl(60_000))?;
    Ok(n)
}
