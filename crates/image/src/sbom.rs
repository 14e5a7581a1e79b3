//! Registry access for SBOM scans of `registry:` images: `sigil-sbom` reads no network itself
//! and asks through its `ImageRegistry` trait, which this adapter implements over `sigil-oci`'s
//! client (its errors stay `RegistryError`s, so callers keep their exit codes).

use sigil_oci::{ImageRef, Registry, RegistryError};
use sigil_sbom::{ImageRegistry, RegistryFailure};

/// `sigil-oci`'s client as an SBOM scan's registry.
pub struct RegistryImages<'a>(pub &'a Registry);

impl ImageRegistry for RegistryImages<'_> {
    fn manifest(
        &self,
        image: &str,
        reference: &str,
    ) -> Result<(String, sigil_formats::oci::Manifest), RegistryFailure> {
        let parsed = ImageRef::parse(image)?;
        let m = self
            .0
            .get_manifest((&parsed).into(), reference)?
            .ok_or_else(|| RegistryError::NoSuchImage {
                image: image.to_owned(),
            })?;
        Ok((m.digest, m.manifest))
    }

    fn blob(
        &self,
        image: &str,
        digest: &str,
    ) -> Result<Box<dyn std::io::Read + '_>, RegistryFailure> {
        let parsed = ImageRef::parse(image)?;
        Ok(Box::new(self.0.blob_reader((&parsed).into(), digest)?))
    }
}
