//! Hostile test action: never returns. The host must stop it at the flow deadline.

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

cachet_guest::post_login!(on_execute);
