//! custom-token-exchange's `api` (Auth0's CustomTokenExchangeAPI, Early Access at Auth0): set
//! the user the exchange issues tokens for (by id, or by connection with attributes), the
//! organization and the actor; refuse the exchange; set the user's metadata.

use serde_json::{Map, Value};

use super::common::{deny_with_code, set_app_metadata, set_user_metadata};
use super::{Call, Method};
use crate::interfaces::commands::CallRefused;
use crate::result::Command;

/// How deep an actor chain may go (`act` inside `act`): Auth0 allows 5 actors.
const MAX_ACTORS: usize = 5;

/// `setUserByConnection`'s attributes, as Auth0 lists them.
const USER_ATTRIBUTES: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "family_name",
    "given_name",
    "name",
    "nickname",
    "phone_number",
    "phone_verified",
    "picture",
    "username",
    "verify_email",
];

/// Every method.
pub(crate) static METHODS: &[Method] = &[
    Method {
        name: "access.deny",
        run: deny,
    },
    Method {
        name: "access.rejectInvalidSubjectToken",
        run: |call| {
            let reason = call.string(0, "the reason")?;
            call.record(Command::RejectInvalidSubjectToken { reason })
        },
    },
    Method {
        name: "authentication.setUserById",
        run: |call| {
            let user_id = call.name(0, "the user id")?;
            one_user(call)?;
            call.record(Command::SetUserById { user_id })
        },
    },
    Method {
        name: "authentication.setUserByConnection",
        run: set_user_by_connection,
    },
    Method {
        name: "authentication.setOrganization",
        run: |call| {
            let organization = call.name(0, "the organization")?;
            call.record(Command::SetOrganization { organization })
        },
    },
    Method {
        name: "authentication.setActor",
        run: set_actor,
    },
    Method {
        name: "user.setAppMetadata",
        run: set_app_metadata,
    },
    Method {
        name: "user.setUserMetadata",
        run: set_user_metadata,
    },
];

/// `access.deny(code, reason)`: `invalid_request`, `server_error` or a code of the action's own.
fn deny(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    deny_with_code(call, None)
}

/// Exactly one of `setUserById` and `setUserByConnection` may be called.
fn one_user(call: &Call<'_>) -> Result<(), CallRefused> {
    if call.recorded(|c| {
        matches!(
            c,
            Command::SetUserById { .. } | Command::SetUserByConnection { .. }
        )
    }) {
        return Err(CallRefused::NotHere {
            message: "the user is already set: call setUserById or setUserByConnection once".into(),
        });
    }
    Ok(())
}

/// `setUserByConnection(connectionName, userAttributes, options)`.
fn set_user_by_connection(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let connection = call.name(0, "the connection name")?;
    let Value::Object(attributes) = call.arg(1) else {
        return Err(call.bad("the user attributes must be an object with a user_id"));
    };
    let has_id = attributes
        .get("user_id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.is_empty());
    if !has_id {
        return Err(call.bad("the user attributes need user_id (the user's id in the connection)"));
    }
    if let Some(unknown) = attributes
        .keys()
        .find(|k| !USER_ATTRIBUTES.contains(&k.as_str()))
    {
        return Err(call.bad(format!(
            "`{unknown}` is not a user attribute; use {}",
            USER_ATTRIBUTES.join(", ")
        )));
    }
    let attributes = attributes.clone();
    let options: Map<String, Value> = call.options(2, "the options")?;
    let behaviour = |name: &str, allowed: &[&str]| -> Result<String, CallRefused> {
        match options.get(name).and_then(Value::as_str) {
            Some(v) if allowed.contains(&v) => Ok(v.to_owned()),
            _ => Err(call.bad(format!(
                "options.{name} must be one of {}",
                allowed.join(", ")
            ))),
        }
    };
    let creation_behavior = behaviour("creationBehavior", &["create_if_not_exists", "none"])?;
    let update_behavior = behaviour("updateBehavior", &["none", "replace"])?;
    one_user(call)?;
    call.record(Command::SetUserByConnection {
        connection,
        user_attributes: Value::Object(attributes),
        creation_behavior,
        update_behavior,
    })
}

/// `setActor({ sub, act? })`: at most 5 actors deep, each with a `sub`.
fn set_actor(call: &mut Call<'_>) -> Result<Value, CallRefused> {
    let mut depth = 0;
    let mut at = call.arg(0);
    loop {
        let Value::Object(actor) = at else {
            return Err(call.bad("an actor must be an object { sub, act? }"));
        };
        if !actor.get("sub").is_some_and(Value::is_string) {
            return Err(call.bad("each actor needs a `sub` string"));
        }
        depth += 1;
        if depth > MAX_ACTORS {
            return Err(call.bad(format!("at most {MAX_ACTORS} actors may be chained")));
        }
        match actor.get("act") {
            None | Some(Value::Null) => break,
            Some(next) => at = next,
        }
    }
    let actor = call.take(0);
    call.record(Command::SetActor { actor })
}
