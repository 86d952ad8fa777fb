//! Hostile test action: allocates 1 MiB blocks and keeps them until memory runs out. The host
//! must refuse to grow memory past the per-instance limit.

fn on_execute(
    _: &cachet_guest::PostLoginEvent,
    _: &cachet_guest::PostLoginApi,
) -> Result<(), cachet_guest::Error> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

cachet_guest::post_login!(on_execute);
