//! post-login's `api` (Auth0's PostLoginAPI), method by method, as Auth0's reference documents
//! each: what it accepts, and the command it records. `cache` is its own interface;
//! `redirect.*` is in `redirect.rs`.

use serde_json::{Map, Value};

use super::common::{
    add_target_scope, clear_target_scopes, remove_target_scope, set_access_token_claim,
    set_app_metadata, set_target_scopes, set_user_metadata,
};
use super::pre_user_registration::validation_error;
use super::{Call, Method, redirect};
use crate::interfaces::commands::CallRefused;
use crate::result::Command;

/// Factor types a challenge accepts.
const CHALLENGE_FACTORS: &[&str] = &[
    "otp",
    "email",
    "phone",
    "push-notification",
    "webauthn-platform",
    "webauthn-roaming",
    "recovery-code",
];

/// Factor types an enrollment accepts (Auth0 does not enroll `email`).
const ENROLL_FACTORS: &[&str] = &[
    "otp",
    "phone",
    "push",
    "push-notification",
    "webauthn-platform",
    "webauthn-roaming",
    "recovery-code",
];

/// `multifactor.enable`'s providers.
const MFA_PROVIDERS: &[&str] = &["any", "duo", "google-authenticator", "guardian", "none"];

/// The longest metadata key or value of a session or refresh token (Auth0: 256 characters).
const MAX_TOKEN_METADATA_CHARS: usize = 256;

/// Every method, in the order of Auth0's reference.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "access.deny",
        run: deny,
    },
    Method {
        name: "accessToken.setCustomClaim",
        run: set_access_token_claim,
    },
    Method {
        name: "accessToken.addScope",
        run: add_scope,
    },
    Method {
        name: "accessToken.removeScope",
        run: remove_scope,
    },
    Method {
        name: "authentication.challengeWith",
        run: challenge_with,
    },
    Method {
        name: "authentication.challengeWithAny",
        run: challenge_with_any,
    },
    Method {
        name: "authentication.enrollWith",
        run: enroll_with,
    },
    Method {
        name: "authentication.enrollWithAny",
        run: enroll_with_any,
    },
    Method {
        name: "authentication.recordMethod",
        run: record_method,
    },
    Method {
        name: "authentication.setPrimaryUser",
        run: set_primary_user,
    },
    Method {
        name: "idToken.setCustomClaim",
        run: set_id_token_claim,
    },
    Method {
        name: "multifactor.enable",
        run: enable_multifactor,
    },
    Method {
        name: "prompt.render",
        run: render_prompt,
    },
    Method {
        name: "redirect.canRedirect",
        run: redirect::can_redirect,
    },
    Method {
        name: "redirect.encodeToken",
        run: redirect::encode_token,
    },
    Method {
        name: "redirect.sendUserTo",
        run: redirect::send_user_to,
    },
    Method {
        name: "redirect.validateToken",
        run: redirect::validate_token,
    },
    Method {
        name: "refreshToken.revoke",
        run: revoke_refresh_token,
    },
    Method {
        name: "refreshToken.setExpiresAt",
        run: |call| {
            let expires_at = call.millis(0, "the expiry")?;
            call.record(Command::SetRefreshTokenExpiresAt { expires_at })
        },
    },
    Method {
        name: "refreshToken.setIdleExpiresAt",
        run: |call| {
            let idle_expires_at = call.millis(0, "the idle expiry")?;
            call.record(Command::SetRefreshTokenIdleExpiresAt { idle_expires_at })
        },
    },
    Method {
        name: "refreshToken.setMetadata",
        run: |call| {
            let (key, value) = token_metadata(call)?;
            call.record(Command::SetRefreshTokenMetadata { key, value })
        },
    },
    Method {
        name: "refreshToken.deleteMetadata",
        run: |call| {
            let key = metadata_key(call)?;
            call.record(Command::DeleteRefreshTokenMetadata { key })
        },
    },
    Method {
        name: "refreshToken.evictMetadata",
        run: |call| call.record(Command::EvictRefreshTokenMetadata),
    },
    Method {
        name: "rules.wasExecuted",
        run: rules_was_executed,
    },
    Method {
        name: "samlResponse.setAttribute",
        run: set_saml_attribute,
    },
    Method {
        name: "samlResponse.setAudience",
        run: |call| saml(call, "audience", Kind::Text),
    },
    Method {
        name: "samlResponse.setRecipient",
        run: |call| saml(call, "recipient", Kind::Text),
    },
    Method {
        name: "samlResponse.setCreateUpnClaim",
        run: |call| saml(call, "createUpnClaim", Kind::Flag),
    },
    Method {
        name: "samlResponse.setPassthroughClaimsWithNoMapping",
        run: |call| saml(call, "passthroughClaimsWithNoMapping", Kind::Flag),
    },
    Method {
        name: "samlResponse.setMapUnknownClaimsAsIs",
        run: |call| saml(call, "mapUnknownClaimsAsIs", Kind::Flag),
    },
    Method {
        name: "samlResponse.setMapIdentities",
        run: |call| saml(call, "mapIdentities", Kind::Flag),
    },
    Method {
        name: "samlResponse.setSignatureAlgorithm",
        run: |call| {
            saml(
                call,
                "signatureAlgorithm",
                Kind::OneOf(&["rsa-sha256", "rsa-sha1"]),
            )
        },
    },
    Method {
        name: "samlResponse.setDigestAlgorithm",
        run: |call| saml(call, "digestAlgorithm", Kind::OneOf(&["sha256", "sha1"])),
    },
    Method {
        name: "samlResponse.setDestination",
        run: |call| saml(call, "destination", Kind::Text),
    },
    Method {
        name: "samlResponse.setLifetimeInSeconds",
        run: |call| saml(call, "lifetimeInSeconds", Kind::Seconds),
    },
    Method {
        name: "samlResponse.setSignResponse",
        run: |call| saml(call, "signResponse", Kind::Flag),
    },
    Method {
        name: "samlResponse.setNameIdentifierFormat",
        run: |call| saml(call, "nameIdentifierFormat", Kind::Text),
    },
    Method {
        name: "samlResponse.setNameIdentifierProbes",
        run: |call| saml(call, "nameIdentifierProbes", Kind::TextList),
    },
    Method {
        name: "samlResponse.setAuthnContextClassRef",
        run: |call| saml(call, "authnContextClassRef", Kind::Text),
    },
    Method {
        name: "samlResponse.setSigningCert",
        run: |call| saml(call, "signingCert", Kind::Text),
    },
    Method {
        name: "samlResponse.setIncludeAttributeNameFormat",
        run: |call| saml(call, "includeAttributeNameFormat", Kind::Flag),
    },
    Method {
        name: "samlResponse.setTypedAttributes",
        run: |call| saml(call, "typedAttributes", Kind::Flag),
    },
    Method {
        name: "samlResponse.setEncryptionCert",
        run: |call| saml(call, "encryptionCert", Kind::Text),
    },
    Method {
        name: "samlResponse.setEncryptionPublicKey",
        run: |call| saml(call, "encryptionPublicKey", Kind::Text),
    },
    Method {
        name: "samlResponse.setCert",
        run: |call| saml(call, "cert", Kind::Text),
    },
    Method {
        name: "samlResponse.setKey",
        run: |call| saml(call, "key", Kind::Text),
    },
    Method {
        name: "samlResponse.setRelayState",
        run: |call| saml(call, "relayState", Kind::Text),
    },
    Method {
        name: "samlResponse.setIssuer",
        run: |call| saml(call, "issuer", Kind::Text),
    },
    Method {
        name: "samlResponse.setEncryptionAlgorithm",
        run: |call| {
            saml(
                call,
                "encryptionAlgorithm",
                Kind::OneOf(&["aes256-gcm", "aes256-cbc"]),
            )
        },
    },
    Method {
        name: "session.revoke",
        run: revoke_session,
    },
    Method {
        name: "session.setExpiresAt",
        run: |call| {
            let expires_at = call.millis(0, "the expiry")?;
            call.record(Command::SetSessionExpiresAt { expires_at })
        },
    },
    Method {
        name: "session.setIdleExpiresAt",
        run: |call| {
            let idle_expires_at = call.millis(0, "the idle expiry")?;
            call.record(Command::SetSessionIdleExpiresAt { idle_expires_at })
        },
    },
    Method {
        name: "session.setCookieMode",
        run: |call| {
            let mode = call.one_of(0, "the cookie mode", &["persistent", "non-persistent"])?;
            call.record(Command::SetSessionCookieMode { mode })
        },
    },
    Method {
        name: "session.setMetadata",
        run: |call| {
            let (key, value) = token_metadata(call)?;
            call.record(Command::SetSessionMetadata { key, value })
        },
    },
    Method {
        name: "session.deleteMetadata",
        run: |call| {
            let key = metadata_key(call)?;
            call.record(Command::DeleteSessionMetadata { key })
        },
    },
    Method {
        name: "session.evictMetadata",
        run: |call| call.record(Command::EvictSessionMetadata),
    },
    Method {
        name: "transaction.setMetadata",
        run: set_transaction_metadata,
    },
    Method {
        name: "transaction.addTargetScope",
        run: add_target_scope,
    },
    Method {
        name: "transaction.removeTargetScope",
        run: remove_target_scope,
    },
    Method {
        name: "transaction.setTargetScopes",
        run: set_target_scopes,
    },
    Method {
        name: "transaction.clearTargetScopes",
        run: clear_target_scopes,
    },
    Method {
        name: "user.setAppMetadata",
        run: set_app_metadata,
    },
    Method {
        name: "user.setUserMetadata",
        run: set_user_metadata,
    },
    Method {
        name: "validation.error",
        run: validation_error,
    },
];

/// `access.deny(reason)`: the login is refused; the flow stops after this action.
pub(crate) fn deny(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let reason = call.string(0, "the reason")?;
    call.record(Command::Deny {
        code: None,
        reason,
        user_message: None,
    })
}

fn add_scope(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let scope = call.name(0, "scope")?;
    call.record(Command::AddAccessTokenScope { scope })
}

fn remove_scope(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let scope = call.name(0, "scope")?;
    call.record(Command::RemoveAccessTokenScope { scope })
}

fn set_id_token_claim(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let name = call.name(0, "claim")?;
    let value = call.take(1);
    call.record(Command::SetIdTokenClaim { name, value })
}

/// `options.additionalFactors` of `challengeWith` and `enrollWith`.
fn additional_factors(
    call: &Call<'_>,
    allowed: &[&str],
) -> Result<Vec<crate::result::Factor>, CallRefused> {
    let options = call.options(1, "the options")?;
    match options.get("additionalFactors") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(list) => call.factors(list, "options.additionalFactors", allowed),
    }
}

pub(crate) fn challenge_with(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let factor = call.factor(call.arg(0), "the factor", CHALLENGE_FACTORS)?;
    let additional_factors = additional_factors(call, CHALLENGE_FACTORS)?;
    call.record(Command::ChallengeWith {
        factor,
        additional_factors,
    })
}

pub(crate) fn challenge_with_any(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let factors = call.factors(call.arg(0), "the factors", CHALLENGE_FACTORS)?;
    if factors.is_empty() {
        return Err(call.bad("the factors must not be empty"));
    }
    call.record(Command::ChallengeWithAny { factors })
}

fn enroll_with(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let factor = call.factor(call.arg(0), "the factor", ENROLL_FACTORS)?;
    let additional_factors = additional_factors(call, ENROLL_FACTORS)?;
    call.record(Command::EnrollWith {
        factor,
        additional_factors,
    })
}

fn enroll_with_any(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let factors = call.factors(call.arg(0), "the factors", ENROLL_FACTORS)?;
    if factors.is_empty() {
        return Err(call.bad("the factors must not be empty"));
    }
    call.record(Command::EnrollWithAny { factors })
}

/// `authentication.recordMethod(url)`: Auth0 allows it only in `onContinuePostLogin`, when
/// the user is back from the custom method's page.
fn record_method(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let provider_url = call.string(0, "the provider URL")?;
    if !call.commands.continuing {
        return Err(CallRefused::NotHere {
            message: "authentication.recordMethod can only be called in onContinuePostLogin, \
                      when the user is back from a redirect (api.redirect.sendUserTo)"
                .into(),
        });
    }
    if url::Url::parse(&provider_url).is_err() {
        return Err(call.bad("the provider URL must be an absolute URL"));
    }
    call.record(Command::RecordMethod { provider_url })
}

fn set_primary_user(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let user_id = call.name(0, "the primary user id")?;
    call.record(Command::SetPrimaryUser { user_id })
}

/// `multifactor.enable(provider, { allowRememberBrowser?, providerOptions? })`.
fn enable_multifactor(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let provider = call.one_of(0, "the provider", MFA_PROVIDERS)?;
    let options = call.options(1, "the options")?;
    let allow_remember_browser = match options.get("allowRememberBrowser") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(call.bad("options.allowRememberBrowser must be a boolean")),
    };
    let provider_options = match options.get("providerOptions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p.clone()),
        Some(_) => return Err(call.bad("options.providerOptions must be an object")),
    };
    if provider == "duo" {
        // Duo cannot be reached without its account's host and keys.
        let p = provider_options.as_ref();
        for field in ["host", "ikey", "skey"] {
            let given = p
                .and_then(|p| p.get(field))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !given {
                return Err(call.bad(format!(
                    "the duo provider needs options.providerOptions.{field} (a string from your \
                     Duo account; keep the keys in event.secrets)"
                )));
            }
        }
    }
    call.record(Command::EnableMultifactor {
        provider,
        allow_remember_browser,
        provider_options: provider_options.map(Value::Object),
    })
}

/// `prompt.render(promptId, { fields?, vars? })`: one form per action.
fn render_prompt(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let prompt_id = call.name(0, "the prompt id")?;
    let options = call.options(1, "the prompt options")?;
    let part = |name: &str| -> Result<Option<Value>, CallRefused> {
        match options.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Value::Object(map.clone()))),
            Some(_) => Err(call.bad(format!("options.{name} must be an object"))),
        }
    };
    let (fields, vars) = (part("fields")?, part("vars")?);
    if call.recorded(|c| matches!(c, Command::RenderPrompt { .. })) {
        return Err(CallRefused::NotHere {
            message: "an action can render one form: prompt.render was already called".into(),
        });
    }
    call.record(Command::RenderPrompt {
        prompt_id,
        fields,
        vars,
    })
}

fn revoke_refresh_token(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let reason = call.string(0, "the reason")?;
    call.record(Command::RevokeRefreshToken { reason })
}

/// The key of a session's or refresh token's metadata (at most 256 characters).
fn metadata_key(call: &Call<'_>) -> Result<String, CallRefused> {
    let key = call.name(0, "metadata key")?;
    if key.chars().count() > MAX_TOKEN_METADATA_CHARS {
        return Err(call.bad(format!(
            "a metadata key has at most {MAX_TOKEN_METADATA_CHARS} characters"
        )));
    }
    Ok(key)
}

/// `setMetadata(key, value)` of a session or refresh token: a string of at most 256
/// characters, or `null` to remove the key.
fn token_metadata(call: &mut Call<'_>) -> Result<(String, Value), CallRefused> {
    let key = metadata_key(call)?;
    match call.arg(1) {
        Value::Null => Ok((key, Value::Null)),
        Value::String(s) if s.chars().count() <= MAX_TOKEN_METADATA_CHARS => {
            Ok((key, call.take(1)))
        }
        Value::String(_) => Err(call.bad(format!(
            "a metadata value has at most {MAX_TOKEN_METADATA_CHARS} characters"
        ))),
        _ => Err(call.bad("a metadata value must be a string (or null to remove the key)")),
    }
}

/// `rules.wasExecuted(ruleId)`: whether a Rule ran earlier in this transaction. Cachet runs
/// no Rules, so none has.
fn rules_was_executed(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let _ = call.string(0, "the rule id")?;
    Ok(Value::Bool(false))
}

/// `samlResponse.setAttribute(attribute, value)`: a string, number, boolean, array, or
/// `null` to remove the attribute.
fn set_saml_attribute(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let attribute = call.name(0, "the attribute")?;
    if call.arg(1).is_object() {
        return Err(call.bad(
            "a SAML attribute's value must be a string, number, boolean, array or null, not an \
             object",
        ));
    }
    let value = call.take(1);
    call.record(Command::SetSamlAttribute { attribute, value })
}

/// What a SAML setter takes.
enum Kind {
    /// A string.
    Text,
    /// A boolean.
    Flag,
    /// A positive whole number of seconds.
    Seconds,
    /// An array of strings.
    TextList,
    /// One of these strings.
    OneOf(&'static [&'static str]),
}

/// A `samlResponse.setX(value)` setter.
fn saml(call: &mut Call<'_>, property: &'static str, kind: Kind) -> Result<Value, CallRefused> {
    let value = call.arg(0);
    let ok = match kind {
        Kind::Text => value.is_string(),
        Kind::Flag => value.is_boolean(),
        Kind::Seconds => value.as_u64().is_some_and(|n| n > 0),
        Kind::TextList => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::OneOf(allowed) => {
            let choice = call.one_of(0, property, allowed)?;
            return call.record(Command::SetSamlProperty {
                property: property.into(),
                value: Value::String(choice),
            });
        }
    };
    if !ok {
        let wanted = match kind {
            Kind::Text => "a string",
            Kind::Flag => "a boolean",
            Kind::Seconds => "a positive whole number of seconds",
            Kind::TextList => "an array of strings",
            Kind::OneOf(_) => unreachable!("handled above"),
        };
        return Err(call.bad(format!("{property} must be {wanted}")));
    }
    let value = call.take(0);
    call.record(Command::SetSamlProperty {
        property: property.into(),
        value,
    })
}

/// `session.revoke(reason, { preserveRefreshTokens? })`: denies the login too.
fn revoke_session(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let reason = call.string(0, "the reason")?;
    let options: Map<String, Value> = call.options(1, "the options")?;
    let preserve_refresh_tokens = match options.get("preserveRefreshTokens") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(call.bad("options.preserveRefreshTokens must be a boolean")),
    };
    call.record(Command::RevokeSession {
        reason,
        preserve_refresh_tokens,
    })
}

/// `transaction.setMetadata(key, value)`: a string, number or boolean, or `null` to remove.
fn set_transaction_metadata(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let key = call.name(0, "metadata key")?;
    if matches!(call.arg(1), Value::Array(_) | Value::Object(_)) {
        return Err(call.bad(
            "transaction metadata values are strings, numbers or booleans (or null to remove \
             the key)",
        ));
    }
    let value = call.take(1);
    call.record(Command::SetTransactionMetadata { key, value })
}
