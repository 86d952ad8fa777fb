//! Test action: calls every method of post-login's `api` once, in the order of Auth0's
//! reference, through the typed SDK (`tests/js/login-tour.js` makes the same calls in
//! JavaScript, so both must record the same commands). `request.query.end` names the method
//! that ends the flow: `deny`, `validation`, `session` or `refresh`; none by default.

use cachet_guest::{Factor, MultifactorOptions, PostLoginApi, PostLoginEvent};
use serde_json::json;

fn on_execute(event: &PostLoginEvent, api: &PostLoginApi) -> Result<(), cachet_guest::Error> {
    api.access_token()
        .set_custom_claim("https://tour/plan", &"gold")?;
    api.access_token().add_scope("read:tour")?;
    api.access_token().remove_scope("write:tour")?;
    let auth = api.authentication();
    let otp = Factor::new("otp");
    let phone = Factor::new("phone").with_options(json!({ "preferredMethod": "sms" }));
    auth.challenge_with(&otp, std::slice::from_ref(&phone))?;
    auth.challenge_with_any(&[otp.clone(), Factor::new("email")])?;
    auth.enroll_with(&Factor::new("webauthn-platform"), &[])?;
    auth.enroll_with_any(&[
        Factor::new("push-notification"),
        Factor::new("recovery-code"),
    ])?;
    auth.set_primary_user("auth0|primary")?;
    api.id_token().set_custom_claim("https://tour/id", &1)?;
    api.multifactor().enable(
        "duo",
        &MultifactorOptions {
            allow_remember_browser: true,
            provider_options: Some(
                json!({ "host": "api-1.duo.example", "ikey": "DI1", "skey": "k" }),
            ),
        },
    )?;
    api.prompt().render(
        "form-1",
        Some(&json!({ "name": "Ada" })),
        Some(&json!({ "step": 2 })),
    )?;
    let refresh = api.refresh_token();
    refresh.set_expires_at(1_800_000_000_000)?;
    refresh.set_idle_expires_at(1_700_100_000_000)?;
    refresh.set_metadata("device", Some("laptop"))?;
    refresh.delete_metadata("old")?;
    refresh.evict_metadata()?;
    let ran = api.rules().was_executed("rul_1")?;
    api.id_token()
        .set_custom_claim("https://tour/rule-ran", &ran)?;
    let saml = api.saml_response();
    saml.set_attribute("http://schemas.example/role", &json!(["admin", "dev"]))?;
    saml.set_audience("urn:audience")?;
    saml.set_recipient("https://sp.example/acs")?;
    saml.set_create_upn_claim(false)?;
    saml.set_passthrough_claims_with_no_mapping(false)?;
    saml.set_map_unknown_claims_as_is(true)?;
    saml.set_map_identities(false)?;
    saml.set_signature_algorithm("rsa-sha256")?;
    saml.set_digest_algorithm("sha256")?;
    saml.set_destination("https://sp.example/dest")?;
    saml.set_lifetime_in_seconds(600)?;
    saml.set_sign_response(true)?;
    saml.set_name_identifier_format("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")?;
    saml.set_name_identifier_probes(&["http://schemas.example/email"])?;
    saml.set_authn_context_class_ref("urn:oasis:names:tc:SAML:2.0:ac:classes:Password")?;
    saml.set_signing_cert("-----BEGIN CERTIFICATE-----signing")?;
    saml.set_include_attribute_name_format(false)?;
    saml.set_typed_attributes(false)?;
    saml.set_encryption_cert("-----BEGIN CERTIFICATE-----enc")?;
    saml.set_encryption_public_key("-----BEGIN PUBLIC KEY-----enc")?;
    saml.set_cert("-----BEGIN CERTIFICATE-----own")?;
    saml.set_key("-----BEGIN PRIVATE KEY-----own")?;
    saml.set_relay_state("relay")?;
    saml.set_issuer("urn:tour")?;
    saml.set_encryption_algorithm("aes256-gcm")?;
    let session = api.session();
    session.set_expires_at(1_800_000_000_000)?;
    session.set_idle_expires_at(1_700_100_000_000)?;
    session.set_cookie_mode("non-persistent")?;
    session.set_metadata("seen", Some("yes"))?;
    session.set_metadata("gone", None)?;
    session.delete_metadata("old")?;
    session.evict_metadata()?;
    let tx = api.transaction();
    tx.set_metadata("step", &2)?;
    tx.add_target_scope("read:a")?;
    tx.remove_target_scope("read:b")?;
    tx.set_target_scopes(&["read:a", "read:c"])?;
    tx.clear_target_scopes()?;
    api.user().set_app_metadata("plan", &"gold")?;
    api.user().set_user_metadata("theme", &json!(null))?;

    match event.request.query.get("end").and_then(|v| v.as_str()) {
        Some("deny") => api.access().deny("denied by the tour")?,
        Some("validation") => api.validation().error("E_TOUR", "invalid by the tour")?,
        Some("session") => api.session().revoke("revoked by the tour", true)?,
        Some("refresh") => api.refresh_token().revoke("refresh revoked by the tour")?,
        _ => {}
    }
    Ok(())
}

cachet_guest::post_login!(on_execute);
