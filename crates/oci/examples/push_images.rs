//! Pushes N small single-layer images (`REGISTRY/bench/app-<i>:v1`) for benchmarks.
//!
//! ```text
//! cargo run --release -p sigil-oci --example push_images -- 127.0.0.1:5000 100
//! ```

use sigil_oci::{ImageRef, Layer, Registry, RegistryOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or("usage: push_images REGISTRY N")?;
    let n: usize = args
        .next()
        .ok_or("usage: push_images REGISTRY N")?
        .parse()?;
    let registry = Registry::new(&RegistryOptions::default())?;
    for i in 0..n {
        let image = ImageRef::parse(&format!("{addr}/bench/app-{i}:v1"))?;
        let layer = format!("layer of image {i}").into_bytes();
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sigil_oci::manifest::sha256_digest(&layer)
        );
        registry.push_image(
            &image,
            &[Layer {
                data: layer,
                media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            }],
            config.as_bytes(),
            sigil_oci::manifest::OCI_CONFIG,
        )?;
        println!("{image}");
    }
    Ok(())
}
