//! Hostile test action: panics. The host must report a trap with the panic in the logs.

fn on_execute(
    event: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    panic!("deliberate panic for user {}", event.user.user_id);
}

cachet_guest::post_login!(on_execute);
