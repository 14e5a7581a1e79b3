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

/// A notification endpoint on loopback: it answers 200 to every POST and hands over each
/// (Content-Type, body) it received.
fn notification_sink() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut ctype) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("content-type:") {
                    ctype = v.trim().to_owned();
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((ctype, body)).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// The real registry's notifications, read by `sigil_formats::registry_events`: a push gives the
/// manifest's digest and repository; the blob pushes before it are dropped.
#[test]
fn real_registry_notifications_name_the_pushed_manifest() {
    let (url, rx) = notification_sink();
    let r = registry::TestRegistry::start_with(&format!(
        "notifications:\n  endpoints:\n    - name: sigil\n      url: {url}\n      headers:\n        Authorization: [\"Bearer t0ken\"]\n      timeout: 2s\n      threshold: 3\n      backoff: 100ms\n"
    ));
    let reg = http();
    let image = ImageRef::parse(&format!("{}/team/app:v1", r.addr)).unwrap();
    let digest = push_sample(&reg, &image, b"notified layer");
    let mut pushes = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while pushes.is_empty() && std::time::Instant::now() < deadline {
        if let Ok((ctype, body)) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            assert!(
                ctype.starts_with(sigil_formats::registry_events::EVENTS_V1),
                "{ctype}"
            );
            pushes.extend(sigil_formats::registry_events::parse(&body).unwrap());
        }
    }
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0].repository, "team/app");
    assert_eq!(pushes[0].digest, digest);
    assert_eq!(pushes[0].tag.as_deref(), Some("v1"));
    assert!(sigil_formats::registry_events::is_manifest(
        &pushes[0].media_type
    ));
    assert!(!pushes[0].event_id.is_empty());
}
