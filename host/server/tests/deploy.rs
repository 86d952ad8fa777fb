//! Actions deployed through the API: uploaded on one replica and served by another through
//! a shared Redis, rolled back, raced, refused when broken, kept across a restart; and tokens
//! scoped by tenant and role on every route.

#![allow(clippy::unwrap_used)] // a panic is how a test fails

mod common;

use cachet_tests::guests;
use cachet_tests::http::{request, send};
use cachet_tests::redis_server::RedisServer;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_deployment_on_one_replica_runs_on_another_within_two_seconds_and_rolls_back() {
    let redis = RedisServer::start("deploy-two-replicas");
    let store = redis.url();
    let (_compiled_dir, compiled) = shared_compiled_dir("two-replicas");
    let a = start("replica-a", &config_with(&store, &compiled, "")).await;
    let b = start("replica-b", &config_with(&store, &compiled, "")).await;
    assert_eq!(b.execute().await.status, 404, "nothing deployed yet");

    let v1 = a.ship("claims", guests::CLAIMS).await;
    a.serves(CLAIMS_CLAIM).await;
    b.serves(CLAIMS_CLAIM).await;

    // A new version of the same action, deployed on A: B follows.
    let v2 = a.upload(ACME_DEPLOY, "claims", guests::COUNTER, "").await;
    assert_eq!(v2.status, 201, "{}", v2.body);
    let v2 = v2.json()["version"]["version"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    let deployed = a.deploy("claims", &v2).await.json();
    assert_eq!(deployed["previous"], v1.as_str());
    b.serves(COUNTER_CLAIM).await;

    // Rollback, from B this time: deploying the earlier version.
    b.deploy("claims", &v1).await;
    a.serves(CLAIMS_CLAIM).await;
    b.serves(CLAIMS_CLAIM).await;

    let versions = b
        .call(
            ACME_READ,
            "GET",
            "/v1/tenants/acme/actions/claims/versions",
            None,
        )
        .await;
    assert_eq!(versions.status, 200, "{}", versions.body);
    let versions = versions.json();
    let listed: Vec<&str> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [v1.as_str(), v2.as_str()], "oldest first");
    assert_eq!(versions["deployed"]["version"], v1.as_str());
    assert_eq!(versions["deployed"]["deployed_by"], "acme-deploy");
    // The same upload again is the same version, not a new one.
    let again = a.upload(ACME_DEPLOY, "claims", guests::CLAIMS, "").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["created"], false);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn two_racing_deploys_record_both_versions_and_every_replica_serves_the_one_that_won() {
    let redis = RedisServer::start("deploy-race");
    let store = redis.url();
    let (_compiled_dir, compiled) = shared_compiled_dir("race");
    let a = start("race-a", &config_with(&store, &compiled, "")).await;
    let b = start("race-b", &config_with(&store, &compiled, "")).await;
    let (va, vb) = tokio::join!(
        a.ship("claims", guests::CLAIMS),
        b.ship("claims", guests::COUNTER)
    );
    let versions = a
        .call(OPS, "GET", "/v1/tenants/acme/actions/claims/versions", None)
        .await
        .json();
    let mut listed: Vec<String> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected = vec![va.clone(), vb.clone()];
    expected.sort();
    assert_eq!(listed, expected, "both uploads are recorded");
    let winner = versions["deployed"]["version"].as_str().unwrap().to_owned();
    let claim = if winner == va {
        CLAIMS_CLAIM
    } else {
        assert_eq!(winner, vb);
        COUNTER_CLAIM
    };
    a.serves(claim).await;
    b.serves(claim).await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_bad_upload_is_refused_with_its_reason_and_nothing_is_stored() {
    let r = start("refused", &config("memory:", "")).await;
    let cases = [
        (guests::EXTRA_IMPORT, "", 400, "invalid_component"),
        // A credentials-exchange action uploaded as post-login.
        (guests::CX_DENY, "", 400, "invalid_component"),
        (
            guests::CLAIMS,
            "&secrets=KEY=NOT_A_SECRET",
            400,
            "invalid_component",
        ),
        (guests::CLAIMS, "&instance=tepid", 400, "bad_instance"),
        // Private and plain-HTTP hosts only where the operator granted the tenant them.
        (
            guests::CLAIMS,
            "&allow_private_hosts=169.254.169.254",
            400,
            "invalid_component",
        ),
        (
            guests::CLAIMS,
            "&plain_http_hosts=127.0.0.1:8787",
            400,
            "invalid_component",
        ),
        (guests::CLAIMS, "&colour=blue", 400, "bad_upload"),
    ];
    for (wasm, query, status, code) in cases {
        let reply = r.upload(ACME_DEPLOY, "broken", wasm, query).await;
        assert_eq!(reply.status, status, "{wasm} {query}: {}", reply.body);
        assert_eq!(reply.json()["error"]["code"], code, "{}", reply.body);
    }
    let not_wasm = send(
        r.addr,
        "PUT",
        "/v1/tenants/acme/actions/broken?trigger=post-login",
        Some(ACME_DEPLOY),
        Some(("application/wasm", b"not a component".to_vec())),
    )
    .await
    .unwrap();
    assert_eq!(not_wasm.status, 400, "{}", not_wasm.body);
    assert!(
        not_wasm.body.contains("not a WebAssembly file"),
        "{}",
        not_wasm.body
    );
    let json_body = send(
        r.addr,
        "PUT",
        "/v1/tenants/acme/actions/broken?trigger=post-login",
        Some(ACME_DEPLOY),
        Some(("application/json", b"{}".to_vec())),
    )
    .await
    .unwrap();
    assert_eq!(json_body.status, 415, "{}", json_body.body);
    let no_trigger = send(
        r.addr,
        "PUT",
        "/v1/tenants/acme/actions/broken",
        Some(ACME_DEPLOY),
        Some(("application/wasm", std::fs::read(guests::CLAIMS).unwrap())),
    )
    .await
    .unwrap();
    assert_eq!(no_trigger.json()["error"]["code"], "no_trigger");
    // Nothing of any of them was stored.
    let versions = r
        .call(
            ACME_READ,
            "GET",
            "/v1/tenants/acme/actions/broken/versions",
            None,
        )
        .await;
    assert_eq!(versions.status, 404, "{}", versions.body);
    // A secret the tenant has is accepted, and a binding of an action never deployed is not.
    let ok = r
        .upload(ACME_DEPLOY, "claims", guests::CLAIMS, "&secrets=key=KEY")
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let bind = r
        .call(
            ACME_DEPLOY,
            "PUT",
            "/v1/tenants/acme/triggers/post-login/bindings",
            Some(&json!({ "actions": ["claims"] })),
        )
        .await;
    assert_eq!(
        bind.json()["error"]["code"],
        "not_deployed",
        "{}",
        bind.body
    );
    let unknown = r.deploy_raw("claims", "000000000000000000000000").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    r.shutdown().await;
}

/// A route, its body, the tokens that may call it and those that may not.
type Route<'a> = (
    &'a str,
    String,
    Option<&'a Value>,
    Vec<&'a str>,
    Vec<&'a str>,
);

#[tokio::test]
async fn every_route_refuses_a_token_of_another_tenant_or_without_the_role() {
    let r = start("scopes", &config("memory:", "")).await;
    r.ship("claims", guests::CLAIMS).await;
    let t = "/v1/tenants/acme/triggers/post-login";
    let event = json!({ "user": { "user_id": "auth0|1" } });
    let bindings = json!({ "actions": ["claims"] });
    let deploy = json!({ "version": "000000000000000000000000" });
    let trial = json!({ "event": event, "dry_run": true });
    // (method, path, body, the tokens that may, the tokens that may not)
    let routes: Vec<Route<'_>> = vec![
        (
            "POST",
            format!("{t}/execute"),
            Some(&event),
            vec![ACME_EXECUTE, OPS],
            vec![ACME_READ, ACME_DEPLOY, GLOBEX_ADMIN],
        ),
        (
            "POST",
            format!("{t}/test"),
            Some(&trial),
            vec![ACME_EXECUTE, OPS],
            vec![ACME_READ, GLOBEX_ADMIN],
        ),
        (
            "GET",
            format!("{t}/cache"),
            None,
            vec![ACME_READ, OPS],
            vec![ACME_EXECUTE, ACME_DEPLOY, GLOBEX_ADMIN],
        ),
        (
            "DELETE",
            format!("{t}/cache/some-key"),
            None,
            vec![OPS],
            vec![ACME_READ, ACME_DEPLOY, ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "DELETE",
            format!("{t}/cache"),
            None,
            vec![OPS],
            vec![ACME_READ, ACME_DEPLOY, ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "GET",
            format!("{t}/bindings"),
            None,
            vec![ACME_READ, OPS],
            vec![ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "PUT",
            format!("{t}/bindings"),
            Some(&bindings),
            vec![ACME_DEPLOY, OPS],
            vec![ACME_READ, ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "GET",
            "/v1/tenants/acme/actions".into(),
            None,
            vec![ACME_READ, OPS],
            vec![ACME_DEPLOY, GLOBEX_ADMIN],
        ),
        (
            "GET",
            "/v1/tenants/acme/actions/claims/versions".into(),
            None,
            vec![ACME_READ, OPS],
            vec![ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "POST",
            "/v1/tenants/acme/actions/claims/deploy".into(),
            Some(&deploy),
            vec![ACME_DEPLOY, OPS],
            vec![ACME_READ, ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "PUT",
            "/v1/tenants/acme/actions/claims?trigger=post-login".into(),
            None,
            vec![],
            vec![ACME_READ, ACME_EXECUTE, GLOBEX_ADMIN],
        ),
        (
            "POST",
            "/v1/admin/reload".into(),
            None,
            vec![OPS],
            vec![GLOBEX_ADMIN, ACME_DEPLOY, ACME_READ],
        ),
    ];
    for (method, path, body, allowed, refused) in &routes {
        for token in refused {
            let reply = r.call(token, method, path, *body).await;
            assert_eq!(
                reply.status, 403,
                "{method} {path} with {token}: {}",
                reply.body
            );
            assert_eq!(reply.json()["error"]["code"], "forbidden");
        }
        for token in allowed {
            let reply = r.call(token, method, path, *body).await;
            assert_ne!(
                reply.status, 403,
                "{method} {path} with {token}: {}",
                reply.body
            );
            assert_ne!(
                reply.status, 401,
                "{method} {path} with {token}: {}",
                reply.body
            );
        }
    }
    // The listing routes need `read`; a tenant spelled with percent-escapes is not the tenant.
    for (token, path) in [
        (ACME_EXECUTE, "/v1/flows"),
        (ACME_DEPLOY, "/metrics"),
        (ACME_EXECUTE, "/v1/console/overview"),
    ] {
        assert_eq!(r.call(token, "GET", path, None).await.status, 403, "{path}");
    }
    let escaped = "/v1/tenants/ac%6De/triggers/post-login/execute";
    let reply = r.call(ACME_EXECUTE, "POST", escaped, Some(&event)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // Lists show a scoped token only its tenants.
    let flows = r.call(GLOBEX_ADMIN, "GET", "/v1/flows", None).await.json();
    assert_eq!(
        flows["flows"],
        json!([]),
        "globex sees none of acme's flows"
    );
    let flows = r.call(ACME_READ, "GET", "/v1/flows", None).await.json();
    assert_eq!(flows["flows"][0]["tenant"], "acme");
    assert_eq!(flows["flows"][0]["source"], "deployed");
    let overview = r
        .call(GLOBEX_ADMIN, "GET", "/v1/console/overview", None)
        .await
        .json();
    assert_eq!(overview["partitions"], json!([]));
    assert_eq!(overview["egress"], Value::Null);
    let metrics = r.call(GLOBEX_ADMIN, "GET", "/metrics", None).await;
    assert_eq!(metrics.status, 200);
    assert!(!metrics.body.contains("acme"), "{}", metrics.body);
    let metrics = r.call(ACME_READ, "GET", "/metrics", None).await;
    assert!(metrics.body.contains("tenant=\"acme\""), "{}", metrics.body);
    let all = r.call(OPS, "GET", "/metrics", None).await;
    assert!(all.body.len() > metrics.body.len());
    // No token, and a wrong one: 401 as before.
    let none = request(r.addr, "GET", "/v1/flows", None, None)
        .await
        .unwrap();
    assert_eq!(none.status, 401);
    let wrong = r
        .call("not-a-token-0123456789", "GET", "/v1/flows", None)
        .await;
    assert_eq!(wrong.status, 401);
    r.shutdown().await;
}

#[tokio::test]
async fn deployed_actions_survive_a_restart_on_the_snapshot_file_store() {
    let dir = test_dir("restart");
    let store = format!("file:{}", dir.join("cache.json").display());
    let mut first = start_in(dir.clone(), &config(&store, "")).await;
    first.keep_dir = true;
    let version = first.ship("claims", guests::CLAIMS).await;
    first.serves(CLAIMS_CLAIM).await;
    first.shutdown().await;
    let kept = dir.join("cache.json.deployments/state.json");
    assert!(
        kept.is_file(),
        "{} missing; {:?}",
        kept.display(),
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect::<Vec<_>>()
    );

    let second = start_in(dir, &config(&store, "")).await;
    second.serves(CLAIMS_CLAIM).await;
    let versions = second
        .call(
            ACME_READ,
            "GET",
            "/v1/tenants/acme/actions/claims/versions",
            None,
        )
        .await
        .json();
    assert_eq!(versions["deployed"]["version"], version.as_str());
    second.shutdown().await;
}

#[tokio::test]
async fn a_deployed_javascript_action_runs_and_its_binding_wins_over_the_config_file_s_flow() {
    // The config file binds `counter` to acme's post-login; the deployed binding replaces it.
    let configured = format!(
        "[[actions]]\ntenant = \"acme\"\ntrigger = \"post-login\"\nname = \"counter\"\npath = {:?}\n",
        guests::COUNTER
    );
    let r = start("javascript", &config("memory:", &configured)).await;
    r.serves(COUNTER_CLAIM).await;
    let flows = r.call(OPS, "GET", "/v1/flows", None).await.json();
    assert_eq!(flows["flows"][0]["source"], "config");
    let reply = r
        .upload(
            ACME_DEPLOY,
            "claims-js",
            guests::JS_CLAIMS,
            "&language=javascript",
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["version"]["language"], "javascript");
    let version = reply.json()["version"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    r.deploy("claims-js", &version).await;
    let bind = r
        .call(
            ACME_DEPLOY,
            "PUT",
            "/v1/tenants/acme/triggers/post-login/bindings",
            Some(&json!({ "actions": ["claims-js"] })),
        )
        .await;
    assert_eq!(bind.status, 200, "{}", bind.body);
    // Applied on this replica before the answer: the very next execution runs it.
    let reply = r.execute().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("https://cachet.example/entitlements"),
        "{}",
        reply.body
    );
    let flows = r.call(OPS, "GET", "/v1/flows", None).await.json();
    assert_eq!(flows["flows"][0]["source"], "deployed");
    assert_eq!(flows["flows"][0]["actions"][0]["name"], "claims-js");
    // Unbinding gives the config file's flow back.
    let unbind = r
        .call(
            ACME_DEPLOY,
            "PUT",
            "/v1/tenants/acme/triggers/post-login/bindings",
            Some(&json!({ "actions": [] })),
        )
        .await;
    assert_eq!(unbind.status, 200, "{}", unbind.body);
    r.serves(COUNTER_CLAIM).await;
    r.shutdown().await;
}
