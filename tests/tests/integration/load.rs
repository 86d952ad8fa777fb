//! Bad input gets a typed error that names the action and says what to do.

use crate::Bounded as _;
use std::collections::BTreeMap;

use cachet_limits::{ExecutionLimits, LimitError};
use cachet_runtime::{ExecuteError, LoadError, Trigger};
use cachet_tests::{guests, harness, load};

const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";
const EMPTY_CORE_MODULE: &[u8] = b"\0asm\x01\x00\x00\x00";

fn try_load(bytes: &[u8], trigger: Trigger) -> LoadError {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    rt.load_action("suspect", trigger, bytes, BTreeMap::new())
        .unwrap_err()
}

#[test]
fn bytes_that_are_not_wasm_are_refused_naming_the_action() {
    let e = try_load(b"#!/bin/sh\necho hi\n", Trigger::PostLogin);
    assert!(matches!(e, LoadError::NotWasm { ref name } if name == "suspect"));
    assert!(e.to_string().contains("wasm32-wasip2"));
}

#[test]
fn a_core_module_is_refused_with_advice_to_build_a_component() {
    let e = try_load(EMPTY_CORE_MODULE, Trigger::PostLogin);
    assert!(matches!(e, LoadError::CoreModule { .. }), "{e}");
    assert!(e.to_string().contains("component"));
}

#[test]
fn a_component_without_the_trigger_export_is_refused() {
    let e = try_load(EMPTY_COMPONENT, Trigger::PostLogin);
    assert!(
        matches!(
            e,
            LoadError::MissingExport {
                trigger: Trigger::PostLogin,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("on-execute-post-login"));
}

#[test]
fn a_truncated_component_is_refused_as_invalid() {
    let bytes = std::fs::read(guests::CLAIMS).unwrap();
    let e = try_load(&bytes[..bytes.len() / 2], Trigger::PostLogin);
    assert!(matches!(e, LoadError::Invalid { .. }), "{e}");
}

#[test]
fn an_action_of_the_other_trigger_is_refused_as_the_wrong_trigger() {
    let bytes = std::fs::read(guests::M2M_CLAIMS).unwrap();
    let e = try_load(&bytes, Trigger::PostLogin);
    assert!(
        matches!(
            e,
            LoadError::WrongTrigger {
                expected: Trigger::PostLogin,
                actual: Trigger::CredentialsExchange,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_module_over_the_size_limit_is_refused_before_compiling() {
    let (builder, _) = harness();
    let limits = ExecutionLimits {
        max_module_bytes: 1024,
        ..ExecutionLimits::default()
    };
    let rt = builder.execution_limits(limits).build().unwrap();
    let bytes = std::fs::read(guests::CLAIMS).unwrap();
    let e = rt
        .load_action("big", Trigger::PostLogin, &bytes, BTreeMap::new())
        .unwrap_err();
    assert!(
        matches!(
            e,
            LoadError::TooLarge {
                source: LimitError::ModuleTooLarge { max: 1024, .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(rt.compile_stats().compiled, 0, "refused before compiling");
}

#[test]
fn a_component_importing_what_no_trigger_provides_is_refused_at_load_naming_it() {
    let bytes = std::fs::read(guests::EXTRA_IMPORT).unwrap();
    let e = try_load(&bytes, Trigger::PostLogin);
    assert!(
        matches!(
            e,
            LoadError::UnsatisfiedImports {
                trigger: Trigger::PostLogin,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("test:missing/thing"), "{e}");
}

#[test]
fn too_many_secrets_are_refused_without_showing_values() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let bytes = std::fs::read(guests::CLAIMS).unwrap();
    let secrets: BTreeMap<String, String> = (0..31)
        .map(|i| (format!("S{i}"), "hunter2".to_string()))
        .collect();
    let e = rt
        .load_action("claims", Trigger::PostLogin, &bytes, secrets)
        .unwrap_err();
    assert!(matches!(
        e,
        LoadError::Secrets {
            source: LimitError::TooManySecrets { count: 31, max: 30 },
            ..
        }
    ));
    assert!(!e.to_string().contains("hunter2"));
}

#[tokio::test]
async fn malformed_non_object_and_oversized_events_are_refused() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let run = |event: String| {
        let rt = rt.clone();
        let claims = claims.clone();
        async move {
            rt.execute_actions("acme", Trigger::PostLogin, &[claims], &event)
                .bounded()
                .await
                .unwrap_err()
        }
    };
    assert!(matches!(
        run("{\"user\":".into()).await,
        ExecuteError::EventNotJson(_)
    ));
    assert!(matches!(
        run("[1, 2]".into()).await,
        ExecuteError::EventNotObject
    ));
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(1 << 20));
    assert!(matches!(
        run(big).await,
        ExecuteError::Limit(LimitError::EventTooLarge { max: 1_048_576, .. })
    ));
}

#[test]
fn more_than_twenty_actions_in_a_flow_are_refused() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let claims = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let e = rt
        .bind("acme", Trigger::PostLogin, vec![claims.clone(); 21])
        .unwrap_err();
    assert!(matches!(
        e,
        ExecuteError::Limit(LimitError::TooManyActions { count: 21, max: 20 })
    ));
    assert!(
        rt.bind("acme", Trigger::PostLogin, vec![claims; 20])
            .is_ok()
    );
}

#[test]
fn an_action_cannot_be_bound_to_a_flow_of_another_trigger() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let m2m = load(&rt, guests::M2M_CLAIMS, Trigger::CredentialsExchange);
    let e = rt.bind("acme", Trigger::PostLogin, vec![m2m]).unwrap_err();
    assert!(matches!(e, ExecuteError::TriggerMismatch { .. }));
}

#[test]
fn loading_the_same_component_twice_gives_the_same_digest() {
    let (builder, _) = harness();
    let rt = builder.build().unwrap();
    let a = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let b = load(&rt, guests::CLAIMS, Trigger::PostLogin);
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.digest().len(), 64);
}

#[test]
fn components_are_compiled_once_per_runtime_and_reused_from_disk_after_a_restart() {
    let dir = cachet_tests::scratch::Scratch::dir("compiled");
    let first = harness().0.compiled_cache_dir(&dir).build().unwrap();
    load(&first, guests::CLAIMS, Trigger::PostLogin);
    load(&first, guests::CLAIMS, Trigger::PostLogin);
    let stats = first.compile_stats();
    assert_eq!(
        (stats.compiled, stats.memory_hits, stats.disk_hits),
        (1, 1, 0)
    );
    let saved: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A "restarted" host: a new runtime with the same directory loads without compiling.
    let restarted = harness().0.compiled_cache_dir(&dir).build().unwrap();
    load(&restarted, guests::CLAIMS, Trigger::PostLogin);
    assert_eq!(restarted.compile_stats().compiled, 0);
    assert_eq!(restarted.compile_stats().disk_hits, 1);

    // A corrupt file is ignored (with a warning) and replaced by a fresh compile...
    std::fs::write(&saved[0], b"not a compiled component").unwrap();
    let third = harness().0.compiled_cache_dir(&dir).build().unwrap();
    load(&third, guests::CLAIMS, Trigger::PostLogin);
    assert_eq!(third.compile_stats().compiled, 1);
    // ...which is written back: the next restart loads it from disk again.
    assert_ne!(
        std::fs::read(&saved[0]).unwrap(),
        b"not a compiled component"
    );
    let fourth = harness().0.compiled_cache_dir(&dir).build().unwrap();
    load(&fourth, guests::CLAIMS, Trigger::PostLogin);
    assert_eq!(
        (
            fourth.compile_stats().compiled,
            fourth.compile_stats().disk_hits
        ),
        (0, 1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_component_reuses_the_functions_compiled_for_the_first_and_runs_the_same() {
    // A cache of its own (not the process's, which other tests fill): two different actions
    // built with the same Rust toolchain share their standard library's and serde's functions.
    let cache = std::sync::Arc::new(cachet_runtime::FunctionCache::new(64 << 20));
    let rt = harness()
        .0
        .function_cache(Some(cache.clone()))
        .build()
        .unwrap();
    load(&rt, guests::CLAIMS, Trigger::PostLogin);
    let first = cache.stats();
    assert!(first.entries > 0 && first.bytes <= 64 << 20, "{first:?}");
    let counter = load(&rt, guests::COUNTER, Trigger::PostLogin);
    let second = cache.stats();
    assert!(second.hits > first.hits, "{first:?} then {second:?}");
    assert_eq!(rt.compile_stats().compiled, 2);

    // What was compiled from reused functions behaves as a whole compile does.
    let plain = harness().0.function_cache(None).build().unwrap();
    let plain_counter = load(&plain, guests::COUNTER, Trigger::PostLogin);
    let event = r#"{"user":{"user_id":"auth0|1"}}"#;
    let run = |rt: &cachet_runtime::Runtime, action| {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(rt.execute_actions("acme", Trigger::PostLogin, &[action], event))
            .unwrap()
    };
    let (a, b) = (run(&rt, counter), run(&plain, plain_counter));
    assert_eq!(a.outcome, cachet_runtime::Outcome::Success, "{a:#?}");
    assert_eq!((a.outcome, &a.commands), (b.outcome, &b.commands));
}
