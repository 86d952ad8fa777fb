//! Test action (pre-user-registration): every call of its API, as `tests/js/signup-tour.js`
//! makes them; `request.body.end` ends the sign-up: `deny` or `validation`.

use cachet_guest::{PreUserRegistrationApi, PreUserRegistrationEvent};

// Shared by the four guests of tests/js/signup-tour.js (outside tests/guests/: not a crate).
include!("../../../guest_helpers/count.rs");

fn on_execute(
    event: &PreUserRegistrationEvent,
    api: &PreUserRegistrationApi,
) -> Result<(), cachet_guest::Error> {
    let n = count(&api.cache(), "signups")?;
    api.user().set_app_metadata("plan", &"trial")?;
    api.user().set_user_metadata("signup_number", &n)?;
    match event.request.body.get("end").and_then(|v| v.as_str()) {
        Some("deny") => api.access().deny(
            &format!(
                "blocked {}",
                event.user.email.as_deref().unwrap_or_default()
            ),
            "Sign-ups from this domain are not allowed",
        )?,
        Some("validation") => api.validation().error("E_SIGNUP", "invalid sign-up")?,
        _ => {}
    }
    Ok(())
}

cachet_guest::pre_user_registration!(on_execute);
