// Shared by the test actions of the registration, provider and stream triggers: counts a
// trigger's executions in its cache, so tests see `api.cache` work there.
exports.count = (api, key) => {
  const seen = api.cache.get(key);
  const n = seen ? Number(seen.value) + 1 : 1;
  const written = api.cache.set(key, String(n), { ttl: 60000 });
  if (written.type !== 'success') throw new Error(`cache: ${written.code}`);
  return n;
};
