//! Links the `sigil` executable without PIE on Linux (glibc), unless `SIGIL_PIE=1` is set at
//! build time.
//!
//! A PIE `sigil` carries ~39,000 relative relocations; the dynamic loader applies them at every
//! start and so writes every page of the 650 KB of `.data.rel.ro` and `.got`: 150 of a one-shot
//! verification's 330 page faults, 0.3–0.4 ms of its 1.8 ms (docs/benchmarks.md). Linked without
//! PIE, the linker resolves them once and the binary starts with none. The price is that the
//! executable's own code and data sit at fixed addresses (the heap, the stack, the shared
//! libraries and mappings stay randomised); `scripts/build-release` makes the same choice, as do
//! Go's default linux/amd64 executables. Build with `SIGIL_PIE=1` to keep PIE.

fn main() {
    println!("cargo:rerun-if-env-changed=SIGIL_PIE");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let arch_ok = matches!(var("CARGO_CFG_TARGET_ARCH").as_str(), "x86_64" | "aarch64");
    if linux_gnu && arch_ok && var("SIGIL_PIE") != "1" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
