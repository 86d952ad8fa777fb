//! npm packages that expect Node, through the Node compatibility layer `cachet build` applies
//! (`guest/js/build.mjs`, `guest/js/src/node/`): Node's portable built-ins and globals behave as
//! Node's do (the expected values are what Node 20 gives for the same calls), what a sandbox
//! cannot have imports and throws naming the call, the packages real Auth0 actions use build
//! from `tests/js/npm/package-lock.json` and work (tokens they sign verify on the host), their
//! HTTP still goes only to allow-listed hosts, and an action that uses no Node API carries
//! none of the layer.

use std::sync::Arc;
use std::time::Duration;

use cachet_dev_idp::{DevIdp, DevIdpConfig};
use cachet_runtime::{FlowResult, Outcome, Runtime, Trigger};
use cachet_tests::{guests, js_harness, load_with};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::{claim, run_one};

const RSA_PRIVATE: &str = include_str!("../../js/npm/test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../../js/npm/test-rsa-public.pem");
/// A P-256 key pair (SEC1 private key), whose signatures the host makes.
const EC_PRIVATE: &str = include_str!("../../js/npm/test-ec-private.pem");
const EC_PUBLIC: &str = include_str!("../../js/npm/test-ec-public.pem");
/// A secp256k1 key pair: a curve the host leaves to the polyfill.
const K1_PRIVATE: &str = include_str!("../../js/npm/test-k1-private.pem");
const K1_PUBLIC: &str = include_str!("../../js/npm/test-k1-public.pem");
const HS_SECRET: &str = "an HS256 test secret of 32 bytes!";

struct Setup {
    rt: Runtime,
    idp: DevIdp,
    /// A second server, not on any allow-list: what reaches it got past the host.
    denied: DevIdp,
}

async fn setup() -> Setup {
    let (builder, clock) = js_harness();
    let idp = DevIdp::start(DevIdpConfig {
        token_ttl: Duration::from_secs(3600),
        clock: Arc::new(clock),
        ..DevIdpConfig::default()
    })
    .await
    .unwrap();
    let denied = DevIdp::start(DevIdpConfig::default()).await.unwrap();
    Setup {
        rt: builder.build().unwrap(),
        idp,
        denied,
    }
}

/// Runs the action at `path` once on a login of `auth0|64f1` and returns its result and its
/// `results` claim.
async fn results(s: &Setup, path: &str) -> (FlowResult, Value) {
    // The dev IdP stands in for the tenant: its HOST:PORT is the domain, reached over plain
    // HTTP by the clients' https:// URLs.
    let config = s
        .idp
        .action_config()
        .secret("domain", s.idp.host_port())
        .secret("clientId", s.idp.client_id())
        .secret("clientSecret", s.idp.client_secret())
        .secret("jwksUrl", s.idp.jwks_url())
        .secret("deniedUrl", s.denied.token_url())
        .secret("rsaPrivate", RSA_PRIVATE)
        .secret("rsaPublic", RSA_PUBLIC)
        .secret("ecPrivate", EC_PRIVATE)
        .secret("ecPublic", EC_PUBLIC)
        .secret("k1Private", K1_PRIVATE)
        .secret("k1Public", K1_PUBLIC)
        .secret("hsSecret", HS_SECRET);
    let action = load_with(&s.rt, path, Trigger::PostLogin, config);
    let r = run_one(
        &s.rt,
        "acme",
        &action,
        &json!({ "user": { "user_id": "auth0|64f1" } }),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Success, "{:#?}", r.actions);
    let results = claim(&r, "results").clone();
    (r, results)
}

/// `results[name]`, failing with everything when a check threw instead.
fn check<'a>(results: &'a Value, name: &str) -> &'a Value {
    let value = &results[name];
    assert!(
        value.get("threw").is_none() && !value.is_null(),
        "{name}: {value}\nall: {results:#}"
    );
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_builtins_and_globals_behave_as_node_gives_them() {
    let s = setup().await;
    let (result, r) = results(&s, guests::JS_NODE_BUILTINS).await;
    let expected = json!({
        "buffer": ["aMOpbGxv", 16909060, true, "hello"],
        // What Node 20 gives for the same expressions.
        "buffer-codecs": [
            "hello world",
            "hello world",
            "hello world",
            "fbffbf",
            "hi",
            "hello",
            "68656c6c",
            "68656c6c6f",
            2,
            "a\u{fffd}b\u{fffd}",
            "aMOpbGxvIHfDtnJsZCDinJMg8J+YgA==",
            "éllo",
            "qWxsbyB3w7ZybGQg4pyTIPCfmIA=",
            "efbfbd78",
            6,
            "abc",
            "",
            26668
        ],
        "global": [true, true, "function"],
        // An empty environment (Node's would list its variables); nextTick a microtask.
        "process": [0, "string", "sync,tick,timeout"],
        "setImmediate": "later",
        "events": 13,
        "util": ["a=42 {\"b\":1}", "{ a: [ 1, 'x' ] }", 42, true, true],
        "url": ["example.com", "8443", "two", "https://a.example/x", "https://b.example/y"],
        "querystring": ["a=1&b=x%20y&c=p&c=q", ["x y", "z"]],
        "string_decoder": "€",
        "path": ["/a/c/d.txt", ".gz", "q", "/a/b"],
        "assert": ["AssertionError", "ERR_ASSERTION"],
        "stream": "ABCD",
        "timers": ["timeout", "promised"],
        "crypto": [
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "900150983cd24fb0d6963f7d28e17f72",
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            16,
            true,
            true,
            false,
            "ERR_INVALID_ARG_TYPE",
            "632c2812e46d4604102ba7618e9d6d7d"
        ],
        // Computed by the host; what Node 20 gives for the same calls.
        "crypto-hashes": [
            "ddaf35a193617abacc417349ae204131",
            "6gmunMZ2jFD87pA+0FRVblv8g0eQfxJZiqJBkw==",
            "695d72825a5456b8d7234a6906611c6c",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            32,
            "a877dde37f019a14507e8ef4442e8260",
            "cb00131fcec602a8fc84413a2a70154d8c06a0d2",
            "5a470ef74cd7af75c375be99c6ef771f",
            true,
            "b0c659fe95a68fee99ce1219fb50689c877b2cbd",
            "p5N7ZLjKpY8Dchu2us9ceMsjX+vg5wsbhM2ZVBRhoI4=",
            "ERR_CRYPTO_HASH_FINALIZED",
            "TypeError",
            "445ceeeeba637c6b",
            "",
            [true, true],
            "4fc3b7eaf34d7e59",
            "4fc3b7eaf34d7e59"
        ],
        "buffer-base64url": [
            "-_-_AAE",
            "fbffbf0001",
            "fbffbf0001",
            "w6lsbG8g",
            true,
            5,
            "LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE"
        ],
        // The last: the public key derived from the private one is the key pair's public key.
        "crypto-rsa": [true, false, "public", "rsa", 2048, "private", true],
        // Node 20's own reports of the same keys (`publicExponent` is a BigInt, written `65537n`).
        "crypto-key-objects": [
            ["private", "rsa", "{\"modulusLength\":2048,\"publicExponent\":\"65537n\"}"],
            ["public", "rsa", "{\"modulusLength\":2048,\"publicExponent\":\"65537n\"}"],
            ["public", "rsa", "{\"modulusLength\":2048,\"publicExponent\":\"65537n\"}"],
            true,
            ["private", "ec", "{\"namedCurve\":\"prime256v1\"}"],
            ["public", "ec", "{\"namedCurve\":\"prime256v1\"}"],
            ["public", "ec", "{\"namedCurve\":\"prime256v1\"}"],
            true,
            ["private", "ec", "{\"namedCurve\":\"secp256k1\"}"],
            ["public", "ec", "{\"namedCurve\":\"secp256k1\"}"],
            true
        ],
        // RSA PKCS#1 v1.5 is deterministic: Node's own signature. Then PSS (with the digest's
        // salt and Node's longest, verified with either length or Node's automatic one, not as
        // PKCS#1 v1.5; one Node made), P-256 (DER, IEEE P1363, one Node made, with the wrong
        // hash, by the private key's public half), secp256k1 (the polyfill's) and SHA-384.
        "crypto-signatures": [
            "Fea+LjL8YyRAk0PeG8m/Xm+2AF1zJ3gR0jKarfWF1CvJY1qqiOlIISBj6TQX2y/Wq6ajBWME6Mfi1sKl1w1QgcsGn3fNoJ2jSHPE5xxaTEzQmQi33KGej0ozuVRw/tFckPuE/y8Byw0Xfz+e+rh1q+JjUdaL9s9fYK2zx7Dd8YxsoTZBAmVATLVGKV9dUqnf+xJVBHE4/dF3CnutZWCHFvPHTpFaPsf/YQpCrII//DTZl5MoGP7/riQNf5dWnjrDAwVEKIWQXiu0gXUhkDLhMXfWyfQ0JoCranp+2g1MEHIml/EROdzSCaeSfeb51cVHaR2Kd05oxUouSqB1MygD9A==",
            true, true, true, true, false, false, true,
            [48, 64, true, false],
            true, true, false, true,
            [true, true],
            256
        ],
        // A stream-written signature (Node's own), verified from an ArrayBuffer, a DataView,
        // a private key object, and (false) an EC key; then Node's errors.
        "crypto-signature-forms": [
            "Fea+LjL8YyRAk0PeG8m/Xm+2",
            true, true, true, false,
            ["TypeError", "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE"],
            ["TypeError", "ERR_CRYPTO_INVALID_KEY_OBJECT_TYPE"],
            ["TypeError", "ERR_INVALID_ARG_VALUE"],
            "Error",
            [true, true, true, true]
        ],
        "zlib": [true, true, "xyz"],
        "os": ["\n", "string"],
    });
    for (name, want) in expected.as_object().unwrap() {
        assert_eq!(check(&r, name), want, "{name}\nall: {r:#}");
    }
    // Where the layer cannot do what Node does, it says so instead of signing otherwise.
    let refusal = check(&r, "crypto-signature-refusals")[0].as_str().unwrap();
    assert!(
        refusal.starts_with("crypto: dsaEncoding 'ieee-p1363' is computed by Cachet's host")
            && refusal.contains("P-256 and P-384 only"),
        "{refusal}"
    );
    // The randomised signatures made in the sandbox verify here, with Rust's jsonwebtoken (a
    // JWS signature is PSS with the digest's salt, or ECDSA as r and s side by side).
    for (name, algorithm, key) in [
        (
            "ps256-signature",
            Algorithm::PS256,
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
        ),
        (
            "es256-signature",
            Algorithm::ES256,
            DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()).unwrap(),
        ),
    ] {
        let signature = claim(&result, name).as_str().unwrap();
        assert!(
            jsonwebtoken::crypto::verify(signature, b"signed text", &key, algorithm).unwrap(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_a_sandbox_cannot_have_import_and_throw_naming_the_call() {
    let s = setup().await;
    let (_, r) = results(&s, guests::JS_NODE_BUILTINS).await;
    for (name, message) in [
        ("fs", "fs.readFileSync: actions have no filesystem"),
        ("fs-named", "fs.readFileSync: actions have no filesystem"),
        (
            "fs-promises",
            "fs.promises.readFile: actions have no filesystem",
        ),
        (
            "child_process",
            "child_process.exec: actions cannot start processes",
        ),
        (
            "net",
            "net.connect: actions have no sockets: make HTTP requests with fetch",
        ),
    ] {
        let threw = r[name]["threw"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {r:#}"));
        assert!(threw.contains(message), "{name}: {threw}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_packages_auth0_actions_use_build_and_behave_as_in_node() {
    let s = setup().await;
    let (result, r) = results(&s, guests::JS_NPM_PACKAGES).await;
    assert_eq!(check(&r, "axios"), &json!([200, true, "string"]));
    assert_eq!(check(&r, "node-fetch"), &json!([200, true]));
    assert_eq!(
        check(&r, "jsonwebtoken"),
        &json!([
            "auth0|hs",
            "read",
            "auth0|rs",
            "test-key",
            [
                "JsonWebTokenError: invalid signature",
                "JsonWebTokenError: invalid algorithm",
                "TokenExpiredError: jwt expired",
                "JsonWebTokenError: invalid algorithm"
            ]
        ])
    );
    assert_eq!(
        check(&r, "jsonwebtoken-es256"),
        &json!(["auth0|es", "ES256"])
    );
    assert_eq!(
        check(&r, "jwt-decode"),
        &json!(["auth0|decode", 7, "HS256"])
    );
    // uuid v5 of a name is the same everywhere: Node gives this one.
    assert_eq!(
        check(&r, "uuid"),
        &json!([true, "b66db0b1-783e-5b50-bb5a-3421aac47fc7", "7"])
    );
    assert_eq!(
        check(&r, "lodash"),
        &json!(["deep", [[1, 2], [3, 4], [5]], { "a": { "x": 1, "y": 2 } }, 2])
    );
    assert_eq!(check(&r, "dayjs"), &json!(["2024-01-16T10:00:00.000Z", 29]));
    assert_eq!(
        check(&r, "qs"),
        &json!(["a%5Bb%5D%5B0%5D=1&a%5Bb%5D%5B1%5D=2", { "a": { "b": "c" }, "d": ["1", "2"] }])
    );
    assert_eq!(
        check(&r, "crypto-js"),
        &json!([
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
            "secret message",
            "aGk="
        ])
    );

    // What jsonwebtoken signed in the sandbox verifies here, with Rust's jsonwebtoken.
    let hs = claim(&result, "hs256").as_str().unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["cachet-test"]);
    validation.validate_exp = false; // the runtime's clock is the test's manual one
    let decoded = jsonwebtoken::decode::<Value>(
        hs,
        &DecodingKey::from_secret(HS_SECRET.as_bytes()),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["sub"], "auth0|hs");
    let rs = claim(&result, "rs256").as_str().unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    let decoded = jsonwebtoken::decode::<Value>(
        rs,
        &DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["sub"], "auth0|rs");
    assert_eq!(decoded.header.kid.as_deref(), Some("test-key"));
    // The ES256 token, signed by the host through the layer's createSign.
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<Value>(
        claim(&result, "es256").as_str().unwrap(),
        &DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["sub"], "auth0|es");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_from_npm_packages_still_goes_only_to_allow_listed_hosts() {
    let s = setup().await;
    let (_, r) = results(&s, guests::JS_NPM_PACKAGES).await;
    // axios's fetch adapter met the host's refusal: the server that is not on the allow-list
    // got nothing (reaching it would have been an HTTP error, not a network one), while the
    // allow-listed dev IdP answered the same action.
    assert_eq!(
        r["axios-denied"]["threw"], "AxiosError: Network Error",
        "{r:#}"
    );
    assert_eq!(s.denied.stats().token_requests, 0);
    assert_eq!(check(&r, "axios")[0], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_auth0_4_and_the_current_major_get_tokens_and_read_users_from_the_dev_idp() {
    let s = setup().await;
    let (_, r) = results(&s, guests::JS_AUTH0_CLIENTS).await;
    assert_eq!(
        check(&r, "auth0-4"),
        &json!(["Bearer", "string", "auth0|64f1", "pro"])
    );
    assert_eq!(check(&r, "auth0-current"), &json!(["auth0|64f1", "pro"]));
    // A token the Management API refuses is node-auth0's own error, with the API's answer.
    let threw = r["auth0-current-token"]["threw"]
        .as_str()
        .unwrap_or_default();
    assert!(threw.starts_with("UnauthorizedError"), "{r:#}");
    let stats = s.idp.stats();
    // 4.x's client-credentials grant, and the current major's ManagementClient's own.
    assert_eq!(stats.token_requests, 2, "{stats:?}");
    assert_eq!(stats.management_requests, 3, "{stats:?}");
    assert_eq!(stats.management_unauthorized, 1, "{stats:?}");
}
