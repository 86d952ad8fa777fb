//! Property test: `BoundedCache` against a reference model written for clarity, not speed.
//!
//! The model keeps only live entries in a `Vec`, least recently used first, and implements
//! the cache contract (README, "The cache contract") line by line. Random sequences of get/set/delete/time jumps run against both; after
//! every step the results must agree and the invariants must hold:
//! entries <= max, bytes <= max, nothing returned past its expiry, no expiry beyond write time +
//! max lifetime, and a failed operation changed nothing.

use cachet_limits::reference::{Model, Op, START, limits_strategy, op_strategy, resolve};
use cachet_limits::{BoundedCache, OverflowPolicy};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn bounded_cache_agrees_with_the_reference_model_and_keeps_every_invariant(
        limits in limits_strategy(),
        strict in any::<bool>(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        let policy = if strict { OverflowPolicy::Strict } else { OverflowPolicy::Evict };
        let mut real = BoundedCache::new(limits, policy);
        let mut model = Model::new(limits, policy);
        let mut now = START;

        for op in ops {
            let before = real.snapshot(now);
            let failed = match op {
                Op::Get(key) => {
                    let got = real.get(&key, now);
                    prop_assert_eq!(&got, &model.get(&key, now));
                    if let Some(rec) = got {
                        prop_assert!(rec.expires_at > now, "returned past its expiry");
                    }
                    false
                }
                Op::Set(key, value, opts) => {
                    let opts = resolve(opts, now);
                    let got = real.set(&key, &value, opts, now);
                    prop_assert_eq!(&got, &model.set(&key, &value, opts, now));
                    if let Ok(rec) = &got {
                        prop_assert!(rec.expires_at > now && rec.expires_at <= now + limits.max_ttl_ms);
                    }
                    got.is_err()
                }
                Op::Delete(key) => {
                    let got = real.delete(&key, now);
                    prop_assert_eq!(&got, &model.delete(&key, now));
                    got.is_err()
                }
                Op::Advance(ms) => {
                    now += ms;
                    model.drop_expired(now);
                    false
                }
            };

            let after = real.snapshot(now);
            if failed {
                prop_assert_eq!(&after, &before, "a failed operation changed the partition");
            }
            prop_assert_eq!(&after, &model.snapshot(), "contents or recency order differ");
            let usage = real.usage();
            prop_assert!(usage.entries <= limits.max_entries);
            prop_assert!(usage.bytes <= limits.max_total_bytes);
            // The real cache's expiries, against when the model says each entry was written
            // (the two agree on keys and order, checked above).
            for (real_entry, written) in after.iter().zip(&model.entries) {
                prop_assert!(real_entry.expires_at <= written.written_at + limits.max_ttl_ms);
            }
        }
    }
}
