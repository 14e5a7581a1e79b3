//! Against a real registry: push, resolve, the errors that must stay apart.

#[path = "../../../tests/support/registry.rs"]
mod registry;

use sigil_oci::{ImageRef, Layer, Registry, RegistryError, RegistryOptions};

fn http() -> Registry {
    Registry::new(&RegistryOptions {
        allow_http: true,
        ..Default::default()
    })
    .unwrap()
}

fn push_sample(reg: &Registry, image: &ImageRef, content: &[u8]) -> String {
    let layer = Layer {
        data: content.to_vec(),
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
    };
    reg.push_image(
        image,
        &[layer],
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    )
    .unwrap()
}

#[test]
fn resolve_tags_and_digests() {
    let r = registry::TestRegistry::start();
    let reg = http();
    let image = ImageRef::parse(&format!("{}/team/app:v1", r.addr)).unwrap();
    let digest = push_sample(&reg, &image, b"layer one");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(reg.resolve(&image).unwrap(), digest);
    // By digest, too.
    let pinned = ImageRef::parse(&image.with_digest(&digest)).unwrap();
    assert_eq!(reg.resolve(&pinned).unwrap(), digest);
    // Moving the tag changes what it resolves to.
    let moved = push_sample(&reg, &image, b"layer two");
    assert_ne!(moved, digest);
    assert_eq!(reg.resolve(&image).unwrap(), moved);
}

#[test]
fn missing_tags_and_unreachable_registries_are_different_errors() {
    let r = registry::TestRegistry::start();
    let reg = http();
    let missing = ImageRef::parse(&format!("{}/team/app:nope", r.addr)).unwrap();
    assert!(
        matches!(
            reg.resolve(&missing),
            Err(RegistryError::NoSuchImage { .. })
        ),
        "{:?}",
        reg.resolve(&missing)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = ImageRef::parse(&format!("127.0.0.1:{closed}/team/app:v1")).unwrap();
    assert!(
        matches!(reg.resolve(&down), Err(RegistryError::Unreachable { .. })),
        "{:?}",
        reg.resolve(&down)
    );
}
