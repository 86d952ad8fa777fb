// Test action (ES module): the Rust `quota-probe` example in JavaScript. Fills the cache until
// a write is refused (strict) or the oldest entry is evicted (evict), provokes every other
// code once, then writes until the per-execution budget runs out; reports what it met as the
// `https://cachet.example/quota` claim.
export const onExecutePostLogin = async (event, api) => {
  const codes = {};
  const code = (r) => (r.type === 'success' ? 'ok' : r.code);

  const value = 'p'.repeat(500);
  let written = 0;
  for (let i = 0; i < 40; i++) {
    const r = api.cache.set(`probe:${String(i).padStart(2, '0')}`, value);
    if (r.type === 'success') {
      written++;
    } else {
      codes.fill = r.code;
      break;
    }
  }
  const firstKeyEvicted = api.cache.get('probe:00') === undefined;

  codes.key_65_bytes = code(api.cache.set('k'.repeat(65), 'v'));
  codes.value_4097_bytes = code(api.cache.set('probe:big', 'v'.repeat(4097)));
  codes.ttl_0 = code(api.cache.set('probe:ttl0', 'v', { ttl: 0 }));
  // The largest double below 2^64: a valid u64 whose expiry overflows in the host.
  codes.ttl_overflow = code(api.cache.set('probe:ttlmax', 'v', { ttl: 18446744073709549568 }));
  codes.delete_missing = code(api.cache.delete('probe:missing'));
  api.cache.delete('probe:claim');
  api.cache.set('probe:claim', 'first', { ttl: 5000, if_absent: true });
  codes.claim_taken = code(api.cache.set('probe:claim', 'second', { ttl: 5000, if_absent: true }));

  let budgetWrites = 0;
  for (;;) {
    const r = api.cache.set('probe:budget', 'v', { ttl: 1000 });
    if (r.type !== 'success') {
      codes.budget = r.code;
      break;
    }
    if (++budgetWrites > 1000) break;
  }

  api.idToken.setCustomClaim('https://cachet.example/quota', {
    written_before_overflow: written,
    first_key_evicted: firstKeyEvicted,
    writes_until_budget_ran_out: budgetWrites,
    codes,
  });
};
